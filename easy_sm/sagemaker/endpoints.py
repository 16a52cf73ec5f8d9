"""Models, endpoints (provisioned and serverless), batch transform and invocation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm import console
from easy_sm.errors import AwsError, JobFailedError, UsageError
from easy_sm.sagemaker import autoscaling
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
APP_TAG = "easy_sm:app"  # on everything easy_sm creates
ENDPOINT_TAG = "easy_sm:endpoint"  # on each endpoint config: the endpoint it was made for
HISTORY_TAG = "easy_sm:config-history"  # on the endpoint: configs it ran before, oldest first
MAX_TAG_VALUE = 256


def ensure_model(
    sm: SageMakerClient,
    prefix: str,
    image_uri: str,
    model_data: str,
    role_arn: str,
    tags: dict[str, str] | None = None,
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
    request: dict[str, Any] = {
        "ModelName": name,
        "PrimaryContainer": {"Image": image_uri, "ModelDataUrl": model_data},
        "ExecutionRoleArn": role_arn,
    }
    if tags:
        request["Tags"] = tag_list(tags)
    with aws_errors("sagemaker:CreateModel"):
        sm.create_model(**request)
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


@dataclass
class EndpointSpec:
    """Everything `deploy`, `deploy-serverless` and `deploy-async` ask of an endpoint."""

    variant: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    scaling: autoscaling.ScalingSpec | None = None
    async_config: dict[str, Any] | None = None
    data_capture: dict[str, Any] | None = None
    deployment: dict[str, Any] | None = None  # UpdateEndpoint's DeploymentConfig


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags: list[dict[str, str]] | list[Any]) -> dict[str, str]:
    """Tags as a dict (a later duplicate key wins, as after AddTags)."""
    return {str(t["Key"]): str(t["Value"]) for t in tags}


def endpoint_config_history(tags: list[dict[str, str]] | dict[str, str]) -> list[str]:
    """The endpoint configs an endpoint ran before, oldest first, from its
    `easy_sm:config-history` tag (what `rollback` returns to: the last one)."""
    found = tags if isinstance(tags, dict) else tag_dict(tags)
    return found.get(HISTORY_TAG, "").split()


def history_value(names: list[str]) -> str:
    """The tag value for `names` (oldest first): space-separated (commas are not allowed in
    tag values), dropping the oldest names to fit AWS's 256 characters."""
    kept = list(names)
    while kept and len(" ".join(kept)) > MAX_TAG_VALUE:
        kept.pop(0)
    return " ".join(kept)


def list_tags(sm: SageMakerClient, arn: str) -> dict[str, str]:
    with aws_errors("sagemaker:ListTags"):
        tags: list[Any] = []
        for page in sm.get_paginator("list_tags").paginate(ResourceArn=arn):
            tags.extend(page.get("Tags", []))
    return tag_dict(tags)


def _set_tags(sm: SageMakerClient, arn: str, tags: dict[str, str]) -> None:
    if tags:
        with aws_errors("sagemaker:AddTags"):
            sm.add_tags(ResourceArn=arn, Tags=tag_list(tags))  # type: ignore[arg-type]


def _keep_current_count(existing: dict[str, Any], variant: dict[str, Any]) -> dict[str, Any]:
    """The variant with the count the endpoint runs now (autoscaling may have changed it)."""
    for running in existing.get("ProductionVariants", []):
        count = running.get("CurrentInstanceCount") or running.get("DesiredInstanceCount")
        if running.get("VariantName") == VARIANT and count and "InstanceType" in variant:
            console.detail(f"keeping the autoscaled instance count {count}")
            return {**variant, "InitialInstanceCount": int(count)}
    return variant


