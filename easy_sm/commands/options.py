"""Option declarations shared by several commands, so flags stay identical everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from easy_sm.commands.completion import (
    complete_app_name,
    complete_endpoint_name,
    complete_job_name,
    complete_training_job_name,
)

AppNameOption = Annotated[
    str | None,
    typer.Option(
        "--app-name",
        "-a",
        metavar="APP",
        help="App name (default: the one *.json config here).",
        autocompletion=complete_app_name,
    ),
]
IamRoleOption = Annotated[
    str | None,
    typer.Option(
        "--iam-role-arn",
        "-r",
        metavar="ARN",
        help="SageMaker execution role ARN (default: $SAGEMAKER_ROLE).",
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        metavar="KEY=VALUE",
        help="Environment variable KEY=VALUE for the container (repeatable).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of plain lines.")]
HyperparametersOption = Annotated[
    list[str] | None,
    typer.Option(
        "--hyperparameters",
        "--hp",
        metavar="KEY=VALUE",
        help="Hyperparameter KEY=VALUE, or @file.json (a JSON object); repeatable.",
    ),
]
HyperparametersFileOption = Annotated[
    Path | None,
    typer.Option(
        "--hyperparameters-file",
        metavar="FILE",
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
    int,
    typer.Option("--volume-size", min=1, metavar="GB", help="EBS volume size per instance, in GB."),
]
MaxRunOption = Annotated[
    int,
    typer.Option(
        "--max-run", min=1, metavar="SECONDS", help="Stop the job after this many seconds."
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="KEY=VALUE", help="Tag KEY=VALUE for the job (repeatable)."),
]
TimeoutOption = Annotated[
    int,
    typer.Option(
        "--timeout",
        min=1,
        metavar="SECONDS",
        help="Seconds to wait for the endpoint to be InService.",
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--s3-model-location", "-m", metavar="S3_URI", help="S3 path of the model.tar.gz."
    ),
]
EndpointOption = Annotated[
    str,
    typer.Option(
        "--endpoint-name",
        "-n",
        metavar="NAME",
        help="Name of the SageMaker endpoint.",
        autocompletion=complete_endpoint_name,
    ),
]
TrainingJobNameOption = Annotated[
    str,
    typer.Option(
        "--training-job-name",
        "-j",
        metavar="JOB",
        help="The training job's name.",
        autocompletion=complete_training_job_name,
    ),
]
JobNameOption = Annotated[
    str,
    typer.Option(
        "--job-name",
        "-j",
        metavar="JOB",
        help="Training, processing or transform job.",
        autocompletion=complete_job_name,
    ),
]

# -e is the instance type on every command; both long names work everywhere (the original
# tool used --ec2-type for jobs and --instance-type for endpoints).
Ec2TypeOption = Annotated[
    str,
    typer.Option(
        "--instance-type",
        "--ec2-type",
        "-e",
        metavar="TYPE",
        help="Instance type, e.g. ml.m5.large.",
    ),
]
BaseJobNameOption = Annotated[
    str,
    typer.Option(
        "--base-job-name",
        "-n",
        metavar="NAME",
        help="Base of the job name (a timestamp is appended).",
    ),
]

ProcessInputOption = Annotated[
    str | None,
    typer.Option(
        "--s3-input-location",
        "-i",
        metavar="S3_URI",
        help="S3 prefix copied to /opt/ml/processing/input.",
    ),
]
ProcessOutputOption = Annotated[
    str | None,
    typer.Option(
        "--s3-output-location",
        "-o",
        metavar="S3_URI",
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

# -- the training job's flags, shared by train and tune --
TrainInputOption = Annotated[
    str, typer.Option("--input-s3-dir", "-i", help="S3 prefix of the training channel.")
]
TrainOutputOption = Annotated[
    str, typer.Option("--output-s3-dir", "-o", help="S3 prefix for the model artifacts.")
]
ChannelOption = Annotated[
    list[str] | None,
    typer.Option("--channel", help="Extra input channel NAME=s3://bucket/prefix; repeatable."),
]
SpotOption = Annotated[bool, typer.Option("--spot", help="Use managed spot training.")]
MaxWaitOption = Annotated[
    int | None,
    typer.Option(
        "--max-wait", min=1, help="With --spot: seconds to wait for capacity plus run time."
    ),
]
CheckpointOption = Annotated[
    str | None,
    typer.Option("--checkpoint-s3-uri", help="S3 prefix synced with /opt/ml/checkpoints."),
]
MetricOption = Annotated[
    list[str] | None,
    typer.Option(
        "--metric",
        help="Metric NAME=REGEX (group 1 is the value) or NAME (log line `metric NAME=VALUE`); "
        "repeatable. Default: train:loss, train:accuracy, validation:loss, validation:accuracy.",
    ),
]

# -- the search of a tuning job, shared by tune and local tune --
RangeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--range",
        help="Tuned hyperparameter: NAME=continuous:MIN:MAX[:log], NAME=integer:MIN:MAX, "
        "NAME=categorical:A,B; repeatable.",
    ),
]
RangesFileOption = Annotated[
    Path | None,
    typer.Option(
        "--ranges", help="JSON (or YAML, with PyYAML) object of NAME: range; --range items win."
    ),
]
ObjectiveOption = Annotated[
    str, typer.Option("--objective", help="The metric to optimise, e.g. validation:accuracy.")
]
MaximizeOption = Annotated[
    bool,
    typer.Option("--maximize/--minimize", help="Whether a higher objective is better."),
]
MaxJobsOption = Annotated[
    int | None,
    typer.Option(
        "--max-jobs",
        min=1,
        help="Training jobs to run in all (default 10; Grid: every combination).",
    ),
]

# -- shared by the local commands (local.py; local batch-transform) --

NoBuildOption = Annotated[
    bool,
    typer.Option(
        "--no-build",
        help="Run the image as it is: do not rebuild it when the sources changed.",
    ),
]
GpusOption = Annotated[
    str | None,
    typer.Option(
        "--gpus",
        help="GPUs for the container: all, or a number (needs the NVIDIA container runtime).",
    ),
]

# -- preflight (train, process, run, batch-transform, deploy*) --
SkipChecksOption = Annotated[
    bool,
    typer.Option(
        "--skip-checks",
        help="Skip the preflight (instance type, S3 inputs, image in ECR) before creating.",
    ),
]

# -- shared by `local deploy` and `local batch-transform` --

LocalModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Serve this model instead of test_dir/model: a model.tar.gz, a folder, or "
        "s3://…/model.tar.gz (downloaded with the app's AWS settings).",
    ),
]
