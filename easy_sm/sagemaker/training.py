"""Training jobs: the CreateTrainingJob request, listing, model artifacts, stopping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from easy_sm import console
from easy_sm.errors import AwsError, JobFailedError, UsageError
from easy_sm.metrics import Metric, definitions
from easy_sm.sagemaker.jobs import TRAINING, describe_job, list_newest
from easy_sm.sagemaker.names import s3_uri, unique_name, validate_name
from easy_sm.sagemaker.session import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

DEFAULT_CHANNEL = "training"
CHECKPOINT_DIR = "/opt/ml/checkpoints"
MAX_ENV_VALUE = 512
CODE_CHANNEL = "code"
MAX_KEEP_ALIVE = 3600


@dataclass
class TrainingSpec:
    """Everything a user can ask of a training job."""

    image_uri: str
    role_arn: str
    input_s3: str
    output_s3: str
    instance_type: str
    base_job_name: str
    instance_count: int = 1
    channels: dict[str, str] = field(default_factory=dict)
    hyperparameters: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    volume_size_gb: int = 30
    max_run_seconds: int = 24 * 3600
    spot: bool = False
    max_wait_seconds: int | None = None
    checkpoint_s3: str | None = None
    input_sharded: bool = False
    metrics: list[Metric] = field(default_factory=list)
    code_s3: str | None = None  # --code: the code archive, as the `code` channel
    keep_alive_seconds: int | None = None  # --keep-alive: warm pool


def parse_channels(items: list[str] | None) -> dict[str, str]:
    """`--channel name=s3://...` (repeatable): extra input channels."""
    channels: dict[str, str] = {}
    for item in items or []:
        name, sep, uri = item.partition("=")
        if not sep or not name:
            raise UsageError(
                f"--channel {item!r}: expected NAME=s3://bucket/prefix",
                "e.g. --channel validation=s3://my-bucket/validation",
            )
        validate_name(name, "--channel")
        channels[name] = s3_uri(uri, f"--channel {name}")
    return channels


def _channel(name: str, uri: str, sharded: bool = False) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated",
            }
        },
        "InputMode": "File",
    }


def training_job_request(spec: TrainingSpec, job_name: str) -> dict[str, Any]:
    """The CreateTrainingJob request for `spec` (validated)."""
    s3_uri(spec.input_s3, "-i/--input-s3-dir")
    s3_uri(spec.output_s3, "-o/--output-s3-dir")
    if spec.instance_count < 1:
        raise UsageError("-c/--instance-count must be at least 1")
    if DEFAULT_CHANNEL in spec.channels:
        raise UsageError(
            f"--channel {DEFAULT_CHANNEL}=... clashes with -i (the {DEFAULT_CHANNEL} channel)",
            "give the training data with -i and other channels another name",
        )
    for key, value in spec.environment.items():
        if len(value) > MAX_ENV_VALUE:
            raise UsageError(
                f"--env {key}: value is {len(value)} characters long",
                f"SageMaker takes {MAX_ENV_VALUE}: keep big values in S3 or Secrets Manager",
            )
    channels = {DEFAULT_CHANNEL: spec.input_s3, **spec.channels}
    if spec.code_s3:
        if CODE_CHANNEL in spec.channels:
            raise UsageError(
                f"--channel {CODE_CHANNEL}=... clashes with --code (the {CODE_CHANNEL} channel)",
                "give that channel another name",
            )
        channels[CODE_CHANNEL] = spec.code_s3
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": spec.max_run_seconds}
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {"TrainingImage": spec.image_uri, "TrainingInputMode": "File"},
        "RoleArn": spec.role_arn,
        "InputDataConfig": [
            # every host needs all of the code: --input-sharded splits the data channels only
            _channel(name, uri, spec.input_sharded and name != CODE_CHANNEL)
            for name, uri in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": spec.output_s3},
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": spec.instance_count,
            "VolumeSizeInGB": spec.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "HyperParameters": spec.hyperparameters,
    }
    if spec.metrics:
        request["AlgorithmSpecification"]["MetricDefinitions"] = definitions(spec.metrics)
    if spec.environment:
        request["Environment"] = spec.environment
    if spec.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    if spec.keep_alive_seconds is not None:
        if not 1 <= spec.keep_alive_seconds <= MAX_KEEP_ALIVE:
            raise UsageError(
                f"--keep-alive {spec.keep_alive_seconds}: SageMaker keeps a warm pool "
                f"1-{MAX_KEEP_ALIVE} s",
                f"give --keep-alive between 1 and {MAX_KEEP_ALIVE}",
            )
        request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = spec.keep_alive_seconds
    if spec.spot:
        max_wait = spec.max_wait_seconds or spec.max_run_seconds
        if max_wait < spec.max_run_seconds:
            raise UsageError(
                f"--max-wait {max_wait} is shorter than --max-run {spec.max_run_seconds}",
                "--max-wait (run time plus time waiting for spot capacity) must be >= --max-run",
            )
        request["EnableManagedSpotTraining"] = True
        stopping["MaxWaitTimeInSeconds"] = max_wait
    elif spec.max_wait_seconds:
        raise UsageError("--max-wait only applies to --spot training", "add --spot")
    if spec.checkpoint_s3:
        request["CheckpointConfig"] = {
            "S3Uri": s3_uri(spec.checkpoint_s3, "--checkpoint-s3-uri"),
            "LocalPath": CHECKPOINT_DIR,
        }
    return request


def artifacts_path(output_s3: str, job_name: str) -> str:
    """Where SageMaker puts the job's model: `{output}/{job}/output/model.tar.gz`."""
    return f"{output_s3.rstrip('/')}/{job_name}/output/model.tar.gz"


def start_training_job(sm: SageMakerClient, spec: TrainingSpec) -> str:
    """Create the training job under a fresh `{base}-{timestamp}-{hex}` name; return the name."""
    job_name = unique_name(spec.base_job_name)
    request = training_job_request(spec, job_name)
    with aws_errors("sagemaker:CreateTrainingJob"):
        sm.create_training_job(**request)
    return job_name


def list_training_jobs(sm: SageMakerClient, max_results: int) -> list[dict[str, Any]]:
    """The `max_results` most recent training jobs, newest first."""
    return list_newest(sm, "list_training_jobs", "TrainingJobSummaries", max_results)


def model_artifacts(sm: SageMakerClient, job_name: str) -> str:
    """The S3 path of the model a completed training job produced."""
    described = describe_job(sm, TRAINING, job_name)
    status = described.get("TrainingJobStatus")
    artifacts = described.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if status == "Completed" and artifacts:
        return str(artifacts)
    if status == "Stopped" and artifacts:
        console.warn(f"training job {job_name} was stopped: its model may be incomplete")
        return str(artifacts)
    if status in ("InProgress", "Stopping"):
        raise AwsError(
            f"training job {job_name} is {status}: it has no model yet",
            f"wait for it: easy_sm logs -j {job_name} --follow",
        )
    reason = described.get("FailureReason") or "no reason given"
    raise JobFailedError(
        f"training job {job_name} is {status}: {reason}",
        "train again, or pick a completed job (easy_sm list-training-jobs)",
    )


def describe_training_job(sm: SageMakerClient, job_name: str) -> dict[str, Any]:
    """The training job as DescribeTrainingJob answers (FinalMetricDataList included)."""
    return describe_job(sm, TRAINING, job_name)


def stop_training_job(sm: SageMakerClient, job_name: str) -> None:
    with aws_errors("sagemaker:StopTrainingJob"):
        sm.stop_training_job(TrainingJobName=job_name)