def deploy_endpoint(
    sm: SageMakerClient,
    *,
    endpoint_name: str,
    spec: EndpointSpec,
    image_uri: str,
    model_data: str,
    role_arn: str,
    model_prefix: str,
    aas: Any = None,
    cloudwatch: Any = None,
    timeout: float = DEFAULT_ENDPOINT_TIMEOUT,
) -> str:
    """Create the endpoint, or update it to a new endpoint config, and wait for InService.

    `spec.variant` holds the instance (or serverless) part of the production variant. On an
    update, an autoscaled variant keeps its current instance count; its scalable target is
    deregistered for the update and registered again after (with `spec.scaling` if given).
    The config it ran before is recorded in the endpoint's `easy_sm:config-history` tag. A
    rolled-back update (InService again, but on the old config) is reported as a failure."""
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
    variant = spec.variant
    target = None
    if existing is not None and aas is not None:
        target = autoscaling.scalable_target(aas, endpoint_name, VARIANT)
        if target is not None:
            variant = _keep_current_count(existing, variant)
    model = ensure_model(sm, model_prefix, image_uri, model_data, role_arn, spec.tags)
    config = endpoint_config_name(endpoint_name)
    config_request: dict[str, Any] = {
        "EndpointConfigName": config,
        "ProductionVariants": [{"VariantName": VARIANT, "ModelName": model, **variant}],
        "Tags": tag_list({**spec.tags, ENDPOINT_TAG: endpoint_name}),
    }
    if spec.data_capture:
        config_request["DataCaptureConfig"] = spec.data_capture
    if spec.async_config:
        config_request["AsyncInferenceConfig"] = spec.async_config
    with aws_errors("sagemaker:CreateEndpointConfig"):
        sm.create_endpoint_config(**config_request)
    saved: autoscaling.SavedScaling | None = None
    try:
        if existing is None:
            console.info(f"creating endpoint {endpoint_name} (config {config})")
            with aws_errors("sagemaker:CreateEndpoint"):
                sm.create_endpoint(
                    EndpointName=endpoint_name,
                    EndpointConfigName=config,
                    Tags=tag_list(spec.tags),  # type: ignore[arg-type]
                )
        else:
            if target is not None:
                saved = autoscaling.deregister(aas, endpoint_name, VARIANT)
            console.info(
                f"updating endpoint {endpoint_name} from config "
                f"{existing.get('EndpointConfigName')} to {config}"
            )
            update: dict[str, Any] = {"EndpointName": endpoint_name, "EndpointConfigName": config}
            if spec.deployment:
                update["DeploymentConfig"] = spec.deployment
            with aws_errors("sagemaker:UpdateEndpoint"):
                sm.update_endpoint(**update)
    except AwsError:
        _delete_config_quietly(sm, config)
        if saved is not None:
            autoscaling.restore(aas, saved, cloudwatch, endpoint_name)
        raise
    try:
        final = wait_for_endpoint(sm, endpoint_name, timeout=timeout)
    finally:
        if saved is not None and spec.scaling is None:
            autoscaling.restore(aas, saved, cloudwatch, endpoint_name)
    _raise_unless_serving(final, endpoint_name, config, spec.deployment)
    arn = str(final.get("EndpointArn", ""))
    if existing is not None:
        previous = str(existing.get("EndpointConfigName", ""))
        history = endpoint_config_history(list_tags(sm, arn)) if arn else []
        _set_tags(sm, arn, {**spec.tags, HISTORY_TAG: history_value([*history, previous])})
    if spec.scaling is not None and aas is not None:
        policy = autoscaling.register(aas, endpoint_name, VARIANT, spec.scaling, cloudwatch)
        console.info(
            f"autoscaling {endpoint_name}: {spec.scaling.min_instances} to "
            f"{spec.scaling.max_instances} instances (policy {policy})"
        )
    return endpoint_name


def _raise_unless_serving(
    final: dict[str, Any], endpoint_name: str, config: str, deployment: dict[str, Any] | None
) -> None:
    status = final.get("EndpointStatus")
    reason = final.get("FailureReason") or "no reason given"
    if status != "InService":
        raise JobFailedError(
            f"endpoint {endpoint_name} is {status}: {reason}",
            "check the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/"
            f"{endpoint_name}), fix the image or model, and deploy again",
        )
    if final.get("EndpointConfigName") != config:
        alarms = [
            a.get("AlarmName")
            for a in ((deployment or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])
        ]
        why = f" (watched alarms: {', '.join(alarms)})" if alarms else ""
        raise JobFailedError(
            f"update of endpoint {endpoint_name} was rolled back{why}: {reason}",
            f"it still serves config {final.get('EndpointConfigName')}; check the endpoint's "
            "CloudWatch logs and alarms, fix the image or model, and deploy again",
        )


