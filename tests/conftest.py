"""Fixtures shared by every test: isolation, the CLI runner, and gates for Docker and moto.

Tests that need Docker or a moto server skip elsewhere with a clear reason, but under
EASY_SM_REQUIRE_INTEGRATION=1 (set by .ci/run) such a skip becomes a failure: CI never passes
by silently not running them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

REQUIRE_INTEGRATION = os.environ.get("EASY_SM_REQUIRE_INTEGRATION", "") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with `reason`, or fail when CI requires the integration tests to run."""
    if REQUIRE_INTEGRATION:
        pytest.fail(f"EASY_SM_REQUIRE_INTEGRATION=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test runs in its own working dir and HOME, with fake AWS credentials."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "SAGEMAKER_ROLE",
        "EASY_SM_DEBUG",
        "EASY_SM_REGISTRY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("NO_COLOR", "1")
    from easy_sm import console
    from easy_sm.commands.helpers import options

    monkeypatch.setattr(console, "verbosity", console.Verbosity())
    monkeypatch.setattr(options, "docker_tag", None)
    yield work


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def docker_available() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed (run ../shared/sandbox/docker-up.sh)"
    try:
        subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            check=True,
            capture_output=True,
            timeout=20,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return "no Docker engine answers (run ../shared/sandbox/docker-up.sh)"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Gate for tests that need the real Docker engine."""
    reason = docker_available()
    if reason:
        skip_or_fail(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server_url() -> Iterator[str]:
    """A moto server (all services) on 127.0.0.1 for the whole session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - dev extras missing
        skip_or_fail(f"moto[server] is not installed ({exc})")
        raise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 at the moto server through AWS_ENDPOINT_URL, with a fresh state per test.

    In-process, so tests can reach moto's backends (e.g. to move a job to Failed) through
    `moto.backends.get_backend("sagemaker")["123456789012"]["eu-west-1"]`.
    """
    import requests

    requests.post(f"{moto_server_url}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    return moto_server_url
