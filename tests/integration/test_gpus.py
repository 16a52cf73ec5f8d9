"""`--gpus` on an engine without a GPU runtime (this machine has no GPU): the request reaches
the engine, which refuses it; easy_sm says in one line what is missing, exits 5 and leaves no
container behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import run_cli

pytestmark = pytest.mark.docker

MESSAGE = (
    "error: the Docker engine has no GPU runtime: --gpus needs the NVIDIA driver and the NVIDIA "
    "Container Toolkit — install them (https://docs.nvidia.com/datacenter/cloud-native/"
    "container-toolkit/) and restart Docker, or run without --gpus"
)


def gpu_ready(docker_client: object) -> bool:
    runtimes = docker_client.info().get("Runtimes", {})  # type: ignore[attr-defined]
    return "nvidia" in runtimes


@pytest.mark.parametrize(
    "command",
    [
        ["local", "run", "--gpus", "all", "--", "true"],
        ["local", "train", "--gpus", "1"],
        ["local", "train", "-c", "2", "--gpus", "all"],
        ["local", "deploy", "--gpus", "all", "-p", "0"],
    ],
    ids=["run", "train", "train-multihost", "deploy"],
)
def test_gpus_without_a_gpu_runtime_is_a_one_line_docker_error(
    command: list[str], example_project: Path, example_image: str, docker_client: object
) -> None:
    if gpu_ready(docker_client):
        pytest.skip("this engine has a GPU runtime")
    if command[1] == "deploy":
        from tests.conftest import free_port

        command = [*command[:-1], str(free_port())]
    code, out, err = run_cli(command, example_project)
    assert code == 5, err
    assert out == ""
    assert err.strip().splitlines()[-1] == MESSAGE
    leftovers = docker_client.containers.list(  # type: ignore[attr-defined]
        all=True, filters={"ancestor": example_image}
    )
    assert leftovers == []
