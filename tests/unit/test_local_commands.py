"""Flags of `easy_sm local`, `build` and `push` checked before any container starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app


@pytest.fixture(autouse=True)
def project(runner: CliRunner) -> None:
    result = runner.invoke(app, ["init", "--app-name", "demo", "--yes"])
    assert result.exit_code == 0, result.stderr


def test_local_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["local", "--help"])
    assert result.exit_code == 0
    for name in ("train", "process", "run", "deploy", "stop"):
        assert name in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["local", "train", "--env", "NOEQUALS"], "--env 'NOEQUALS': expected KEY=VALUE"),
        (["local", "train", "--hp", "x"], "--hyperparameters 'x': expected KEY=VALUE"),
        (["local", "train", "--hyperparameters-file", "nope.json"], "no such file"),
        (["local", "process", "-f", "p.py", "--env", "A-B=1"], "not a valid variable name"),
        (["push", "-i", "arn:aws:iam::123456789012:role/r", "-p", "x"], "cannot be used together"),
        (["push", "-i", "not-an-arn"], "is not an IAM role ARN"),
        (["push", "-e", "id"], "--external-id needs --iam-role-arn"),
    ],
)
def test_bad_flags_are_usage_errors(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_local_deploy_rejects_an_out_of_range_port(runner: CliRunner) -> None:
    result = runner.invoke(app, ["local", "deploy", "-p", "70000"])
    assert result.exit_code == 2


@pytest.mark.parametrize("command", [["local", "--help"], ["build", "--help"], ["push", "--help"]])
def test_help_of_docker_commands_imports_neither_docker_nor_boto3(command: list[str]) -> None:
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from easy_sm.__main__ import app\n"
        "try:\n"
        f"    app({command!r}, prog_name='easy_sm')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('docker', 'boto3', 'botocore', 'requests', 'rich')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "Usage:" in done.stdout
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
