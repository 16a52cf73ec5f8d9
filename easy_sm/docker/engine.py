"""Connecting to the Docker engine, and turning Docker's failures into `DockerError`s.

The Docker SDK is imported inside these functions, never at CLI start-up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from easy_sm.docker.engine_api import answer_timeout, not_answering
from easy_sm.errors import DockerError

# One engine per process: each command talks to Docker through the client `connect` returns.
_START_HINT = "start Docker (Docker Desktop, `sudo systemctl start docker`, or `dockerd`)"


def _host() -> str:
    return os.environ.get("DOCKER_HOST", "") or "unix:///var/run/docker.sock"


def connect() -> Any:
    """A `docker.DockerClient` connected to a live engine, or a DockerError saying why not.

    Three distinct failures: Docker not installed, the daemon not running (or DOCKER_HOST
    pointing nowhere), and permission denied on the socket.
    """
    try:
        import docker
        import docker.errors
        import requests.exceptions
    except ImportError:  # pragma: no cover - a dependency of easy_sm
        raise DockerError(
            "the Docker SDK for Python is not installed", "reinstall easy_sm: pip install easy_sm"
        ) from None
    try:
        # Every call gets a bounded wait for the engine's answer (builds and pushes pass a
        # longer, silence-based one). Creating the client asks the engine for its API version:
        # that is the reachability check.
        client = docker.from_env(timeout=answer_timeout())
    except docker.errors.DockerException as exc:
        raise _unreachable(exc) from None
    except (requests.exceptions.RequestException, OSError) as exc:
        raise _unreachable(exc) from None
    return client


def _timed_out(exc: BaseException) -> bool:
    """Did the engine (not something it reported on, like a registry) fail to answer?"""
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    if isinstance(
        exc, TimeoutError | requests.exceptions.Timeout | urllib3.exceptions.TimeoutError
    ):
        return True
    if isinstance(exc, docker.errors.APIError):
        return False  # the engine answered (its message may mention someone else's timeout)
    return "read timed out" in str(exc).lower()


def _unreachable(exc: BaseException) -> DockerError:
    text = str(exc)
    host = _host()
    if _timed_out(exc):
        return not_answering(host, answer_timeout())
    if isinstance(exc, PermissionError) or "Permission denied" in text or "Errno 13" in text:
        return DockerError(
            f"permission denied on the Docker socket ({host})",
            "add your user to the docker group (`sudo usermod -aG docker $USER`, then log in "
            "again) or use rootless Docker",
        )
    socket_missing = "No such file or directory" in text or "FileNotFoundError" in text
    if socket_missing and not os.environ.get("DOCKER_HOST") and shutil.which("docker") is None:
        return DockerError(
            "Docker is not installed (no docker command, no engine socket)",
            "install Docker: https://docs.docker.com/get-docker/",
        )
    return DockerError(f"the Docker engine is not running or not reachable at {host}", _START_HINT)


def translate(exc: BaseException, action: str) -> DockerError:
    """A DockerError for a failure of the SDK during `action` (e.g. "docker build")."""
    import docker.errors
    import requests.exceptions

    if _timed_out(exc):
        error = not_answering(_host())
        error.message = f"{action}: {error.message}"
        return error
    if isinstance(exc, requests.exceptions.ConnectionError):
        return DockerError(f"{action}: lost the connection to the Docker engine", _START_HINT)
    if isinstance(exc, docker.errors.APIError):
        explanation = exc.explanation
        if isinstance(explanation, bytes):
            explanation = explanation.decode("utf-8", "replace")
        if no_gpu_runtime(str(explanation or exc)):
            return gpu_runtime_missing()
        return DockerError(f"{action} failed: {explanation or exc}", "see Docker's message")
    return DockerError(f"{action} failed: {exc}")


@contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Translate the Docker SDK's exceptions raised inside the block into DockerError."""
    import docker.errors
    import requests.exceptions
    import urllib3.exceptions

    try:
        yield
    except (
        docker.errors.DockerException,
        requests.exceptions.RequestException,
        urllib3.exceptions.HTTPError,
        TimeoutError,
    ) as exc:
        raise translate(exc, action) from exc


def require_image(engine: Any, image: str) -> Any:
    """The local image `image`, or a DockerError telling the user to build it."""
    import docker.errors

    try:
        return engine.images.get(image)
    except docker.errors.ImageNotFound:
        raise DockerError(
            f"image {image} not found in the local Docker engine",
            "build it first with `easy_sm build` (and the same --docker-tag)",
        ) from None
    except docker.errors.APIError as exc:
        raise translate(exc, f"inspecting image {image}") from exc


def no_gpu_runtime(engine_message: str) -> bool:
    """Whether the engine refused a GPU request because it has no GPU runtime."""
    return "could not select device driver" in engine_message


def gpu_runtime_missing() -> DockerError:
    return DockerError(
        "the Docker engine has no GPU runtime: --gpus needs the NVIDIA driver and the NVIDIA "
        "Container Toolkit",
        "install them (https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/) and "
        "restart Docker, or run without --gpus",
    )
