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

# -- shared by the cloud commands (jobs.py, endpoints.py, data.py) --

# -r is accepted everywhere (scripts written for the original tool pass it), but only the
# commands that create SageMaker resources need a role.
UnusedRoleOption = Annotated[
    str | None,
    typer.Option("--iam-role-arn", "-r", hidden=True, help="Accepted for compatibility; unused."),
]
NoWaitOption = Annotated[
    bool, typer.Option("--no-wait", help="Return once the job is created, without waiting.")
]
LogsOption = Annotated[
    bool,
    typer.Option(
        "--logs/--no-logs", help="Stream the job's CloudWatch logs to stderr while waiting."
    ),
]
InstanceCountOption = Annotated[
    int, typer.Option("--instance-count", "-c", min=1, help="Number of instances.")
]
VolumeOption = Annotated[
    int, typer.Option("--volume-size", min=1, help="EBS volume size per instance, in GB.")
]
MaxRunOption = Annotated[
    int, typer.Option("--max-run", min=1, help="Stop the job after this many seconds.")
]
TagOption = Annotated[
    list[str] | None, typer.Option("--tag", help="Tag KEY=VALUE for the job (repeatable).")
]
TimeoutOption = Annotated[
    int,
    typer.Option("--timeout", min=1, help="Seconds to wait for the endpoint to be InService."),
]
ModelOption = Annotated[
    str, typer.Option("--s3-model-location", "-m", help="S3 path of the model.tar.gz.")
]
EndpointOption = Annotated[
    str, typer.Option("--endpoint-name", "-n", help="Name of the SageMaker endpoint.")
]

# -e is the instance type on every command; both long names work everywhere (the original
# tool used --ec2-type for jobs and --instance-type for endpoints).
Ec2TypeOption = Annotated[
    str,
    typer.Option("--instance-type", "--ec2-type", "-e", help="Instance type, e.g. ml.m5.large."),
]
BaseJobNameOption = Annotated[
    str,
    typer.Option("--base-job-name", "-n", help="Base of the job name (a timestamp is appended)."),
]

ProcessInputOption = Annotated[
    str | None,
    typer.Option("--s3-input-location", "-i", help="S3 prefix copied to /opt/ml/processing/input."),
]
ProcessOutputOption = Annotated[
    str | None,
    typer.Option(
        "--s3-output-location",
        "-o",
        help="S3 prefix that receives /opt/ml/processing/output.",
    ),
]
ShardedOption = Annotated[
    bool,
    typer.Option(
        "--input-sharded", help="Split the input objects across instances (ShardedByS3Key)."
    ),
]
CodeOption = Annotated[
    bool,
    typer.Option(
        "--code",
        help="Run the project's current code instead of the image's copy (no build/push needed).",
    ),
]
