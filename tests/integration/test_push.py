"""`easy_sm push` round trip: moto serves ECR and STS, a local `docker-registry` (CNCF
distribution) with basic auth stands in for the ECR registry, and the image is read back
from it."""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from typer.testing import CliRunner

from easy_sm.__main__ import app
from tests.conftest import free_port, skip_or_fail

pytestmark = [pytest.mark.docker, pytest.mark.moto]

ACCOUNT = "123456789012"
# moto's ECR token is base64("AWS:<account>-auth-token")
USER, PASSWORD = "AWS", f"{ACCOUNT}-auth-token"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Iterator[str]:
    """A docker-registry on 127.0.0.1:<free port> accepting only the ECR token's credentials
    (basic auth over plain HTTP: the engine allows it for loopback registries)."""
    import bcrypt

    binary = shutil.which("docker-registry")
    if binary is None:
        skip_or_fail("docker-registry is not installed (run ../shared/sandbox/docker-up.sh)")
    folder = tmp_path_factory.mktemp("registry")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()
    (folder / "htpasswd").write_text(f"{USER}:{hashed}\n")
    port = free_port()
    (folder / "config.yml").write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: easy-sm-test}}\n"
        f"auth: {{htpasswd: {{realm: easy-sm-test, path: {folder / 'htpasswd'}}}}}\n"
    )
    log = open(folder / "registry.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([binary, "serve", str(folder / "config.yml")], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/v2/", timeout=2).status_code in (200, 401):
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"docker-registry did not start:\n{(folder / 'registry.log').read_text()}"
                )
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def untag_after(docker_client: object) -> Iterator[list[str]]:
    pushed: list[str] = []
    yield pushed
    import docker.errors

    for ref in pushed:
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(ref)  # type: ignore[attr-defined]


def tags_in_registry(registry: str, name: str, auth: tuple[str, str] | None) -> requests.Response:
    return requests.get(f"http://{registry}/v2/{name}/tags/list", auth=auth, timeout=10)


def test_push_creates_the_repository_and_pushes_with_the_ecr_login(
    example_project: Path,
    example_image: str,
    registry: str,
    moto: str,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    untag_after: list[str],
) -> None:
    monkeypatch.chdir(example_project)
    monkeypatch.setenv("EASY_SM_REGISTRY", registry)
    tag = example_image.split(":")[1]
    result = runner.invoke(app, ["push"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{registry}/ex-app:{tag}\n"
    untag_after.append(result.stdout.strip())
    assert PASSWORD not in result.stdout + result.stderr
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in result.stderr

    ecr = boto3.client("ecr", region_name="eu-west-1", endpoint_url=moto)
    (repo,) = ecr.describe_repositories()["repositories"]
    assert repo["repositoryName"] == "ex-app"

    assert tags_in_registry(registry, "ex-app", None).status_code == 401
    answer = tags_in_registry(registry, "ex-app", (USER, PASSWORD))
    assert answer.status_code == 200
    assert tag in answer.json()["tags"]
    # the login was handed to the engine for the push only: nothing saved to disk
    assert not (Path.home() / ".docker" / "config.json").exists()


def test_push_with_a_role_assumes_it_and_reuses_the_existing_repository(
    example_project: Path,
    example_image: str,
    registry: str,
    moto: str,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    untag_after: list[str],
) -> None:
    monkeypatch.chdir(example_project)
    boto3.client("ecr", region_name="eu-west-1", endpoint_url=moto).create_repository(
        repositoryName="ex-app"
    )
    result = runner.invoke(
        app,
        [
            "push",
            "-i",
            f"arn:aws:iam::{ACCOUNT}:role/pusher",
            "-e",
            "the-external-id",
            "-r",
            "eu-west-1",
            "--registry",
            f"http://{registry}/",
        ],
    )
    assert result.exit_code == 0, result.stderr
    untag_after.append(result.stdout.strip())
    assert result.stdout.startswith(f"{registry}/ex-app:")


def test_push_role_and_profile_together_is_a_usage_error(
    example_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example_project)
    result = runner.invoke(app, ["push", "-i", f"arn:aws:iam::{ACCOUNT}:role/x", "-p", "default"])
    assert result.exit_code == 2
    assert "--iam-role-arn and --aws-profile cannot be used together" in result.stderr


def test_push_to_a_registry_that_refuses_the_login_fails_clearly(
    example_project: Path,
    example_image: str,
    registry: str,
    moto: str,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    untag_after: list[str],
) -> None:
    """Another account's token (moto derives the password from the account id)."""
    monkeypatch.chdir(example_project)
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "999999999999")
    tag = example_image.split(":")[1]
    untag_after.append(f"{registry}/ex-app:{tag}")
    result = runner.invoke(app, ["push", "--registry", registry])
    assert result.exit_code == 5
    assert result.stdout == ""
    assert "docker push" in result.stderr
    assert "refused the credentials" in result.stderr
