"""`easy_sm upload-data`: a local folder to S3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from easy_sm import console
from easy_sm.commands.cloud_common import sagemaker_client
from easy_sm.commands.options import (
    AppNameOption,
    UnusedRoleOption,
)

if TYPE_CHECKING:
    pass


def upload_data(
    input_dir: Annotated[
        Path, typer.Option("--input-dir", "-i", help="Local folder to upload (all of its tree).")
    ],
    target_dir: Annotated[
        str, typer.Option("--target-dir", "-t", help="S3 prefix to upload to: s3://bucket/prefix.")
    ],
    app_name: AppNameOption = None,
    iam_role_arn: UnusedRoleOption = None,
) -> None:
    """Upload a local folder to S3.

    Concurrently, skipping files already there unchanged; prints the S3 prefix.

    \b
    Example:
        easy_sm upload-data -i data/ -t s3://my-bucket/datasets/v1
    """
    sagemaker = sagemaker_client(app_name)
    console.result(sagemaker.upload_data(input_dir, target_dir))


# name -> (function, extra command settings); `easy_sm <name>` registers just its own.
_COMMANDS: dict[str, tuple[Callable[..., None], dict[str, Any]]] = {
    "upload-data": (upload_data, {}),
}
COMMANDS = tuple(_COMMANDS)


def register(app: typer.Typer, only: str | None = None) -> None:
    """Add this module's commands (or just `only`) to the root app."""
    for name, (function, settings) in _COMMANDS.items():
        if only is None or name == only:
            app.command(name, **settings)(function)
