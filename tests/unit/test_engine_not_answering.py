"""A Docker engine that accepts the connection and never answers: every command that talks to
it gives up within its bounded timeout with exit 5 and "the Docker engine is not answering",
and `local train` leaves the user's last model alone."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app


@pytest.fixture
def silent_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A unix socket that accepts every connection and never says a word."""
    path = Path("/tmp") / f"easy-sm-silent-{tmp_path.name}-{time.monotonic_ns()}.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    monkeypatch.setenv("EASY_SM_DOCKER_TIMEOUT", "1")
    try:
        yield path
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()
        path.unlink(missing_ok=True)


@pytest.fixture
def project(isolated: Path, runner: CliRunner) -> Path:
    result = runner.invoke(app, ["init", "--app-name", "app", "--python-version", "3.11", "--yes"])
    assert result.exit_code == 0, result.stderr
    return isolated


@pytest.mark.parametrize(
    "args",
    [
        ["build"],
        ["local", "deploy"],
        ["local", "stop"],
        ["local", "train"],
        ["local", "run", "--", "true"],
        ["push"],
        ["local", "ps"],
        ["local", "logs"],
        ["local", "tune", "--range", "C=continuous:0.1:1", "--objective", "acc", "--max-jobs", "1"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_silent_engine_gives_exit_5_within_the_timeout(
    silent_engine: Path, project: Path, runner: CliRunner, args: list[str]
) -> None:
    started = time.monotonic()
    result = runner.invoke(app, args)
    took = time.monotonic() - started
    assert result.exit_code == 5, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "the Docker engine is not answering" in errors[0], result.stderr
    assert " — " in errors[0]
    assert took < 15, f"took {took:.1f} s"


def test_local_train_keeps_the_last_model_when_the_engine_does_not_answer(
    silent_engine: Path, project: Path, runner: CliRunner
) -> None:
    test_dir = project / "app" / "easy_sm_base" / "local_test" / "test_dir"
    model = test_dir / "model" / "model.pkl"
    output = test_dir / "output" / "data" / "metrics.json"
    for path in (model, output):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("precious", encoding="utf-8")

    result = runner.invoke(app, ["local", "train"])

    assert result.exit_code == 5, result.stderr
    assert model.read_text(encoding="utf-8") == "precious"
    assert output.read_text(encoding="utf-8") == "precious"


def test_local_train_keeps_the_last_model_when_the_engine_is_down(
    project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    model = project / "app" / "easy_sm_base" / "local_test" / "test_dir" / "model" / "m.pkl"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_text("precious", encoding="utf-8")

    result = runner.invoke(app, ["local", "train"])

    assert result.exit_code == 5, result.stderr
    assert "not running or not reachable" in result.stderr
    assert model.read_text(encoding="utf-8") == "precious"
