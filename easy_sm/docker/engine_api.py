"""A small Docker Engine API client over the engine's unix socket, on the standard library
alone, for the hot path of `local train|process|run`.

Importing the Docker SDK (and requests/urllib3 with it) costs more than the rest of a local
run's overhead put together; these commands need only six API calls (ping, create, start,
follow logs, wait, remove), so they make them directly. Engines reached over TCP/SSH
(DOCKER_HOST=tcp://... or ssh://...) go through the SDK instead (`unix_socket_path()` is None).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import urllib.parse
from collections.abc import Iterator
from typing import Any

from easy_sm.errors import DockerError

DEFAULT_SOCKET = "/var/run/docker.sock"
START_HINT = "start Docker (Docker Desktop, `sudo systemctl start docker`, or `dockerd`)"


def unix_socket_path() -> str | None:
    """The engine's unix socket, or None when DOCKER_HOST names a non-unix engine."""
    host = os.environ.get("DOCKER_HOST", "").strip()
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    return None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        sock.connect(self._socket_path)
        self.sock = sock


class EngineApi:
    """The handful of Engine API calls a foreground container run needs."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def _request(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = 60
    ) -> tuple[int, bytes]:
        response, conn = self._open(method, path, body, timeout=timeout)
        try:
            return response.status, response.read()
        finally:
            conn.close()

    def _open(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = 60
    ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        conn = _UnixConnection(self.socket_path, timeout)
        headers = {"Host": "docker"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            return conn.getresponse(), conn
        except PermissionError:
            conn.close()
            raise DockerError(
                f"permission denied on the Docker socket ({self.socket_path})",
                "add your user to the docker group (`sudo usermod -aG docker $USER`, then log "
                "in again) or use rootless Docker",
            ) from None
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            raise DockerError(
                f"the Docker engine is not running or not reachable at unix://{self.socket_path}",
                START_HINT,
            ) from None
        except OSError as exc:
            conn.close()
            raise DockerError(f"talking to the Docker engine failed: {exc}", START_HINT) from None

    @staticmethod
    def _message(body: bytes) -> str:
        try:
            return str(json.loads(body).get("message", "")) or body.decode("utf-8", "replace")
        except (ValueError, AttributeError):
            return body.decode("utf-8", "replace").strip()

    def ping(self) -> None:
        status, body = self._request("GET", "/_ping", timeout=20)
        if status != 200:
            raise DockerError(f"the Docker engine answered {status}: {self._message(body)}")

    def create(self, name: str, config: dict[str, Any]) -> str:
        status, body = self._request(
            "POST", f"/containers/create?name={urllib.parse.quote(name)}", config
        )
        if status == 404:
            image = config.get("Image", "")
            raise DockerError(
                f"image {image} not found in the local Docker engine",
                "build it first with `easy_sm build` (and the same --docker-tag)",
            )
        if status != 201:
            raise DockerError(f"creating a container failed: {self._message(body)}")
        return str(json.loads(body)["Id"])

    def start(self, container_id: str) -> None:
        status, body = self._request("POST", f"/containers/{container_id}/start")
        if status not in (204, 304):
            raise DockerError(f"starting the container failed: {self._message(body)}")

    def follow_logs(self, container_id: str) -> Iterator[tuple[int, bytes]]:
        """(stream, chunk) pairs, stream 1 = stdout and 2 = stderr, until the container ends."""
        response, conn = self._open(
            "GET",
            f"/containers/{container_id}/logs?follow=1&stdout=1&stderr=1",
            timeout=None,
        )
        try:
            if response.status != 200:
                raise DockerError(f"reading the container's logs failed: {response.status}")
            while True:
                header = response.read(8)
                if len(header) < 8:
                    return
                stream, size = struct.unpack(">BxxxL", header)
                chunk = response.read(size)
                if chunk:
                    yield stream, chunk
        finally:
            conn.close()

    def wait(self, container_id: str) -> int:
        status, body = self._request("POST", f"/containers/{container_id}/wait", timeout=None)
        if status != 200:
            raise DockerError(f"waiting for the container failed: {self._message(body)}")
        return int(json.loads(body).get("StatusCode", 1))

    def stop(self, container_id: str, grace: int) -> None:
        self._request("POST", f"/containers/{container_id}/stop?t={grace}", timeout=grace + 30)

    def remove(self, container_id: str) -> None:
        status, body = self._request("DELETE", f"/containers/{container_id}?force=1&v=1")
        if status not in (204, 404, 409):
            raise DockerError(f"removing the container failed: {self._message(body)}")
