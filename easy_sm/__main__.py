"""easy_sm's entry point: the Typer root app, its global options, and the one error boundary.

Start-up must stay instant: nothing here (or in the command modules at import time) may import
boto3, botocore, docker or rich. Services import them inside the functions that need them.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from easy_sm import __version__, console
from easy_sm.commands import build, data, doctor, endpoints, initialize, jobs, local, push, update
from easy_sm.commands.helpers import options
from easy_sm.errors import EasySmError


class _ErrorBoundaryGroup(TyperGroup):
    """Catches errors once, for every command: `error: <what> — <how to fix>` on stderr and the
    error class's exit code; a traceback only with --debug / EASY_SM_DEBUG=1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EasySmError as exc:
            if console.verbosity.debug:
                traceback.print_exc()
            console.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.error("interrupted")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if exc.__class__.__module__.startswith(("click", "typer")):
                raise
            if console.verbosity.debug:
                traceback.print_exc()
            console.error(
                f"unexpected {type(exc).__name__}: {exc} — rerun with --debug for the traceback "
                "and report it"
            )
            raise typer.Exit(1) from None


def _new_app() -> typer.Typer:
    return typer.Typer(
        cls=_ErrorBoundaryGroup,
        help="easy_sm: build, run locally and deploy your ML code on AWS SageMaker.",
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


app = _new_app()


def _print_version(value: bool) -> None:
    if value:
        console.result(f"easy_sm {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    docker_tag: Annotated[
        str | None,
        typer.Option(
            "--docker-tag",
            help="Docker image tag to use (default: the config's docker_tag, else 'latest').",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more on stderr.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """easy_sm: build, run locally and deploy your ML code on AWS SageMaker."""
    from easy_sm.config.config import DOCKER_TAG_RE
    from easy_sm.errors import UsageError

    if docker_tag is not None and not DOCKER_TAG_RE.match(docker_tag):
        raise UsageError(
            f"--docker-tag {docker_tag!r} is not a valid Docker tag",
            "use letters, digits, '_', '.', '-' (at most 128)",
        )
    options.docker_tag = docker_tag
    console.verbosity.verbose = verbose
    console.verbosity.quiet = quiet
    console.verbosity.debug = debug or console.verbosity.debug


COMMAND_MODULES = (initialize, update, build, push, data, jobs, endpoints, local)
for _module in COMMAND_MODULES:
    _module.register(app)
doctor.register(app)

# Which module registers a top-level command; modules with several commands list them in
# their COMMANDS and register just the one asked for.
_MODULE_OF = {"init": initialize, "update-scripts": update, "build": build, "push": push}
_MODULE_OF["local"] = local
_MODULE_OF["doctor"] = doctor
_CLOUD_MODULE_OF = {name: module for module in (data, jobs, endpoints) for name in module.COMMANDS}


def app_for(args: list[str]) -> typer.Typer:
    """The app to run `args` with: one holding only the requested command's module when the
    command is named (Typer introspects every registered command's signature on each run, so
    this keeps `easy_sm local train` from paying for the 20 others), else the full app (help,
    completion, unknown commands)."""
    if "_EASY_SM_COMPLETE" in os.environ:
        return app
    index = 0
    while index < len(args):
        token = args[index]
        if token in ("-h", "--help", "--version") or token.startswith("--install-completion"):
            return app
        if token == "--docker-tag":
            index += 2
            continue
        if token.startswith("-"):
            index += 1
            continue
        narrow = _new_app()
        narrow.callback()(main)
        if token in _MODULE_OF:
            _MODULE_OF[token].register(narrow)
        elif token in _CLOUD_MODULE_OF:
            _CLOUD_MODULE_OF[token].register(narrow, only=token)
        else:
            return app
        return narrow
    return app


def cli() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    if "--debug" in args:
        console.verbosity.debug = True
    app_for(args)(args, prog_name="easy_sm")


if __name__ == "__main__":
    cli()
