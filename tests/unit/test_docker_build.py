"""The build context and build args of `easy_sm build`, without a Docker engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.commands.helpers import load_project
from easy_sm.docker.build import build_request, context_files


@pytest.fixture
def project(runner: CliRunner, isolated: Path) -> Path:
    result = runner.invoke(app, ["init", "--app-name", "demo", "--python-version", "3.13", "--yes"])
    assert result.exit_code == 0, result.stderr
    return isolated


def request_for(project: Path, platform: str = "linux/amd64"):  # type: ignore[no-untyped-def]
    loaded = load_project(None)
    return build_request(
        loaded.config,
        loaded.project_dir,
        loaded.module_dir,
        loaded.requirements_file,
        loaded.image,
        platform=platform,
    )


def test_build_args_come_from_the_config(project: Path) -> None:
    request = request_for(project)
    assert request.context_dir == project
    assert request.dockerfile == "demo/easy_sm_base/Dockerfile"
    assert request.tag == "demo:latest"
    assert request.platform == "linux/amd64"
    assert request.buildargs == {
        "BASE_IMAGE": "python:3.13-slim",
        "MODULE_DIR": "demo",
        "MODULE_NAME": "demo",
        "REQUIREMENTS_FILE": "requirements.txt",
        "PYTHON_VERSION": "3.13",
    }


def test_context_keeps_code_and_leaves_out_test_data_git_and_venvs(project: Path) -> None:
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    venv = project / "my-env"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib.py").write_text("")
    files = context_files(request_for(project))
    assert "demo/easy_sm_base/training/training.py" in files
    assert "demo/easy_sm_base/Dockerfile" in files
    assert "requirements.txt" in files
    assert not [f for f in files if "test_dir" in f]
    assert not [f for f in files if f.startswith((".git", "my-env"))]


def test_context_exclusions_hold_even_without_or_against_the_dockerignore(project: Path) -> None:
    (project / ".dockerignore").write_text("!**/local_test/test_dir\n!.git\n")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("x")
    (project / ".venv").mkdir()
    (project / ".venv" / "x.py").write_text("")
    files = context_files(request_for(project))
    assert not [f for f in files if "test_dir" in f or f.startswith((".git", ".venv"))]
    (project / ".dockerignore").unlink()
    files = context_files(request_for(project))
    assert not [f for f in files if "test_dir" in f or f.startswith((".git", ".venv"))]


def test_the_users_dockerignore_is_honoured(project: Path) -> None:
    (project / "notes").mkdir()
    (project / "notes" / "big.bin").write_text("x")
    (project / ".dockerignore").write_text("notes\n")
    assert not [f for f in context_files(request_for(project)) if f.startswith("notes")]


def test_build_rejects_a_bad_platform(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["build", "--platform", "amd64 ; rm -rf /"])
    assert result.exit_code == 2
    assert "--platform" in result.stderr


def test_build_without_a_dockerfile_is_a_config_error(project: Path, runner: CliRunner) -> None:
    (project / "demo" / "easy_sm_base" / "Dockerfile").unlink()
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 3
    assert "Dockerfile not found" in result.stderr
