"""Models, endpoints (provisioned and serverless), batch transform and invocation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm import console
from easy_sm.errors import AwsError, JobFailedError, UsageError
from easy_sm.sagemaker.names import (
    endpoint_config_name,
    model_name,
    s3_uri,
    unique_name,
    validate_name,
)
from easy_sm.sagemaker.session import aws_errors, translate_client_error
from easy_sm.sagemaker.waiting import wait_until

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

VARIANT = "AllTraffic"
DEFAULT_ENDPOINT_TIMEOUT = 30 * 60
ENDPOINT_DONE = frozenset({"InService", "Failed", "OutOfService", "Deleting"})
ENDPOINT_BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)


def ensure_model(
    sm: SageMakerClient, prefix: str, image_uri: str, model_data: str, role_arn: str
) -> str:
    """The model serving `model_data` with `image_uri`: created once, reused by name after."""
    s3_uri(model_data, "-m/--s3-model-location")
    name = model_name(prefix, image_uri, model_data, role_arn)
    try:
        sm.describe_model(ModelName=name)
        console.detail(f"reusing model {name}")
        return name
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationException":
            raise translate_client_error(exc, "sagemaker:DescribeModel") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "sagemaker:DescribeModel") from exc
    with aws_errors("sagemaker:CreateModel"):
        sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": image_uri, "ModelDataUrl": model_data},
            ExecutionRoleArn=role_arn,
        )
    console.info(f"created model {name}")
    return name


def describe_endpoint(sm: SageMakerClient, name: str) -> dict[str, Any] | None:
    """The endpoint's description, or None when there is no endpoint of that name.

    A direct look-up by name: unlike scanning ListEndpoints, it cannot miss an endpoint that
    sits on a later page."""
    try:
        answer: dict[str, Any] = dict(sm.describe_endpoint(EndpointName=name))
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        if (
            error.get("Code") == "ValidationException"
            and "could not find" in str(error.get("Message", "")).lower()
        ):
            return None
        raise translate_client_error(exc, "sagemaker:DescribeEndpoint") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "sagemaker:DescribeEndpoint") from exc
    return answer


def wait_for_endpoint(
    sm: SageMakerClient, name: str, *, timeout: float = DEFAULT_ENDPOINT_TIMEOUT
) -> dict[str, Any]:
    """Poll the endpoint until it is no longer Creating / Updating (or `timeout` passes)."""

    def describe() -> dict[str, Any]:
        answer = describe_endpoint(sm, name)
        if answer is None:
            raise AwsError(f"endpoint {name} disappeared while waiting for it")
        return answer

    return wait_until(
        describe,
        lambda d: str(d.get("EndpointStatus", "Unknown")),
        lambda d: d.get("EndpointStatus") in ENDPOINT_DONE,
        what=f"endpoint {name}",
        timeout=timeout,
        interrupted_hint=f"check it later with easy_sm list-endpoints, or delete it: "
        f"easy_sm delete-endpoint -n {name}",
    )


def deploy_endpoint(
    sm: SageMakerClient,
    *,
    endpoint_name: str,
    variant: dict[str, Any],
    image_uri: str,
    model_data: str,
    role_arn: str,
    model_prefix: str,
    timeout: float = DEFAULT_ENDPOINT_TIMEOUT,
) -> str:
    """Create the endpoint, or update it to a new endpoint config, and wait for InService.

    `variant` holds the instance (or serverless) part of the production variant. A rolled-back
    update (InService again, but on the old config) is reported as a failure."""
    validate_name(endpoint_name, "-n/--endpoint-name")
    existing = describe_endpoint(sm, endpoint_name)
    if existing is not None:
        status = existing.get("EndpointStatus")
        if status == "Failed":
            raise AwsError(
                f"endpoint {endpoint_name} is Failed and cannot be updated",
                f"delete it first: easy_sm delete-endpoint -n {endpoint_name} --delete-config",
            )
        if status in ENDPOINT_BUSY:
            raise AwsError(
                f"endpoint {endpoint_name} is {status}: it cannot be updated now",
                "wait until it is InService (easy_sm list-endpoints) and deploy again",
            )
    model = ensure_model(sm, model_prefix, image_uri, model_data, role_arn)
    config = endpoint_config_name(endpoint_name)
    config_request: dict[str, Any] = {
        "EndpointConfigName": config,
        "ProductionVariants": [{"VariantName": VARIANT, "ModelName": model, **variant}],
    }
    with aws_errors("sagemaker:CreateEndpointConfig"):
        sm.create_endpoint_config(**config_request)
    try:
        if existing is None:
            console.info(f"creating endpoint {endpoint_name} (config {config})")
            with aws_errors("sagemaker:CreateEndpoint"):
                sm.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config)
        else:
            console.info(
                f"updating endpoint {endpoint_name} from config "
                f"{existing.get('EndpointConfigName')} to {config}"
            )
            with aws_errors("sagemaker:UpdateEndpoint"):
                sm.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config)
    except AwsError:
        _delete_config_quietly(sm, config)
        raise
    final = wait_for_endpoint(sm, endpoint_name, timeout=timeout)
    status = final.get("EndpointStatus")
    reason = final.get("FailureReason") or "no reason given"
    if status != "InService":
        raise JobFailedError(
            f"endpoint {endpoint_name} is {status}: {reason}",
            "check the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/"
            f"{endpoint_name}), fix the image or model, and deploy again",
        )
    if final.get("EndpointConfigName") != config:
        raise JobFailedError(
            f"update of endpoint {endpoint_name} was rolled back: {reason}",
            f"it still serves config {final.get('EndpointConfigName')}; check the endpoint's "
            "CloudWatch logs, fix the image or model, and deploy again",
        )
    return endpoint_name


def _delete_config_quietly(sm: SageMakerClient, config: str) -> None:
    try:
        sm.delete_endpoint_config(EndpointConfigName=config)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        console.detail(f"could not delete the unused endpoint config {config}")


def instance_variant(instance_type: str, instance_count: int) -> dict[str, Any]:
    if instance_count < 1:
        raise UsageError("-c/--instance-count must be at least 1")
    return {
        "InstanceType": instance_type,
        "InitialInstanceCount": instance_count,
        "InitialVariantWeight": 1.0,
    }


def serverless_variant(memory_mb: int, max_concurrency: int) -> dict[str, Any]:
    if memory_mb not in SERVERLESS_MEMORY:
        raise UsageError(
            f"-s/--memory-size-in-mb {memory_mb} is not a serverless memory size",
            "use one of " + ", ".join(str(m) for m in SERVERLESS_MEMORY),
        )
    if not 1 <= max_concurrency <= 200:
        raise UsageError(f"--max-concurrency {max_concurrency} is out of range", "use 1 to 200")
    return {"ServerlessConfig": {"MemorySizeInMB": memory_mb, "MaxConcurrency": max_concurrency}}


def list_endpoints(sm: SageMakerClient) -> list[dict[str, Any]]:
    """Every endpoint (all pages), newest first."""
    pages = sm.get_paginator("list_endpoints").paginate(
        SortBy="CreationTime", SortOrder="Descending"
    )
    with aws_errors("sagemaker:ListEndpoints"):
        endpoints: list[dict[str, Any]] = [
            dict(e) for page in pages for e in page.get("Endpoints", [])
        ]
    endpoints.sort(key=lambda e: e["CreationTime"], reverse=True)
    return endpoints


def delete_endpoint(sm: SageMakerClient, name: str, *, delete_config: bool = False) -> str | None:
    """Delete the endpoint (and its current endpoint config when asked); return the config's
    name if it was deleted."""
    config: str | None = None
    if delete_config:
        described = describe_endpoint(sm, name)
        if described is None:
            raise AwsError(
                f"no endpoint named {name!r}",
                "check the name (easy_sm list-endpoints) and the region / profile",
            )
        config = str(described["EndpointConfigName"])
    with aws_errors("sagemaker:DeleteEndpoint"):
        sm.delete_endpoint(EndpointName=name)
    if config:
        with aws_errors("sagemaker:DeleteEndpointConfig"):
            sm.delete_endpoint_config(EndpointConfigName=config)
    return config


def invoke_endpoint(
    runtime: SageMakerRuntimeClient,
    name: str,
    body: bytes,
    *,
    content_type: str,
    accept: str | None = None,
) -> bytes:
    """POST `body` to the endpoint's /invocations; return the response body."""
    kwargs: dict[str, Any] = {"EndpointName": name, "Body": body, "ContentType": content_type}
    if accept:
        kwargs["Accept"] = accept
    with aws_errors("sagemaker:InvokeEndpoint"):
        answer = runtime.invoke_endpoint(**kwargs)
        return answer["Body"].read()