def rollback_endpoint(
    sm: SageMakerClient,
    name: str,
    *,
    aas: Any = None,
    cloudwatch: Any = None,
    timeout: float = DEFAULT_ENDPOINT_TIMEOUT,
) -> str:
    """Return the endpoint to the config it ran before the last easy_sm deploy; wait for
    InService; return the config's name. The history tag loses that entry, so a second
    rollback goes one further back."""
    validate_name(name, "-n/--endpoint-name")
    existing = describe_endpoint(sm, name)
    if existing is None:
        raise AwsError(
            f"no endpoint named {name!r}",
            "check the name (easy_sm list-endpoints) and the region / profile",
        )
    status = existing.get("EndpointStatus")
    if status in ENDPOINT_BUSY:
        raise AwsError(
            f"endpoint {name} is {status}: it cannot be rolled back now",
            "wait until it is InService (easy_sm list-endpoints) and try again",
        )
    arn = str(existing["EndpointArn"])
    history = endpoint_config_history(list_tags(sm, arn))
    current = existing.get("EndpointConfigName")
    while history and history[-1] == current:
        history.pop()
    if not history:
        raise AwsError(
            f"endpoint {name} has no earlier config to roll back to",
            "only updates made with easy_sm deploy are recorded; deploy the model you want",
        )
    target_config = history[-1]
    try:
        sm.describe_endpoint_config(EndpointConfigName=target_config)
    except botocore.exceptions.ClientError as exc:
        raise AwsError(
            f"endpoint {name}: its previous config {target_config} no longer exists",
            "deploy the model you want instead (easy_sm deploy)",
        ) from exc
    saved = autoscaling.deregister(aas, name, VARIANT) if aas is not None else None
    console.info(f"rolling endpoint {name} back from config {current} to {target_config}")
    try:
        with aws_errors("sagemaker:UpdateEndpoint"):
            sm.update_endpoint(EndpointName=name, EndpointConfigName=target_config)
        final = wait_for_endpoint(sm, name, timeout=timeout)
    finally:
        if saved is not None:
            autoscaling.restore(aas, saved, cloudwatch, name)
    _raise_unless_serving(final, name, target_config, None)
    _set_tags(sm, arn, {HISTORY_TAG: history_value(history[:-1])})
    return target_config


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


def configs_made_for(sm: SageMakerClient, endpoint: str) -> list[str]:
    """The endpoint configs easy_sm created for `endpoint` (tagged `easy_sm:endpoint`)."""
    pages = sm.get_paginator("list_endpoint_configs").paginate(NameContains=endpoint)
    with aws_errors("sagemaker:ListEndpointConfigs"):
        candidates = [dict(c) for page in pages for c in page.get("EndpointConfigs", [])]
    return [
        str(c["EndpointConfigName"])
        for c in candidates
        if list_tags(sm, str(c["EndpointConfigArn"])).get(ENDPOINT_TAG) == endpoint
    ]


def _models_of(sm: SageMakerClient, config: str) -> set[str]:
    try:
        described = sm.describe_endpoint_config(EndpointConfigName=config)
    except botocore.exceptions.ClientError:
        return set()
    return {str(v["ModelName"]) for v in described.get("ProductionVariants", [])}


def _models_in_use(sm: SageMakerClient) -> set[str]:
    pages = sm.get_paginator("list_endpoint_configs").paginate()
    with aws_errors("sagemaker:ListEndpointConfigs"):
        names = [str(c["EndpointConfigName"]) for p in pages for c in p.get("EndpointConfigs", [])]
    used: set[str] = set()
    for name in names:
        used |= _models_of(sm, name)
    return used


def delete_endpoint(
    sm: SageMakerClient,
    name: str,
    *,
    delete_config: bool = False,
    delete_model: bool = False,
    aas: Any = None,
    cloudwatch: Any = None,
) -> list[str]:
    """Delete the endpoint (deregistering its autoscaling); with `delete_config` every endpoint
    config easy_sm created for it, with `delete_model` also the models of those configs that
    no remaining config uses. Return what was deleted besides the endpoint (`kind name`)."""
    deleted: list[str] = []
    described = describe_endpoint(sm, name)
    if described is None and (delete_config or delete_model):
        raise AwsError(
            f"no endpoint named {name!r}",
            "check the name (easy_sm list-endpoints) and the region / profile",
        )
    if described is not None and aas is not None:
        for variant in described.get("ProductionVariants", [{"VariantName": VARIANT}]):
            if autoscaling.deregister(aas, name, str(variant["VariantName"])) is not None:
                deleted.append(f"scalable target {autoscaling.resource_id(name, VARIANT)}")
        if cloudwatch is not None and autoscaling.delete_alarm(cloudwatch, name):
            deleted.append(f"alarm {autoscaling.alarm_name(name)}")
    with aws_errors("sagemaker:DeleteEndpoint"):
        sm.delete_endpoint(EndpointName=name)
    if not (delete_config or delete_model) or described is None:
        return deleted
    configs = [str(described["EndpointConfigName"])]
    configs += [c for c in configs_made_for(sm, name) if c not in configs]
    models: set[str] = set()
    for config in configs:
        if delete_model:
            models |= _models_of(sm, config)
        with aws_errors("sagemaker:DeleteEndpointConfig"):
            sm.delete_endpoint_config(EndpointConfigName=config)
        deleted.append(f"endpoint config {config}")
    if models:
        for model in sorted(models - _models_in_use(sm)):
            with aws_errors("sagemaker:DeleteModel"):
                sm.delete_model(ModelName=model)
            deleted.append(f"model {model}")
    return deleted


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
    tags: dict[str, str] | None = None,
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
    if tags:
        request["Tags"] = tag_list(tags)
    with aws_errors("sagemaker:CreateTransformJob"):
        sm.create_transform_job(**request)
    return name
