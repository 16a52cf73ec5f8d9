"""A serving container removed by someone else while `local deploy` waits for /ping gives the
documented job-failed error (exit 6 class), not the SDK's NotFound as an "unexpected" exit 1."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest

from easy_sm.docker.containers import RunSpec, start_server
from easy_sm.docker.engine import connect
from easy_sm.errors import JobFailedError
from tests.conftest import free_port


def test_server_removed_while_waiting_for_ping_is_a_clear_job_failure(docker_engine: None) -> None:
    spec = RunSpec(
        image="python:3.11-slim",
        command=["sleep", "60"],
        app_name=f"vanish-{uuid.uuid4().hex[:6]}",
        kind="serve",
    )

    def remove_it_soon() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = subprocess.run(
                ["docker", "ps", "-q", "--filter", f"name={spec.name}"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if found:
                time.sleep(0.5)
                subprocess.run(["docker", "rm", "-f", spec.name], capture_output=True)
                return
            time.sleep(0.1)

    remover = threading.Thread(target=remove_it_soon)
    remover.start()
    try:
        with pytest.raises(JobFailedError) as failure:
            start_server(connect(), spec, free_port(), timeout=30)
    finally:
        remover.join()
        subprocess.run(["docker", "rm", "-f", spec.name], capture_output=True)
    assert "was removed before /ping answered" in str(failure.value)
    assert failure.value.exit_code == 6
    assert "\n" not in str(failure.value)
