from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from easy_sm import __version__
from easy_sm.__main__ import app


def test_version_prints_version_on_stdout(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"easy_sm {__version__}\n"


def test_help_lists_every_command_of_the_spec(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("init", "update-scripts", "--docker-tag", "--verbose", "--quiet", "--debug"):
        assert name in result.stdout


def test_invalid_docker_tag_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--docker-tag", "bad tag!", "update-scripts"])
    assert result.exit_code == 2
    assert "error: --docker-tag 'bad tag!' is not a valid Docker tag" in result.stderr


def test_unknown_command_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_console_script_module_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "easy_sm", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"easy_sm {__version__}"


def test_errors_show_no_traceback_unless_debug(runner: CliRunner) -> None:
    # no config here: a ConfigError (exit 3), one line, no traceback
    result = runner.invoke(app, ["update-scripts"])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: no easy_sm config (*.json) found")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    debug = runner.invoke(app, ["--debug", "update-scripts"])
    assert debug.exit_code == 3
    assert "Traceback" in debug.stderr


def _command_names(args: list[str]) -> set[str]:
    import typer.main

    from easy_sm.__main__ import app_for

    group = typer.main.get_command(app_for(args))
    return set(group.commands)  # type: ignore[attr-defined]


def test_a_named_command_loads_only_its_own_commands() -> None:
    assert _command_names(["-q", "--docker-tag", "v1", "train", "-n", "x"]) == {"train"}
    assert _command_names(["local", "train"]) == {"local"}
    assert _command_names(["--verbose", "init"]) == {"init"}


def test_help_completion_and_unknown_commands_get_the_full_app() -> None:
    full = _command_names([])
    assert {"init", "build", "push", "train", "deploy", "local", "logs"} <= full
    for args in (["--help"], ["-h", "train"], ["nope"], ["--version"]):
        assert _command_names(args) == full


def test_the_console_script_runs_a_named_command_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "easy_sm", "--docker-tag", "bad tag", "local", "stop"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "error: --docker-tag 'bad tag' is not a valid Docker tag" in done.stderr
