"""The endpoint commands: deploy, deploy-serverless, list-endpoints, delete-endpoint, invoke.
stdout carries only each command's result (an endpoint name, a response body, --json)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from easy_sm import console
from easy_sm.commands.cloud_common import print_json, sagemaker_client, when
from easy_sm.commands.options import (
    AppNameOption,
    Ec2TypeOption,
    EndpointOption,
    IamRoleOption,
    InstanceCountOption,
    JsonOption,
    ModelOption,
    TimeoutOption,
    UnusedRoleOption,
)
from easy_sm.errors import UsageError

if TYPE_CHECKING:
    pass


def deploy(
    s3_model_location: ModelOption,
    instance_type: Ec2TypeOption,
    endpoint_name: EndpointOption,
    iam_role_arn: IamRoleOption = None,
    app_name: AppNameOption = None,
    instance_count: InstanceCountOption = 1,
    timeout: TimeoutOption = 1800,
) -> None:
    """Deploy a model to a SageMaker endpoint.

    Creates (or updates) a provisioned endpoint, waits until it is InService and prints its name.

    \b
    Example:
        easy_sm deploy -n my-endpoint -e ml.m5.large -m s3://my-bucket/models/iris/model.tar.gz
    """
    from easy_sm.sagemaker.endpoints import instance_variant

    variant = instance_variant(instance_type, instance_count)
    sagemaker = sagemaker_client(app_name, iam_role_arn, needs_role=True)
    console.result(sagemaker.deploy(s3_model_location, endpoint_name, variant, timeout=timeout))


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
) -> None:
    """Deploy a model to a serverless endpoint.

    Creates (or updates) a serverless endpoint, waits until it is InService and prints its name.

    \b
    Example:
        easy_sm deploy-serverless -n my-endpoint -s 2048 -m s3://my-bucket/model.tar.gz
    """
    from easy_sm.sagemaker.endpoints import serverless_variant

    variant = serverless_variant(memory_size_in_mb, max_concurrency)
    sagemaker = sagemaker_client(app_name, iam_role_arn, needs_role=True)
    console.result(sagemaker.deploy(s3_model_location, endpoint_name, variant, timeout=timeout))


def list_endpoints(
    app_name: AppNameOption = None,
    as_json: JsonOption = False,
    iam_role_arn: UnusedRoleOption = None,
    cost: Annotated[
        bool, typer.Option("--cost", help="Cost per InService endpoint, and which were idle.")
    ] = False,
    idle_hours: Annotated[
        int, typer.Option("--idle-hours", min=1, max=1440, help="With --cost: idle window.")
    ] = 24,
) -> None:
    """List endpoints, newest first.

    One `name  status  created` line per endpoint (or --json). With --cost:
    `name  $/h  ≈ $/month  idle|N invocations` per InService endpoint.

    \b
    Example:
        easy_sm list-endpoints --cost --idle-hours 48
    """
    sagemaker = sagemaker_client(app_name)
    found = sagemaker.list_endpoints()
    if cost:
        from easy_sm.commands.describe import print_endpoint_costs

        print_endpoint_costs(sagemaker, found, idle_hours, as_json)
        return
    if as_json:
        print_json(found)
        return
    for endpoint in found:
        console.result(
            f"{endpoint.get('EndpointName')}  {endpoint.get('EndpointStatus')}  "
            f"{when(endpoint.get('CreationTime'))}"
        )


def delete_endpoint(
    endpoint_name: EndpointOption,
    app_name: AppNameOption = None,
    delete_config: Annotated[
        bool, typer.Option("--delete-config", help="Also delete the endpoint's config.")
    ] = False,
    iam_role_arn: UnusedRoleOption = None,
) -> None:
    """Delete an endpoint.

    With --delete-config also its endpoint config; prints the endpoint's name.

    \b
    Example:
        easy_sm delete-endpoint -n my-endpoint --delete-config
    """
    console.result(
        sagemaker_client(app_name).delete_endpoint(endpoint_name, delete_config=delete_config)
    )


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
) -> None:
    """Send a request to an endpoint and print the answer.

    The request body comes from --file or stdin; the response body goes to stdout.

    \b
    Example:
        easy_sm invoke -n my-endpoint --content-type text/csv < request.csv
    """
    if file is not None:
        try:
            body = file.read_bytes()
        except OSError as exc:
            raise UsageError(f"--file {file}: {exc.strerror}", "give a readable file") from None
    elif sys.stdin.isatty():
        raise UsageError(
            "no request body", "give it with --file, or pipe it in: easy_sm invoke -n EP < x.csv"
        )
    else:
        body = sys.stdin.buffer.read()
    answer = sagemaker_client(app_name).invoke(
        endpoint_name, body, content_type=content_type, accept=accept
    )
    sys.stdout.buffer.write(answer if answer.endswith(b"\n") else answer + b"\n")
    sys.stdout.flush()


# name -> (function, extra command settings); `easy_sm <name>` registers just its own.
_COMMANDS: dict[str, tuple[Callable[..., None], dict[str, Any]]] = {
    "deploy": (deploy, {}),
    "deploy-serverless": (deploy_serverless, {}),
    "list-endpoints": (list_endpoints, {}),
    "delete-endpoint": (delete_endpoint, {}),
    "invoke": (invoke, {}),
}
COMMANDS = tuple(_COMMANDS)


def register(app: typer.Typer, only: str | None = None) -> None:
    """Add this module's commands (or just `only`) to the root app."""
    for name, (function, settings) in _COMMANDS.items():
        if only is None or name == only:
            app.command(name, **settings)(function)
