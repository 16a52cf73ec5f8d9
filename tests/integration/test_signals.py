"""SIGTERM / SIGHUP sent to a real `easy_sm` process on the real Docker engine: what the run
started is stopped and removed, one `error:` line with a fix, exit 128 + the signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("docker_engine")

RUNNING_RE = re.compile(r"running \S+ .*\((easy-sm-[A-Za-z0-9_-]+)\)")


class EasySmProcess:
    """`python -m easy_sm ARGS` in `cwd`, its stderr collected line by line as it comes."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "easy_sm", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = pattern.search(line)
                if found:
                    return found
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"no line matching {pattern.pattern!r}; stderr:\n{self.stderr}")

    def finish(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def _wait_running(docker_client: Any, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = docker_client.containers.list(filters={"name": name}, ignore_removed=True)
        if found and found[0].status == "running":
            return
        time.sleep(0.1)
    raise AssertionError(f"container {name} never ran")  # the caller adds easy_sm's stderr


def _gone(docker_client: Any, name: str) -> bool:
    return not docker_client.containers.list(
        all=True, filters={"name": f"^/{name}$"}, ignore_removed=True
    )


def _assert_one_error_line(stderr: str, *, contains: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert " — " in errors[0] and contains in errors[0], errors[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["TERM", "HUP"]
)
def test_signal_during_local_run_stops_and_removes_the_container(
    example_project: Path, example_image: str, docker_client: Any, signum: int, code: int
) -> None:
    run = EasySmProcess(["local", "run", "--", "sleep", "30"], example_project)
    name = run.wait_for_line(RUNNING_RE).group(1)
    try:
        _wait_running(docker_client, name)
        sent = time.monotonic()
        run.proc.send_signal(signum)
        run.wait_for_line(re.compile(rf"stopping container {name}"), timeout=5)
        told_after = time.monotonic() - sent
        assert run.finish(timeout=40) == code, run.stderr
    finally:
        run.proc.kill()
    assert told_after < 3, f"the user was told after {told_after:.1f} s"
    assert _gone(docker_client, name), f"container {name} left behind"
    _assert_one_error_line(run.stderr, contains=signal.Signals(signum).name)


@pytest.fixture
def trained_copy(example_project: Path, example_image: str, tmp_path: Path) -> Path:
    """A copy of the example project with a freshly trained model (the server needs one)."""
    import shutil

    from tests.integration.conftest import run_cli

    project = tmp_path / "project"
    shutil.copytree(example_project, project)
    code, _, err = run_cli(["local", "train"], project)
    assert code == 0, err
    return project


def test_sigterm_while_local_deploy_waits_for_ping_removes_the_server(
    trained_copy: Path, docker_client: Any
) -> None:
    from tests.conftest import free_port

    # Bound to the container's own loopback, the server never answers through the port map,
    # so `local deploy` is still waiting for /ping when the signal arrives.
    deploy = EasySmProcess(
        ["local", "deploy", "-p", str(free_port()), "--env", "EASY_SM_BIND_HOST=127.0.0.1"],
        trained_copy,
    )
    name = deploy.wait_for_line(RUNNING_RE).group(1)
    try:
        deploy.wait_for_line(re.compile(r"waiting up to"))
        try:
            _wait_running(docker_client, name)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; easy_sm said:\n{deploy.stderr}") from None
        deploy.proc.send_signal(signal.SIGTERM)
        assert deploy.finish(timeout=40) == 143, deploy.stderr
    finally:
        deploy.proc.kill()
    assert _gone(docker_client, name), f"serving container {name} left behind"
    assert deploy.proc.stdout is not None and deploy.proc.stdout.read() == ""
    _assert_one_error_line(deploy.stderr, contains="SIGTERM")
