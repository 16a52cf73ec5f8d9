"""easy_sm's entry point: the Typer root app, its global options, and the one error boundary.

Start-up must stay instant: nothing here (or in the command modules at import time) may import
boto3, botocore, docker or rich. Services import them inside the functions that need them.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.28 carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on the real click
    import click.exceptions as click_errors  # type: ignore[no-redef]

from easy_sm import __version__, console, signals
from easy_sm.commands import (
    build,
    data,
    doctor,
    endpoints,
    initialize,
    jobs,
    local,
    local_tune,
    push,
    tuning,
    update,
)
from easy_sm.commands import describe as describe_commands
from easy_sm.commands.helpers import options
from easy_sm.errors import EasySmError, InterruptedByUser


class _ErrorBoundaryGroup(TyperGroup):
    """Catches errors once, for every command: `error: <what> — <how to fix>` on stderr and the
    error class's exit code; a traceback only with --debug / EASY_SM_DEBUG=1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EasySmError as exc:
            if console.verbosity.debug:
                traceback.print_exc()
            if isinstance(exc, InterruptedByUser):
                hint = exc.hint or _INTERRUPT_HINT
                console.error(_interrupt_line(exc.message, hint, exc.__context__))
                raise typer.Exit(signals.exit_code(exc.__context__)) from None
            console.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            console.error(_interrupt_line("interrupted", _INTERRUPT_HINT, exc))
            raise typer.Exit(signals.exit_code(exc)) from None
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

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        from easy_sm.commands.help_text import tidy

        command = super().get_command(ctx, cmd_name)
        return tidy(command) if command is not None else None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's own errors (a bad option value, an unknown command or option, a missing
        option) as ONE line `error: <what> — <fix>` and exit 2, like every other error."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()  # `easy_sm local` alone: the group's help
            sys.exit(exc.exit_code)
        except click_errors.UsageError as exc:
            console.error(usage_error_line(exc))
            sys.exit(exc.exit_code)
        except click_errors.ClickException as exc:
            console.error(f"{_one_line(exc.format_message())} — see `easy_sm --help`")
            sys.exit(exc.exit_code)
        except typer.Abort:
            console.error(_interrupt_line("aborted", _INTERRUPT_HINT, None))
            sys.exit(signals.exit_code())
        if code == 130:  # a signal during argument parsing (typer's KeyboardInterrupt path)
            code = signals.exit_code()
        sys.exit(code if isinstance(code, int) else 0)


_INTERRUPT_HINT = "run the command again to redo it"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _interrupt_line(message: str, hint: str, cause: BaseException | None) -> str:
    """`interrupted…` said as what happened: by Ctrl-C, or by SIGTERM/SIGHUP."""
    name = signals.name(cause)
    if name:
        message = f"{message} ({name} received)"
    return f"{message} — {hint}"


def usage_error_line(exc: click_errors.UsageError) -> str:
    """Click's usage error as `<what> — <fix>`; click's "Did you mean …" becomes the fix."""
    text = _one_line(exc.format_message())
    what, sep, suggestion = text.partition(" Did you mean")
    if not sep:
        what, sep, options = text.partition(" (Possible options: ")
        suggestion = f" {options.rstrip(')').replace(', ', ' or ')}?"
    what = what.rstrip(".")
    what = what[:1].lower() + what[1:]
    if sep:
        return f"{what} — did you mean{suggestion}"
    words = exc.ctx.command_path.split()[1:] if exc.ctx is not None else []
    return f"{what} — see `{' '.join(['easy_sm', *words])} --help`"


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
            metavar="TAG",
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

    if docker_tag is not None and not DOCKER_TAG_RE.fullmatch(docker_tag):
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
describe_commands.register(app)
tuning.register(app)
local_tune.register(app)
doctor.register(app)

# Which module registers a top-level command; modules with several commands list them in
# their COMMANDS and register just the one asked for.
_MODULE_OF = {"init": initialize, "update-scripts": update, "build": build, "push": push}
_MODULE_OF["local"] = local
_MODULE_OF["doctor"] = doctor
_CLOUD_MODULE_OF = {name: module for module in (data, jobs, endpoints) for name in module.COMMANDS}
_CLOUD_MODULE_OF["describe"] = describe_commands
_CLOUD_MODULE_OF.update({name: tuning for name in tuning.COMMANDS})


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
    signals.install()
    app_for(args)(args, prog_name="easy_sm")


if __name__ == "__main__":
    cli()
