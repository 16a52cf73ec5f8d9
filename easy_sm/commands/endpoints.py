"""The endpoint commands: deploy, deploy-serverless, deploy-async, rollback, list-endpoints,
delete-endpoint, invoke.
stdout carries only each command's result (an endpoint name, a response body, --json)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from easy_sm import console
from easy_sm.commands.cloud_common import CommandTable, print_json, sagemaker_client, when
from easy_sm.commands.helpers import parse_key_values
from easy_sm.commands.options import (
    AppNameOption,
    Ec2TypeOption,
    EndpointOption,
    IamRoleOption,
    InstanceCountOption,
    JsonOption,
    ModelOption,
    SkipChecksOption,
    TimeoutOption,
    UnusedRoleOption,
)
from easy_sm.errors import UsageError

if TYPE_CHECKING:
    from easy_sm.sagemaker.endpoints import EndpointSpec


# -- options of deploy and deploy-async (declared once, here) --
MinInstancesOption = Annotated[
    int | None,
    typer.Option("--min-instances", help="Autoscaling: fewest instances (with --max-instances)."),
]
MaxInstancesOption = Annotated[
    int | None, typer.Option("--max-instances", help="Autoscaling: most instances.")
]
ScaleInCooldownOption = Annotated[
    int | None,
    typer.Option("--scale-in-cooldown", help="Autoscaling: seconds between scale-ins (300)."),
]
ScaleOutCooldownOption = Annotated[
    int | None,
    typer.Option("--scale-out-cooldown", help="Autoscaling: seconds between scale-outs (60)."),
]
CapturePercentOption = Annotated[
    int | None,
    typer.Option("--capture-percent", help="Data capture: % of requests kept (with --capture-s3)."),
]
CaptureS3Option = Annotated[
    str | None,
    typer.Option("--capture-s3", help="Data capture: S3 prefix for captured requests/responses."),
]
EndpointTagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag", help="Tag KEY=VALUE for the model, endpoint config and endpoint (repeatable)."
    ),
]


def _deploy(
    *,
    app_name: str | None,
    iam_role_arn: str | None,
    endpoint_name: str,
    model: str,
    spec: EndpointSpec,
    instance_type: str | None,
    skip_checks: bool,
    timeout: int,
) -> None:
    from easy_sm.sagemaker.names import s3_uri, validate_name

    validate_name(endpoint_name, "-n/--endpoint-name")
    s3_uri(model, "-m/--s3-model-location")
    sagemaker = sagemaker_client(app_name, iam_role_arn, needs_role=True)
    if not skip_checks:
        sagemaker.preflight("endpoint", instance_type, objects={"-m/--s3-model-location": model})
    console.result(sagemaker.deploy(model, endpoint_name, spec, timeout=timeout))


def deploy(
    s3_model_location: ModelOption,
    instance_type: Ec2TypeOption,
    endpoint_name: EndpointOption,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    instance_count: InstanceCountOption = 1,
    timeout: TimeoutOption = 1800,
    min_instances: MinInstancesOption = None,
    max_instances: MaxInstancesOption = None,
    target_invocations: Annotated[
        float | None,
        typer.Option(
            "--target-invocations",
            help="Autoscaling: invocations per instance per minute to aim for (70).",
        ),
    ] = None,
    scale_in_cooldown: ScaleInCooldownOption = None,
    scale_out_cooldown: ScaleOutCooldownOption = None,
    capture_percent: CapturePercentOption = None,
    capture_s3: CaptureS3Option = None,
    strategy: Annotated[
        str,
        typer.Option(
            "--strategy",
            help="Update: all-at-once, blue-green, canary:PCT:WAIT_S or linear:PCT:WAIT_S.",
        ),
    ] = "all-at-once",
    rollback_alarm: Annotated[
        list[str] | None,
        typer.Option(
            "--rollback-alarm", help="CloudWatch alarm that rolls the update back (repeatable)."
        ),
    ] = None,
    bake_time: Annotated[
        int | None,
        typer.Option(
            "--bake-time", help="Update: seconds to watch the alarms after shifting traffic."
        ),
    ] = None,
    tag: EndpointTagOption = None,
    skip_checks: SkipChecksOption = False,
) -> None:
    """Deploy a model to a SageMaker endpoint.

    Creates (or updates) a provisioned endpoint, waits until it is InService and prints its name.
    Optionally with autoscaling, data capture and a watched (blue/green, canary, linear) update.

    \b
    Example:
        easy_sm deploy -n my-endpoint -e ml.m5.large -m s3://my-bucket/models/iris/model.tar.gz
        easy_sm deploy -n my-endpoint -e ml.m5.large -m s3://b/model.tar.gz --min-instances 1 \\
            --max-instances 4 --strategy canary:10:300 --rollback-alarm my-endpoint-5xx
    """
    from easy_sm.sagemaker.autoscaling import scaling_spec
    from easy_sm.sagemaker.endpoint_config import data_capture_config, deployment_config
    from easy_sm.sagemaker.endpoints import EndpointSpec, instance_variant

    scaling = scaling_spec(
        min_instances, max_instances, target_invocations, scale_in_cooldown, scale_out_cooldown
    )
    if scaling is not None:
        instance_count = min(max(instance_count, scaling.min_instances), scaling.max_instances)
    spec = EndpointSpec(
        variant=instance_variant(instance_type, instance_count),
        tags=parse_key_values(tag, "--tag"),
        scaling=scaling,
        data_capture=data_capture_config(capture_percent, capture_s3),
        deployment=deployment_config(strategy, rollback_alarm, bake_time),
    )
    _deploy(
        app_name=app_name,
        iam_role_arn=iam_role_arn,
        endpoint_name=endpoint_name,
        model=s3_model_location,
        spec=spec,
        instance_type=instance_type,
        skip_checks=skip_checks,
        timeout=timeout,
    )


def deploy_serverless(
    s3_model_location: ModelOption,
    memory_size_in_mb: Annotated[
        int,
        typer.Option("--memory-size-in-mb", "-s", help="Memory: 1024, 2048, ... 6144 MB."),
    ],
    endpoint_name: EndpointOption,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    max_concurrency: Annotated[
        int, typer.Option("--max-concurrency", help="Concurrent invocations (1-200).")
    ] = 5,
    timeout: TimeoutOption = 1800,
    tag: EndpointTagOption = None,
    skip_checks: SkipChecksOption = False,
) -> None:
    """Deploy a model to a serverless endpoint.

    Creates (or updates) a serverless endpoint, waits until it is InService and prints its name.

    \b
    Example:
        easy_sm deploy-serverless -n my-endpoint -s 2048 -m s3://my-bucket/model.tar.gz
    """
    from easy_sm.sagemaker.endpoints import EndpointSpec, serverless_variant

    spec = EndpointSpec(
        variant=serverless_variant(memory_size_in_mb, max_concurrency),
        tags=parse_key_values(tag, "--tag"),
    )
    _deploy(
        app_name=app_name,
        iam_role_arn=iam_role_arn,
        endpoint_name=endpoint_name,
        model=s3_model_location,
        spec=spec,
        instance_type=None,
        skip_checks=skip_checks,
        timeout=timeout,
    )


def deploy_async(
    s3_model_location: ModelOption,
    instance_type: Ec2TypeOption,
    endpoint_name: EndpointOption,
    output_s3: Annotated[
        str, typer.Option("--output-s3", help="S3 prefix the results are written to.")
    ],
    failure_s3: Annotated[
        str | None, typer.Option("--failure-s3", help="S3 prefix for failed requests' errors.")
    ] = None,
    max_concurrent_per_instance: Annotated[
        int | None,
        typer.Option(
            "--max-concurrent-per-instance", help="Requests one instance handles at a time."
        ),
    ] = None,
    success_topic: Annotated[
        str | None, typer.Option("--success-topic", help="SNS topic ARN told of each result.")
    ] = None,
    error_topic: Annotated[
        str | None, typer.Option("--error-topic", help="SNS topic ARN told of each failure.")
    ] = None,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    instance_count: InstanceCountOption = 1,
    timeout: TimeoutOption = 1800,
    min_instances: MinInstancesOption = None,
    max_instances: MaxInstancesOption = None,
    target_backlog: Annotated[
        float | None,
        typer.Option("--target-backlog", help="Autoscaling: queued requests per instance (5)."),
    ] = None,
    scale_in_cooldown: ScaleInCooldownOption = None,
    scale_out_cooldown: ScaleOutCooldownOption = None,
    capture_percent: CapturePercentOption = None,
    capture_s3: CaptureS3Option = None,
    tag: EndpointTagOption = None,
    skip_checks: SkipChecksOption = False,
) -> None:
    """Deploy (or update) an asynchronous endpoint.

    Waits until InService and prints its name. With --min-instances 0 it scales to zero
    when its queue is empty.

    \b
    Example:
        easy_sm deploy-async -n my-async -e ml.m5.large -m s3://b/model.tar.gz \\
            --output-s3 s3://b/async-out --min-instances 0 --max-instances 2
    """
    from easy_sm.sagemaker.autoscaling import scaling_spec
    from easy_sm.sagemaker.endpoint_config import async_inference_config, data_capture_config
    from easy_sm.sagemaker.endpoints import EndpointSpec, instance_variant

    scaling = scaling_spec(
        min_instances,
        max_instances,
        target_backlog,
        scale_in_cooldown,
        scale_out_cooldown,
        backlog=True,
    )
    if scaling is not None:
        instance_count = min(max(instance_count, scaling.min_instances, 1), scaling.max_instances)
    spec = EndpointSpec(
        variant=instance_variant(instance_type, instance_count),
        tags=parse_key_values(tag, "--tag"),
        scaling=scaling,
        async_config=async_inference_config(
            output_s3,
            failure_s3,
            max_concurrent_per_instance=max_concurrent_per_instance,
            success_topic=success_topic,
            error_topic=error_topic,
        ),
        data_capture=data_capture_config(capture_percent, capture_s3),
    )
    _deploy(
        app_name=app_name,
        iam_role_arn=iam_role_arn,
        endpoint_name=endpoint_name,
        model=s3_model_location,
        spec=spec,
        instance_type=instance_type,
        skip_checks=skip_checks,
        timeout=timeout,
    )


def rollback(
    endpoint_name: EndpointOption,
    app_name: AppNameOption = None,
    timeout: TimeoutOption = 1800,
) -> None:
    """Roll an endpoint back to its previous config.

    The config it ran before the last easy_sm deploy. Waits until InService and prints the
    endpoint's name.

    \b
    Example:
        easy_sm rollback -n my-endpoint
    """
    console.result(sagemaker_client(app_name).rollback(endpoint_name, timeout=timeout))


def list_endpoints(
    app_name: AppNameOption = None,
    as_json: JsonOption = False,
    app_only: Annotated[
        bool, typer.Option("--app", help="Only this app's endpoints (tagged easy_sm:app).")
    ] = False,
    iam_role_arn: UnusedRoleOption = None,
    cost: Annotated[
        bool, typer.Option("--cost", help="Cost per InService endpoint, and which were idle.")
    ] = False,
    idle_hours: Annotated[
        int, typer.Option("--idle-hours", min=1, max=1440, help="With --cost: idle window.")
    ] = 24,
) -> None:
    """List endpoints, newest first.

    One `name  status  created` line per endpoint (or --json); an autoscaled endpoint's line
    ends with `min-max` instances, and --json also carries each endpoint's autoscaling range and
    data capture config. With --cost: `name  $/h  ≈ $/month  idle|N invocations` per
    InService endpoint.

    \b
    Example:
        easy_sm list-endpoints --cost --idle-hours 48
    """
    sagemaker = sagemaker_client(app_name)
    found = sagemaker.list_endpoints(app_only=app_only, details=as_json and not cost)
    if cost:
        from easy_sm.commands.describe import print_endpoint_costs

        print_endpoint_costs(sagemaker, found, idle_hours, as_json)
        return
    if as_json:
        print_json(found)
        return
    for endpoint in found:
        scaling = endpoint.get("Autoscaling")
        console.result(
            f"{endpoint.get('EndpointName')}  {endpoint.get('EndpointStatus')}  "
            f"{when(endpoint.get('CreationTime'))}"
            + (f"  {scaling['MinCapacity']}-{scaling['MaxCapacity']}" if scaling else "")
        )


def delete_endpoint(
    endpoint_name: EndpointOption,
    app_name: AppNameOption = None,
    delete_config: Annotated[
        bool,
        typer.Option(
            "--delete-config", help="Also delete every endpoint config easy_sm made for it."
        ),
    ] = False,
    delete_model: Annotated[
        bool,
        typer.Option(
            "--delete-model",
            help="Also delete its configs and their models no other endpoint config uses.",
        ),
    ] = False,
    iam_role_arn: UnusedRoleOption = None,
) -> None:
    """Delete an endpoint and its autoscaling.

    Prints the endpoint's name; each other resource deleted is named on stderr.

    \b
    Example:
        easy_sm delete-endpoint -n my-endpoint --delete-config --delete-model
    """
    console.result(
        sagemaker_client(app_name).delete_endpoint(
            endpoint_name, delete_config=delete_config, delete_model=delete_model
        )
    )


def _request_body(file: Path | None, example: str) -> bytes:
    if file is not None:
        try:
            return file.read_bytes()
        except OSError as exc:
            raise UsageError(f"--file {file}: {exc.strerror}", "give a readable file") from None
    if sys.stdin.isatty():
        raise UsageError("no request body", f"give it with --file, or pipe it in: {example}")
    return sys.stdin.buffer.read()


def invoke(
    endpoint_name: EndpointOption,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Request body file (default: read stdin)."),
    ] = None,
    content_type: Annotated[
        str, typer.Option("--content-type", help="MIME type of the body.")
    ] = "text/csv",
    accept: Annotated[str | None, typer.Option("--accept", help="MIME type wanted back.")] = None,
    app_name: AppNameOption = None,
    is_async: Annotated[
        bool,
        typer.Option("--async", help="Queue it on an async endpoint; print the output location."),
    ] = False,
    input_s3: Annotated[
        str | None,
        typer.Option("--input", help="With --async: a request body already in S3 (s3://...)."),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="With --async: wait for the result and print it."),
    ] = False,
    wait_timeout: Annotated[
        int, typer.Option("--timeout", min=1, help="With --async --wait: seconds to wait.")
    ] = 900,
) -> None:
    """Send a request to an endpoint and print the answer.

    The request body comes from --file or stdin (or, with --async, --input s3://...); the
    response body goes to stdout.

    \b
    Example:
        easy_sm invoke -n my-endpoint --content-type text/csv < request.csv
        easy_sm invoke --async -n my-async --wait < request.csv
    """
    if not is_async and (input_s3 is not None or wait):
        raise UsageError("--input and --wait go with --async", "add --async")
    if input_s3 is not None:
        from easy_sm.sagemaker.names import s3_uri

        s3_uri(input_s3, "--input")
        if file is not None:
            raise UsageError("give the body with --input or --file, not both")
        body = None
    else:
        body = _request_body(file, f"easy_sm invoke -n {endpoint_name} < x.csv")
    sagemaker = sagemaker_client(app_name)
    if is_async:
        answer = sagemaker.invoke_async(
            endpoint_name,
            body=body,
            input_s3=input_s3,
            content_type=content_type,
            accept=accept,
            wait=wait,
            timeout=wait_timeout,
        )
    else:
        answer = sagemaker.invoke(
            endpoint_name, body or b"", content_type=content_type, accept=accept
        )
    sys.stdout.buffer.write(answer if answer.endswith(b"\n") else answer + b"\n")
    sys.stdout.flush()


# `easy_sm <name>` registers just its own command (see __main__.app_for).
_TABLE = CommandTable(
    {
        "deploy": (deploy, {}),
        "deploy-serverless": (deploy_serverless, {}),
        "deploy-async": (deploy_async, {}),
        "rollback": (rollback, {}),
        "list-endpoints": (list_endpoints, {}),
        "delete-endpoint": (delete_endpoint, {}),
        "invoke": (invoke, {}),
    }
)
COMMANDS = _TABLE.names
register = _TABLE.register
