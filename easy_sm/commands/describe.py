"""`easy_sm describe`: why a job failed, what it cost, where its logs are; or an endpoint's
state, instances, autoscaling, cost and last log lines. The summary is the result: stdout."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from easy_sm import console
from easy_sm.commands.cloud_common import CommandTable, print_json, sagemaker_client
from easy_sm.commands.completion import complete_endpoint_name, complete_job_name
from easy_sm.commands.options import AppNameOption, JsonOption
from easy_sm.errors import UsageError


def describe(
    job_name: Annotated[
        str | None,
        typer.Option(
            "--job-name",
            "-j",
            metavar="JOB",
            help="A training, processing, transform or tuning job's name.",
            autocompletion=complete_job_name,
        ),
    ] = None,
    endpoint_name: Annotated[
        str | None,
        typer.Option(
            "--endpoint-name",
            "-n",
            metavar="NAME",
            help="An endpoint's name.",
            autocompletion=complete_endpoint_name,
        ),
    ] = None,
    as_json: JsonOption = False,
    app_name: AppNameOption = None,
) -> None:
    """Status, cost and logs of a job or an endpoint.

    A job is found by name, whatever its kind: status, failure reason, steps with their
    durations, instances, hyperparameters, inputs, output, metrics, billable seconds and the
    estimated cost, warm pool, console links. An endpoint: variants, instances, config history,
    data capture, async config, autoscaling, cost and its last 20 log lines.

    \b
    Example: easy_sm describe -j iris-20261126-101500-1a2b
    Example: easy_sm describe -n my-endpoint --json
    """
    if (job_name is None) == (endpoint_name is None):
        raise UsageError(
            "give either -j/--job-name or -n/--endpoint-name",
            "e.g. easy_sm describe -j JOB_NAME, or easy_sm describe -n ENDPOINT",
        )
    from easy_sm.sagemaker import describe as service

    sagemaker = sagemaker_client(app_name)
    if job_name is not None:
        summary = sagemaker.describe_job(job_name)
        lines = service.render_job(summary)
    else:
        summary = sagemaker.describe_endpoint(str(endpoint_name))
        lines = service.render_endpoint(summary)
    if as_json:
        print_json(summary)
        return
    for line in lines:
        console.result(line)


def print_endpoint_costs(sagemaker: Any, found: list[Any], idle_hours: int, as_json: bool) -> None:
    """`list-endpoints --cost`: one line (or a JSON list) per InService endpoint."""
    from easy_sm.sagemaker.pricing import endpoint_cost_line

    costs = sagemaker.endpoint_costs(found, idle_hours)
    if as_json:
        print_json(costs)
        return
    for cost in costs:
        console.result(endpoint_cost_line(cost))


# `easy_sm <name>` registers just its own command (see __main__.app_for).
_TABLE = CommandTable({"describe": (describe, {})})
COMMANDS = _TABLE.names
register = _TABLE.register
