"""What a new user meets in the first hour (issue 9), on the real Docker engine: container
output in the order it was written, commands shown as a shell needs them, and a model server
that dies on a bad model reported without noise."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from tests.conftest import free_port
from tests.integration.conftest import remove_image_everywhere, run_cli

pytestmark = pytest.mark.docker

BASE = Path("ex-app/easy_sm_base")

# Alternating stdout / stderr lines, written as fast as Python can: two pipes read by two
# goroutines in the engine reorder them; one stream keeps them in order.
INTERLEAVED_TRAINING = """
import sys


def train(input_data_path, model_save_path, hyperparameters=None):
    for number in range(300):
        stream = sys.stdout if number % 2 else sys.stderr
        print(f"line-{number:03d}", file=stream, flush=True)
    print("user's last line", flush=True)
"""


APP = f"fh-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def own_project(example_project: Path, example_image: str, tmp_path: Path) -> Path:
    """A copy of the example project under an app name of its own: containers are found by
    the app's label, and other test sessions run (and stop) `ex-app` containers meanwhile.
    (The renamed config changes the build context: commands run with --no-build so the
    session's image is used as it is.)"""
    project = tmp_path / "project"
    shutil.copytree(example_project, project)
    (project / "ex-app.json").rename(project / f"{APP}.json")
    return project


@pytest.fixture
def interleaving_image(own_project: Path) -> Iterator[str]:
    """The example project with a training.py that interleaves stdout and stderr, built under
    a tag of its own (a code-only rebuild on the session image's cached layers)."""
    (own_project / BASE / "training" / "training.py").write_text(INTERLEAVED_TRAINING)
    tag = f"fh-{uuid.uuid4().hex[:8]}"
    code, out, err = run_cli(["--docker-tag", tag, "build", "-q"], own_project)
    assert code == 0, err
    try:
        yield tag
    finally:
        remove_image_everywhere(out.strip())


def test_local_train_shows_container_output_in_the_order_it_was_written(
    own_project: Path, interleaving_image: str, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(app, ["--docker-tag", interleaving_image, "local", "train"])
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("line-")]
    assert lines == [f"line-{number:03d}" for number in range(300)]
    tail = result.stderr.splitlines()[-2:]
    assert tail == ["user's last line", "training complete"]


def test_local_run_shows_its_command_quoted_as_a_shell_needs_it(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(
        app,
        ["local", "run", "--no-build", "--", "python", "-c", "import sys; print(len(sys.argv))"],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1\n"
    shown = " run python -c 'import sys; print(len(sys.argv))' (easy-sm-"
    assert f"{shown}{APP}-run-" in result.stderr.splitlines()[0]


def test_a_server_that_exits_on_a_bad_model_is_reported_once_without_the_timeout_hint(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, docker_client: object
) -> None:
    monkeypatch.chdir(own_project)  # never trained: model_fn finds no model
    port = free_port()
    result = runner.invoke(
        app,
        [
            "local",
            "deploy",
            "--no-build",
            "-p",
            str(port),
            "--timeout",
            "90",
            "--env",
            "SAGEMAKER_MODEL_SERVER_WORKERS=3",
        ],
    )
    assert result.exit_code == 6, result.stderr
    assert result.stdout == ""
    err = result.stderr
    last = err.splitlines()[-1]
    assert last.startswith("error: the serving container exited (code ")
    assert "run `easy_sm local train` first" in last
    assert "--timeout" not in last
    assert "--- last lines of the container's log ---" in err
    assert err.count("Traceback (most recent call last)") <= 1
    listed = docker_client.containers.list(  # type: ignore[attr-defined]
        all=True, filters={"label": [f"easy_sm.app={APP}"]}
    )
    assert listed == []


# --- item 12: local ps / local logs ---------------------------------------------------------


@pytest.fixture
def deployed(own_project: Path) -> Iterator[tuple[Path, int]]:
    """The example app trained and deployed on a free port; stopped afterwards."""
    code, _, err = run_cli(["-q", "local", "train", "--no-build"], own_project)
    assert code == 0, err
    port = free_port()
    code, _, err = run_cli(
        ["local", "deploy", "--no-build", "-p", str(port), "--timeout", "120"], own_project
    )
    assert code == 0, err
    try:
        yield own_project, port
    finally:
        run_cli(["local", "stop", "-p", str(port)], own_project)


def test_local_ps_lists_the_running_deployment_and_logs_shows_and_follows_it(
    deployed: tuple[Path, int], example_image: str
) -> None:
    project, port = deployed
    code, out, err = run_cli(["local", "ps"], project)
    assert code == 0, err
    (line,) = [row for row in out.splitlines() if row.startswith(f"serve  {port}  ")]
    kind, shown_port, image, age, name = line.split("  ")
    assert (kind, shown_port, image) == ("serve", str(port), example_image)
    assert re.fullmatch(r"\d+ (s|min)", age)
    assert name.startswith(f"easy-sm-{APP}-serve-")

    code, out, err = run_cli(["local", "ps", "--json"], project)
    assert code == 0, err
    (mine,) = [c for c in json.loads(out) if c["port"] == port]
    assert mine["url"] == f"http://127.0.0.1:{port}" and mine["name"] == name

    code, out, err = run_cli(["local", "logs", "-p", str(port)], project)
    assert code == 0, err
    assert "model loaded from /opt/ml/model" in out

    follower = subprocess.Popen(
        [sys.executable, "-m", "easy_sm", "local", "logs", "-p", str(port), "--follow"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        assert follower.poll() is None, "--follow returned while the server runs"
        assert run_cli(["local", "stop", "-p", str(port)], project)[0] == 0
        out, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert "model loaded from /opt/ml/model" in out

    code, out, err = run_cli(["local", "logs", "-p", str(port)], project)
    assert code == 2
    assert err.startswith(f"error: no local deployment of {APP} on port {port} is running — ")
