"""A failed or interrupted `build` leaves no dangling intermediate image (nor build container);
a failed `push` leaves no `<registry>/<image>:<tag>` tag on the local image. Real engine, real
`easy_sm` process and real signals."""

from __future__ import annotations

import json
import re
import shutil
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from tests.conftest import free_port
from tests.integration.test_signals import EasySmProcess

pytestmark = pytest.mark.usefixtures("docker_engine")

LAYER_RE = re.compile(r"---> ([0-9a-f]{12})\b")


@pytest.fixture
def slow_project(example_project: Path, tmp_path: Path) -> Path:
    """A copy of the example project whose Dockerfile makes one layer, then a given step."""
    project = tmp_path / "project"
    shutil.copytree(example_project, project, ignore=shutil.ignore_patterns("test_dir"))
    config = project / "ex-app.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    data["docker_tag"] = f"cleanup-{uuid.uuid4().hex[:8]}"
    config.write_text(json.dumps(data), encoding="utf-8")
    return project


def _dockerfile(project: Path, last_step: str) -> str:
    marker = uuid.uuid4().hex
    (project / "ex-app" / "easy_sm_base" / "Dockerfile").write_text(
        "ARG BASE_IMAGE=python:3.11-slim\n"
        "FROM ${BASE_IMAGE}\n"
        f"RUN echo {marker} > /marker\n"
        f"{last_step}\n",
        encoding="utf-8",
    )
    return json.loads((project / "ex-app.json").read_text(encoding="utf-8"))["docker_tag"]


def _image_exists(docker_client: Any, ref: str) -> bool:
    import docker.errors

    try:
        docker_client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def test_sigterm_during_build_cancels_it_and_removes_its_layers(
    slow_project: Path, docker_client: Any
) -> None:
    tag = _dockerfile(slow_project, "RUN sleep 120")
    build = EasySmProcess(["build"], slow_project)
    try:
        build.wait_for_line(re.compile(r"Step \d+/\d+ : RUN sleep"), timeout=120)
        running = build.wait_for_line(re.compile(r"Running in ([0-9a-f]{12})"), timeout=60)
        # the last layer before the sleep step: the one `RUN echo` made
        made = [m.group(1) for m in map(LAYER_RE.search, build.lines) if m][-1]
        build.proc.send_signal(signal.SIGTERM)
        assert build.finish(timeout=60) == 143, build.stderr
    finally:
        build.proc.kill()
    assert not _image_exists(docker_client, made), f"layer {made} left behind\n{build.stderr}"
    assert not docker_client.containers.list(all=True, filters={"id": running.group(1)})
    assert not _image_exists(docker_client, f"ex-app:{tag}")
    assert "Traceback" not in build.stderr


def test_failed_build_removes_the_layers_it_made(
    slow_project: Path, docker_client: Any, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = _dockerfile(slow_project, "RUN exit 3")
    monkeypatch.chdir(slow_project)
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 5, result.stderr
    made = [m.group(1) for m in map(LAYER_RE.search, result.stderr.splitlines()) if m][-1]
    assert not _image_exists(docker_client, made), f"layer {made} left behind"
    assert not _image_exists(docker_client, f"ex-app:{tag}")


def test_failed_push_leaves_no_registry_tag_on_the_image(
    example_project: Path,
    example_image: str,
    moto: str,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    docker_client: Any,
) -> None:
    monkeypatch.chdir(example_project)
    registry = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = runner.invoke(app, ["push", "--registry", registry])
    assert result.exit_code == 5, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and " — " in errors[0]
    tags = docker_client.images.get(example_image).tags
    assert not [t for t in tags if t.startswith(registry)], tags
