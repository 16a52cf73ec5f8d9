"""The stdlib Engine API client against a tiny HTTP server on a unix socket: status codes,
Content-Length and chunked bodies, Docker's multiplexed log frames, and its errors."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from easy_sm.docker.engine_api import EngineApi, unix_socket_path
from easy_sm.errors import DockerError

NOT_FOUND = b'HTTP/1.1 404 Not Found\r\nContent-Length: 28\r\n\r\n{"message": "No such image"}'


def json_answer(status: int, body: bytes) -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def chunked(body: bytes, sizes: list[int]) -> bytes:
    out, start = b"", 0
    for size in sizes:
        piece = body[start : start + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        start += size
    return out + b"0\r\n\r\n"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[EngineApi, list[bytes]]]:
    """An engine double answering by request path; records the raw requests."""
    path = str(tmp_path / "docker.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    requests: list[bytes] = []
    logs = frame(1, b"hello ") + frame(2, b"oops\n") + frame(1, b"world\n")
    answers = {
        b"GET /_ping": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK",
        b"POST /containers/create": json_answer(201, b'{"Id": "abc"}'),
        b"POST /containers/abc/start": b"HTTP/1.1 204 No Content\r\n\r\n",
        b"GET /containers/abc/logs": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked(logs, [3, 10, 100]),
        b"POST /containers/abc/wait": json_answer(200, b'{"StatusCode": 7}'),
        b"DELETE /containers/abc": b"HTTP/1.1 204 No Content\r\n\r\n",
    }

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                requests.append(data)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(4096)
                requests[-1] = head + b"\r\n\r\n" + body
                key = next((k for k in answers if data.startswith(k)), None)
                if key is None or b"missing" in body:
                    conn.sendall(NOT_FOUND)
                else:
                    conn.sendall(answers[key])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield EngineApi(path), requests
    server.close()


def test_a_container_run_goes_through_create_start_logs_wait_remove(
    engine: tuple[EngineApi, list[bytes]],
) -> None:
    api, requests = engine
    api.ping()
    container = api.create("job-1", {"Image": "img:1", "Cmd": ["train"]})
    assert container == "abc"
    api.start(container)
    assert list(api.follow_logs(container)) == [(1, b"hello "), (2, b"oops\n"), (1, b"world\n")]
    assert api.wait(container) == 7
    api.remove(container)
    assert requests[1].startswith(b"POST /containers/create?name=job-1 HTTP/1.1\r\n")
    assert b'"Image": "img:1"' in requests[1]


def test_a_missing_image_says_to_build_it(engine: tuple[EngineApi, list[bytes]]) -> None:
    api, _ = engine
    with pytest.raises(DockerError, match=r"image missing:1 not found .* `easy_sm build`"):
        api.create("x", {"Image": "missing:1"})


def test_no_engine_behind_the_socket_is_a_docker_error(tmp_path: Path) -> None:
    with pytest.raises(DockerError, match="not running or not reachable"):
        EngineApi(str(tmp_path / "absent.sock")).ping()


def test_docker_host_decides_between_the_socket_and_the_sdk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert unix_socket_path() == "/var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert unix_socket_path() == "/run/user/1000/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.1:2376")
    assert unix_socket_path() is None
