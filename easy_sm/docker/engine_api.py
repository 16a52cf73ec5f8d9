"""A small Docker Engine API client over the engine's unix socket, on the standard library
alone, for the hot path of `local train|process|run`.

Importing the Docker SDK (and requests/urllib3 with it) costs more than the rest of a local
run's overhead put together; these commands need only six API calls (ping, create, start,
follow logs, wait, remove), so they make them directly. Engines reached over TCP/SSH
(DOCKER_HOST=tcp://... or ssh://...) go through the SDK instead (`unix_socket_path()` is None).
"""

from __future__ import annotations

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
# Seconds the engine gets to answer one call (EASY_SM_DOCKER_TIMEOUT overrides): an engine that
# accepts the connection and never answers must not make a command wait forever.
DEFAULT_ANSWER_TIMEOUT = 60.0
# Seconds of silence tolerated in a build's or a push's stream (a long, quiet build step).
STREAM_SILENCE_TIMEOUT = 1800.0


def answer_timeout() -> float:
    """How long to wait for the engine's answer to one call, in seconds."""
    raw = os.environ.get("EASY_SM_DOCKER_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_ANSWER_TIMEOUT
    except ValueError:
        value = DEFAULT_ANSWER_TIMEOUT
    return value if value > 0 else DEFAULT_ANSWER_TIMEOUT


def not_answering(where: str, seconds: float | None = None) -> DockerError:
    """The error for an engine that took the connection but did not answer in time."""
    within = f" within {seconds:g} s" if seconds else ""
    return DockerError(
        f"the Docker engine is not answering ({where}, no reply{within})",
        "restart Docker (Docker Desktop, `sudo systemctl restart docker`); if it is only "
        "slow, raise EASY_SM_DOCKER_TIMEOUT (seconds)",
    )


def unix_socket_path() -> str | None:
    """The engine's unix socket, or None when DOCKER_HOST names a non-unix engine."""
    host = os.environ.get("DOCKER_HOST", "").strip()
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    return None


class _Response:
    """An HTTP/1.1 response read off the socket: status, headers, and a body that handles
    Content-Length and chunked transfer (what the Engine API uses)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._file = sock.makefile("rb")
        status_line = self._file.readline(65537).decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise OSError(f"malformed HTTP status line from the engine: {status_line!r}")
        self.status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = self._file.readline(65537).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = headers.get("content-length")
        self._remaining = int(length) if length and length.isdigit() else None
        if self.status in (204, 304) or (self._remaining is None and not self._chunked):
            self._remaining = 0 if self.status in (204, 304) else None
        self._chunk_left = 0
        self._done = self._remaining == 0

    def _read_chunked(self, size: int) -> bytes:
        out = bytearray()
        while len(out) < size and not self._done:
            if self._chunk_left == 0:
                header = self._file.readline(65537).split(b";", 1)[0].strip()
                self._chunk_left = int(header or b"0", 16)
                if self._chunk_left == 0:
                    self._file.readline(65537)  # the empty line after the last chunk
                    self._done = True
                    break
            piece = self._file.read(min(self._chunk_left, size - len(out)))
            if not piece:
                self._done = True
                break
            out += piece
            self._chunk_left -= len(piece)
            if self._chunk_left == 0:
                self._file.readline(65537)  # CRLF closing the chunk
        return bytes(out)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the body (all of it with -1); fewer only at its end."""
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked(size if size >= 0 else 1 << 62)
        if self._remaining is None:  # body delimited by the connection closing
            data = self._file.read() if size < 0 else self._file.read(size)
            self._done = not data
            return data
        want = self._remaining if size < 0 else min(size, self._remaining)
        data = self._file.read(want)
        self._remaining -= len(data)
        self._done = self._remaining == 0 or not data
        return data

    def unbound(self) -> None:
        """Wait for the rest of the body for as long as it takes."""
        self._sock.settimeout(None)

    def close(self) -> None:
        self._file.close()
        self._sock.close()


class EngineApi:
    """The handful of Engine API calls a foreground container run needs."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def _request(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = -1
    ) -> tuple[int, bytes]:
        timeout = answer_timeout() if timeout == -1 else timeout
        response = self._open(method, path, body, timeout=timeout)
        try:
            return response.status, response.read()
        except TimeoutError:
            raise not_answering(f"unix://{self.socket_path}", timeout) from None
        finally:
            response.close()

    def _open(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = -1
    ) -> _Response:
        """Send the request and read the answer's head; `timeout` -1: `answer_timeout()`."""
        timeout = answer_timeout() if timeout == -1 else timeout
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(payload)}\r\n\r\n"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.socket_path)
            sock.sendall(head.encode("latin-1") + payload)
            return _Response(sock)
        except PermissionError:
            sock.close()
            raise DockerError(
                f"permission denied on the Docker socket ({self.socket_path})",
                "add your user to the docker group (`sudo usermod -aG docker $USER`, then log "
                "in again) or use rootless Docker",
            ) from None
        except TimeoutError:
            sock.close()
            raise not_answering(f"unix://{self.socket_path}", timeout) from None
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise DockerError(
                f"the Docker engine is not running or not reachable at unix://{self.socket_path}",
                START_HINT,
            ) from None
        except OSError as exc:
            sock.close()
            raise DockerError(f"talking to the Docker engine failed: {exc}", START_HINT) from None

    @staticmethod
    def _message(body: bytes) -> str:
        try:
            return str(json.loads(body).get("message", "")) or body.decode("utf-8", "replace")
        except (ValueError, AttributeError):
            return body.decode("utf-8", "replace").strip()

    def ping(self) -> None:
        status, body = self._request("GET", "/_ping")
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
            from easy_sm.docker.engine import gpu_runtime_missing, no_gpu_runtime

            if no_gpu_runtime(self._message(body)):
                raise gpu_runtime_missing()
            raise DockerError(f"starting the container failed: {self._message(body)}")

    def follow_logs(self, container_id: str) -> Iterator[tuple[int, bytes]]:
        """(stream, chunk) pairs, stream 1 = stdout and 2 = stderr, until the container ends."""
        response = self._open(
            "GET",
            f"/containers/{container_id}/logs?follow=1&stdout=1&stderr=1",
        )
        response.unbound()  # the engine answered; a quiet container may stay quiet for long
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
            response.close()

    def wait(self, container_id: str) -> int:
        status, body = self._request("POST", f"/containers/{container_id}/wait", timeout=None)
        if status != 200:
            raise DockerError(f"waiting for the container failed: {self._message(body)}")
        return int(json.loads(body).get("StatusCode", 1))

    def stop(self, container_id: str, grace: int) -> None:
        self._request(
            "POST", f"/containers/{container_id}/stop?t={grace}", timeout=grace + answer_timeout()
        )

    def require_image(self, image: str) -> None:
        """A DockerError telling the user to build `image` when the engine does not have it."""
        status, body = self._request("GET", f"/images/{urllib.parse.quote(image, safe='/:')}/json")
        if status == 404:
            raise DockerError(
                f"image {image} not found in the local Docker engine",
                "build it first with `easy_sm build` (and the same --docker-tag)",
            )
        if status != 200:
            raise DockerError(f"inspecting image {image} failed: {self._message(body)}")

    def remove(self, container_id: str) -> None:
        status, body = self._request("DELETE", f"/containers/{container_id}?force=1&v=1")
        if status not in (204, 404, 409):
            raise DockerError(f"removing the container failed: {self._message(body)}")

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        """`docker image inspect REF` as a dict, or None when there is no such image."""
        status, body = self._request(
            "GET", f"/images/{urllib.parse.quote(ref, safe='')}/json", timeout=20
        )
        if status == 404:
            return None
        if status != 200:
            raise DockerError(f"inspecting {ref} failed ({status}): {self._message(body)}")
        answer: dict[str, Any] = json.loads(body)
        return answer

    def image_labels(self, ref: str) -> dict[str, str] | None:
        """The labels of the local image `ref` ({} if it has none), or None if it is missing."""
        status, body = self._request("GET", f"/images/{urllib.parse.quote(ref, safe='/:')}/json")
        if status == 404:
            return None
        if status != 200:
            raise DockerError(f"inspecting image {ref} failed: {self._message(body)}")
        return dict((json.loads(body).get("Config") or {}).get("Labels") or {})

    def create_network(self, name: str, labels: dict[str, str]) -> str:
        """A user-defined bridge network (containers on it resolve each other by name)."""
        status, body = self._request(
            "POST",
            "/networks/create",
            {"Name": name, "Driver": "bridge", "CheckDuplicate": True, "Labels": labels},
        )
        if status != 201:
            raise DockerError(f"creating network {name} failed: {self._message(body)}")
        return str(json.loads(body)["Id"])

    def remove_network(self, network_id: str) -> None:
        status, body = self._request("DELETE", f"/networks/{network_id}")
        if status not in (204, 404):
            raise DockerError(f"removing the network failed: {self._message(body)}")
