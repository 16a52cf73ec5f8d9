"""Option declarations shared by several commands, so flags stay identical everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

AppNameOption = Annotated[
    str | None,
    typer.Option("--app-name", "-a", help="App name (default: the one *.json config here)."),
]
IamRoleOption = Annotated[
    str | None,
    typer.Option(
        "--iam-role-arn", "-r", help="SageMaker execution role ARN (default: $SAGEMAKER_ROLE)."
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", help="Environment variable KEY=VALUE for the container (repeatable)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of plain lines.")]
HyperparametersOption = Annotated[
    list[str] | None,
    typer.Option(
        "--hyperparameters",
        "--hp",
        help="Hyperparameter KEY=VALUE, or @file.json (a JSON object); repeatable.",
    ),
]
HyperparametersFileOption = Annotated[
    Path | None,
    typer.Option(
        "--hyperparameters-file",
        help="JSON object of hyperparameters (the --hyperparameters items win over it).",
    ),
]
