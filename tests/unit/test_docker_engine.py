"""Reaching the Docker engine: one clear error per failure (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.docker import engine


@pytest.fixture
def dead_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    host = f"unix://{tmp_path / 'dead.sock'}"
    monkeypatch.setenv("DOCKER_HOST", host)
    return host


@pytest.fixture
def project(runner: CliRunner) -> None:
    result = runner.invoke(app, ["init", "--app-name", "demo", "--yes"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["build"],
        ["local", "train"],
        ["local", "process", "-f", "process_data.py"],
        ["local", "run", "--", "true"],
        ["local", "deploy"],
        ["local", "stop"],
        ["push"],
    ],
)
def test_every_docker_command_says_when_the_daemon_is_down(
    project: None, dead_daemon: str, runner: CliRunner, command: list[str]
) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 5, result.stderr
    assert result.stdout == ""
    assert f"the Docker engine is not running or not reachable at {dead_daemon}" in result.stderr


def test_permission_denied_on_the_socket_has_its_own_message() -> None:
    error = engine._unreachable(PermissionError(13, "Permission denied"))
    assert "permission denied on the Docker socket" in error.message
    assert "docker group" in (error.hint or "")


def test_docker_not_installed_has_its_own_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engine.shutil, "which", lambda name: None)
    error = engine._unreachable(FileNotFoundError(2, "No such file or directory"))
    assert error.message.startswith("Docker is not installed")
