"""`easy_sm local ps` and `easy_sm local logs`: what this app runs locally, and the log of a
local deployment. Registered onto the `local` group by `commands/local.py`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from easy_sm import console
from easy_sm.commands.options import AppNameOption, JsonOption


def register(local_app: typer.Typer) -> None:
    """Add `ps` and `logs` to the `local` group (once: the root app may be built twice)."""
    if any(command.name == "ps" for command in local_app.registered_commands):
        return
    local_app.command(name="ps")(ps)
    local_app.command(name="logs")(logs)


def ps(app_name: AppNameOption = None, as_json: JsonOption = False) -> None:
    """List this app's running local servers and jobs.

    One `kind  port  image  age  name` line per container (port `-` for jobs), oldest first.

    \b
    Example:
        easy_sm local ps
    """
    from easy_sm.commands.helpers import get_app_name
    from easy_sm.docker.engine import connect
    from easy_sm.docker.local_status import running_containers

    name = get_app_name(app_name)
    found = running_containers(connect(), name)
    if as_json:
        import json

        console.result(json.dumps([c.as_dict() for c in found], indent=2))
        return
    if not found:
        console.info(f"nothing of {name} is running locally")
    for container in found:
        port = str(container.port) if container.port else "-"
        console.result(
            f"{container.kind}  {port}  {container.image}  {container.age()}  {container.name}"
        )


def logs(
    app_name: AppNameOption = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            min=1,
            max=65535,
            metavar="PORT",
            help="The deployment on this port (needed when several run).",
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until it stops.")
    ] = False,
) -> None:
    """Print the log of a local deployment.

    The model server's output (both streams, in order) goes to stdout; with --follow, until
    the server stops or Ctrl-C.

    \b
    Example:
        easy_sm local logs -p 8080 --follow
    """
    from easy_sm.commands.helpers import get_app_name
    from easy_sm.docker.containers import stream_to
    from easy_sm.docker.engine import connect
    from easy_sm.docker.local_status import deployment, stream_logs

    name = get_app_name(app_name)
    server = deployment(connect(), name, port)
    stream_logs(server, stream_to(sys.stdout), follow=follow)
