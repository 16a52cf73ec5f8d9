"""Processing jobs that run the app's image exactly as `easy_sm local process` does:
`process FILE` (a file of `easy_sm_base/processing/`) or `run CMD...`, with the S3 input
at /opt/ml/processing/input and the output collected from /opt/ml/processing/output."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from easy_sm.errors import UsageError
from easy_sm.sagemaker.names import s3_uri, unique_name
from easy_sm.sagemaker.session import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIR = "/opt/ml/processing/output"
CODE_DIR = "/opt/ml/processing/code"  # --code: the code archive, input `code`
MAX_ENV_VALUE = 256
MAX_ENV_ENTRIES = 100


@dataclass
class ProcessingSpec:
    image_uri: str
    role_arn: str
    instance_type: str
    base_job_name: str
    arguments: list[str]  # ["process", FILE, ...] or ["run", CMD, ...]
    instance_count: int = 1
    input_s3: str | None = None
    output_s3: str | None = None
    input_sharded: bool = False
    environment: dict[str, str] = field(default_factory=dict)
    volume_size_gb: int = 30
    max_run_seconds: int = 24 * 3600
    tags: dict[str, str] = field(default_factory=dict)
    code_s3: str | None = None


def process_arguments(file: str, processing_dir: Path | None) -> list[str]:
    """`["process", FILE]`: the arguments `executor.sh` takes (the image's ENTRYPOINT), exactly
    what `easy_sm local process -f FILE` runs. FILE is a file of `easy_sm_base/processing/`,
    checked there when the project has that folder."""
    if not file or Path(file).is_absolute() or ".." in Path(file).parts:
        raise UsageError(
            f"-f/--file {file!r} must be a file name in easy_sm_base/processing/",
            "e.g. -f process_data.py",
        )
    in_project = processing_dir is not None and processing_dir.is_dir()
    if processing_dir is not None and in_project and not (processing_dir / file).is_file():
        found = sorted(p.name for p in processing_dir.glob("*.py"))
        raise UsageError(
            f"-f/--file {file}: not found in {processing_dir}",
            "choose one of " + ", ".join(found) if found else "add the script there first",
        )
    return ["process", file]


def check_environment(environment: dict[str, str]) -> None:
    """SageMaker's limits on a processing job's environment (256 characters per value)."""
    if len(environment) > MAX_ENV_ENTRIES:
        raise UsageError(
            f"{len(environment)} --env variables given", f"SageMaker takes {MAX_ENV_ENTRIES}"
        )
    for key, value in environment.items():
        if len(key) > MAX_ENV_VALUE or len(value) > MAX_ENV_VALUE:
            raise UsageError(
                f"--env {key[:40]}: value is {len(value)} characters long, SageMaker takes "
                f"{MAX_ENV_VALUE}",
                "keep long values (tokens, keys) in Secrets Manager or S3 and read them in your "
                "script, or shorten them",
            )


def processing_job_request(spec: ProcessingSpec, job_name: str) -> dict[str, Any]:
    if spec.instance_count < 1:
        raise UsageError("-c/--instance-count must be at least 1")
    if spec.input_sharded and not spec.input_s3:
        raise UsageError("--input-sharded needs an input", "add -i s3://bucket/prefix")
    check_environment(spec.environment)
    request: dict[str, Any] = {
        "ProcessingJobName": job_name,
        "RoleArn": spec.role_arn,
        "AppSpecification": {"ImageUri": spec.image_uri, "ContainerArguments": spec.arguments},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": spec.instance_count,
                "InstanceType": spec.instance_type,
                "VolumeSizeInGB": spec.volume_size_gb,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_run_seconds},
    }
    if spec.input_s3:
        request["ProcessingInputs"] = [
            {
                "InputName": "input",
                "S3Input": {
                    "S3Uri": s3_uri(spec.input_s3, "-i/--s3-input-location"),
                    "LocalPath": INPUT_DIR,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": (
                        "ShardedByS3Key" if spec.input_sharded else "FullyReplicated"
                    ),
                },
            }
        ]
    if spec.code_s3:
        request.setdefault("ProcessingInputs", []).append(
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": spec.code_s3,
                    "LocalPath": CODE_DIR,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
        )
    if spec.output_s3:
        request["ProcessingOutputConfig"] = {
            "Outputs": [
                {
                    "OutputName": "output",
                    "S3Output": {
                        "S3Uri": s3_uri(spec.output_s3, "-o/--s3-output-location"),
                        "LocalPath": OUTPUT_DIR,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        }
    if spec.environment:
        request["Environment"] = spec.environment
    if spec.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    return request


def start_processing_job(sm: SageMakerClient, spec: ProcessingSpec) -> str:
    """Create the processing job under a fresh `{base}-{timestamp}-{hex}` name; return it."""
    job_name = unique_name(spec.base_job_name)
    request = processing_job_request(spec, job_name)
    with aws_errors("sagemaker:CreateProcessingJob"):
        sm.create_processing_job(**request)
    return job_name