def check_deploy_options(*, endpoint_name: str, model_data: str) -> None:
    """Validate a deployment's arguments before the first AWS call."""
    validate_name(endpoint_name, "-n/--endpoint-name")
    s3_uri(model_data, "-m/--s3-model-location")


def check_transform_options(
    *,
    model_data: str,
    input_s3: str,
    output_s3: str,
    instance_count: int,
    job_name: str | None,
    **_: Any,
) -> None:
    """Validate a transform job's arguments before anything is created for it (the model)."""
    if instance_count < 1:
        raise UsageError("--num-instances must be at least 1", "pass 1 or more")
    if job_name:
        validate_name(job_name, "-n/--job-name")
    s3_uri(model_data, "-m/--s3-model-location")
    s3_uri(input_s3, "-i/--s3-input-location")
    s3_uri(output_s3, "-o/--s3-output-location")


def start_transform_job(
    sm: SageMakerClient,
    *,
    model: str,
    input_s3: str,
    output_s3: str,
    instance_type: str,
    instance_count: int,
    job_name: str | None,
    base_name: str,
    content_type: str | None = None,
    split_type: str | None = None,
    accept: str | None = None,
) -> str:
    """Create a batch transform job (named `job_name`, else a fresh `{base}-{timestamp}` name)."""
    if instance_count < 1:
        raise UsageError("--num-instances must be at least 1")
    name = validate_name(job_name, "-n/--job-name") if job_name else unique_name(base_name)
    transform_input: dict[str, Any] = {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": s3_uri(input_s3, "-i/--s3-input-location"),
            }
        },
    }
    if content_type:
        transform_input["ContentType"] = content_type
    if split_type:
        transform_input["SplitType"] = split_type
    transform_output: dict[str, Any] = {
        "S3OutputPath": s3_uri(output_s3, "-o/--s3-output-location")
    }
    if accept:
        transform_output["Accept"] = accept
    if split_type == "Line":
        transform_output["AssembleWith"] = "Line"
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": transform_output,
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
    }
    with aws_errors("sagemaker:CreateTransformJob"):
        sm.create_transform_job(**request)
    return name
