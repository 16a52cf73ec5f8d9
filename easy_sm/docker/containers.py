"""Running the app's image: in the foreground with live output (train, process, run), or
detached as a labelled server (deploy), and finding/stopping those servers again (stop).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from easy_sm import console
from easy_sm.docker.engine import (
    docker_errors,
    gpu_runtime_missing,
    no_gpu_runtime,
    require_image,
    translate,
)
from easy_sm.errors import DockerError, InterruptedByUser, JobFailedError, UsageError

LABEL_APP = "easy_sm.app"
LABEL_KIND = "easy_sm.kind"
LABEL_PORT = "easy_sm.port"
SERVING_PORT = 8080
STOP_GRACE_SECONDS = 10
LOG_TAIL = 40

Sink = Callable[[bytes], None]


@dataclass
class Mount:
    source: str  # absolute host path
    target: str  # path in the container
    read_only: bool = False

    def as_volume(self) -> tuple[str, dict[str, str]]:
        return self.source, {"bind": self.target, "mode": "ro" if self.read_only else "rw"}


@dataclass
class RunSpec:
    """One container to run: `docker run [options] IMAGE COMMAND...`."""

    image: str
    command: list[str]
    app_name: str
    kind: str  # train | process | run | serve
    mounts: list[Mount] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, tuple[str, int]] = field(default_factory=dict)
    name: str = ""
    gpus: int = 0  # GPUs requested from the engine: 0 none, -1 all, N that many
    network: str = ""  # a user-defined network to join (multi-host training)
    hostname: str = ""  # the container's host name, also its alias on `network`

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"easy-sm-{self.app_name}-{self.kind}-{uuid.uuid4().hex[:6]}"

    def all_labels(self) -> dict[str, str]:
        return {LABEL_APP: self.app_name, LABEL_KIND: self.kind, **self.labels}

    def docker_argv(self) -> list[str]:
        """The equivalent `docker run` command line (for --verbose and the docs)."""
        argv = ["docker", "run", "--rm", "--name", self.name]
        if self.user:
            argv += ["--user", self.user]
        for key, value in self.all_labels().items():
            argv += ["--label", f"{key}={value}"]
        if self.network:
            argv += ["--network", self.network]
        if self.hostname:
            argv += ["--hostname", self.hostname, "--network-alias", self.hostname]
        if self.gpus:
            argv += ["--gpus", "all" if self.gpus < 0 else str(self.gpus)]
        for mount in self.mounts:
            argv += ["-v", f"{mount.source}:{mount.target}{':ro' if mount.read_only else ''}"]
        for container_port, (host_ip, host_port) in self.ports.items():
            argv += ["-p", f"{host_ip}:{host_port}:{container_port.split('/')[0]}"]
        for key in sorted(self.environment):
            argv += ["-e", f"{key}={self.environment[key]}"]
        return [*argv, self.image, *self.command]


def parse_gpus(value: str | None) -> int:
    """`--gpus all|N` as a count for the engine: 0 (none), -1 (all) or N >= 1."""
    if value is None:
        return 0
    text = value.strip().lower()
    if text == "all":
        return -1
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise UsageError(
        f"--gpus {value!r} is not all or a number of GPUs", "e.g. --gpus all or --gpus 1"
    )


def device_requests(gpus: int) -> list[dict[str, Any]]:
    """The Engine API's HostConfig.DeviceRequests for `gpus` (as `docker run --gpus`)."""
    if not gpus:
        return []
    return [{"Driver": "", "Count": gpus, "DeviceIDs": None, "Capabilities": [["gpu"]]}]


def invoking_user() -> str | None:
    """`uid:gid` of the person running easy_sm, so files written into bind mounts stay theirs
    (None on Windows, where Docker Desktop maps ownership itself)."""
    if not hasattr(os, "getuid"):
        return None
    return f"{os.getuid()}:{os.getgid()}"


def _create(engine: Any, spec: RunSpec) -> Any:
    require_image(engine, spec.image)
    extra: dict[str, Any] = {}
    if spec.gpus:
        import docker.types

        extra["device_requests"] = [
            docker.types.DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])
        ]
    with docker_errors(f"creating a container from {spec.image}"):
        return engine.containers.create(
            spec.image,
            spec.command,
            name=spec.name,
            user=spec.user or "",
            environment=spec.environment,
            labels=spec.all_labels(),
            volumes=dict(m.as_volume() for m in spec.mounts),
            ports=spec.ports or None,
            stdin_open=False,
            tty=False,
            init=False,
            **extra,
        )


def _remove(container: Any) -> None:
    import docker.errors

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: removal already in progress
            raise


def container_config(spec: RunSpec) -> dict[str, Any]:
    """The Engine API's container-create body for a foreground `spec`."""
    binds = [f"{m.source}:{m.target}{':ro' if m.read_only else ''}" for m in spec.mounts]
    host_config: dict[str, Any] = {"Binds": binds}
    config: dict[str, Any] = {}
    if spec.gpus:
        host_config["DeviceRequests"] = device_requests(spec.gpus)
    if spec.network:
        host_config["NetworkMode"] = spec.network
        aliases = [spec.hostname] if spec.hostname else []
        config["NetworkingConfig"] = {"EndpointsConfig": {spec.network: {"Aliases": aliases}}}
    if spec.hostname:
        config["Hostname"] = spec.hostname
    return {
        **config,
        "Image": spec.image,
        "Cmd": spec.command,
        "Env": [f"{key}={value}" for key, value in spec.environment.items()],
        "User": spec.user or "",
        "Labels": spec.all_labels(),
        "Tty": False,
        "OpenStdin": False,
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": host_config,
    }


def run_foreground(
    spec: RunSpec, *, stdout: Sink, stderr: Sink, on_start: Callable[[], None] | None = None
) -> int:
    """Run `spec` to completion, streaming its output live; return its exit code.
    `on_start` is called once the container has started (so a status line never promises a
    run that then fails to start).

    The container is removed afterwards. Ctrl-C stops it (SIGTERM, SIGKILL after 10 s),
    removes it and raises InterruptedByUser. A local engine is driven through its unix socket
    with the standard library (fast start); any other DOCKER_HOST through the Docker SDK.
    """
    from easy_sm.docker.engine_api import EngineApi, unix_socket_path

    socket_path = unix_socket_path()
    if socket_path is None:
        from easy_sm.docker.engine import connect

        return _run_foreground_sdk(connect(), spec, stdout=stdout, stderr=stderr, on_start=on_start)
    api = EngineApi(socket_path)
    api.ping()
    try:
        container_id = api.create(spec.name, container_config(spec))
    except KeyboardInterrupt:
        api.remove(spec.name)  # by name: the engine may have made it before we heard back
        raise InterruptedByUser(f"interrupted: removed container {spec.name}") from None
    try:
        api.start(container_id)
        if on_start:
            on_start()
        for stream, chunk in api.follow_logs(container_id):
            (stderr if stream == 2 else stdout)(chunk)
        return api.wait(container_id)
    except KeyboardInterrupt:
        _say_stopping(spec.name)
        try:
            api.stop(container_id, STOP_GRACE_SECONDS)
        finally:
            api.remove(container_id)
        raise InterruptedByUser(f"interrupted: stopped and removed container {spec.name}") from None
    finally:
        api.remove(container_id)


def _say_stopping(name: str) -> None:
    """Said at once: the engine may take up to STOP_GRACE_SECONDS to stop the container."""
    console.info(f"stopping container {name} (SIGTERM, SIGKILL after {STOP_GRACE_SECONDS} s)…")


def check_can_run(image: str) -> None:
    """Fail before touching anything when a run cannot start: the engine answers and holds
    `image` (used before a local run empties the user's model and output folders)."""
    from easy_sm.docker.engine_api import EngineApi, unix_socket_path

    socket_path = unix_socket_path()
    if socket_path is None:
        from easy_sm.docker.engine import connect

        require_image(connect(), image)
        return
    api = EngineApi(socket_path)
    api.ping()
    api.require_image(image)


def _run_foreground_sdk(
    engine: Any,
    spec: RunSpec,
    *,
    stdout: Sink,
    stderr: Sink,
    on_start: Callable[[], None] | None = None,
) -> int:
    """run_foreground through the Docker SDK (engines reached over TCP or SSH)."""
    container = _create(engine, spec)
    try:
        with docker_errors(f"running {spec.image}"):
            stream = engine.api.attach(
                container.id, stdout=True, stderr=True, stream=True, logs=True, demux=True
            )
            container.start()
            if on_start:
                on_start()
            for out, err in stream:
                if out:
                    stdout(out)
                if err:
                    stderr(err)
            status = container.wait()
        return int(status.get("StatusCode", 1))
    except KeyboardInterrupt:
        _say_stopping(container.name)
        with docker_errors("stopping the container"):
            try:
                container.stop(timeout=STOP_GRACE_SECONDS)
            finally:
                _remove(container)
        raise InterruptedByUser(
            f"interrupted: stopped and removed container {container.name}"
        ) from None
    finally:
        with docker_errors("removing the container"):
            _remove(container)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _port_taken(port: int) -> UsageError:
    return UsageError(
        f"port {port} on 127.0.0.1 is already in use",
        f"choose another with -p/--port, or stop what uses it (`easy_sm local stop -p {port}` "
        "if it is a deployment of this app)",
    )


def find_servers(engine: Any, app_name: str, port: int | None = None) -> list[Any]:
    """The serving containers of `app_name` (on `port` if given), found by label."""
    filters = [f"{LABEL_APP}={app_name}", f"{LABEL_KIND}=serve"]
    if port is not None:
        filters.append(f"{LABEL_PORT}={port}")
    with docker_errors("listing containers"):
        return list(engine.containers.list(all=True, filters={"label": filters}))


def tail_logs(container: Any, lines: int = LOG_TAIL, *, settle: float = 2.0) -> str:
    """The container's last log lines. The engine may report a container as exited before
    its log has been written out: an empty log is asked for again for up to `settle` s."""
    import docker.errors

    deadline = time.monotonic() + settle
    while True:
        try:
            raw = container.logs(stdout=True, stderr=True, tail=lines)
        except docker.errors.APIError:
            return ""
        text = bytes(raw).decode("utf-8", "replace").rstrip()
        if text or time.monotonic() >= deadline:
            return text
        time.sleep(0.2)


def start_server(
    engine: Any,
    spec: RunSpec,
    port: int,
    *,
    timeout: float,
    on_wait: Callable[[float], None] | None = None,
    on_start: Callable[[], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> str:
    """Start the serving container detached on 127.0.0.1:`port`, wait until `GET /ping`
    answers 200, and return its URL. `on_start` is called once the container has started.
    If it exits or never turns healthy within `timeout` seconds: its last log lines (each
    repeated traceback once) go to `on_log`, the container is removed and a JobFailedError
    raised."""
    import docker.errors

    if not port_is_free(port):
        raise _port_taken(port)
    spec.ports = {f"{SERVING_PORT}/tcp": ("127.0.0.1", port)}
    spec.labels[LABEL_PORT] = str(port)
    container = _create(engine, spec)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            container.start()
        except docker.errors.APIError as exc:
            text = str(exc.explanation or exc)
            if "already allocated" in text or "address already in use" in text:
                raise _port_taken(port) from None
            if no_gpu_runtime(text):
                raise gpu_runtime_missing() from None
            raise DockerError(f"starting {spec.image} failed: {text}") from None
        if on_start:
            on_start()
        _wait_for_ping(container, url, timeout, on_wait)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            console.info(f"removing the serving container {spec.name}…")
        logs = tail_logs(container) if isinstance(exc, _NotHealthy) else ""
        with docker_errors("removing the container"):
            _remove(container)
        if isinstance(exc, KeyboardInterrupt):
            raise InterruptedByUser("interrupted: the local deployment was removed") from None
        if isinstance(exc, _NotHealthy):
            if logs and on_log:
                on_log(f"--- last lines of the container's log ---\n{dedupe_tracebacks(logs)}\n---")
            hint = (
                "fix the error in the log above (model_fn in inference.py, a missing model "
                "in test_dir/model: run `easy_sm local train` first)"
            )
            if not exc.exited:
                hint += ", or raise --timeout"
            raise JobFailedError(str(exc), hint) from None
        raise
    return url


class _NotHealthy(Exception):
    def __init__(self, message: str, *, exited: bool) -> None:
        super().__init__(message)
        self.exited = exited  # the container ended (a longer --timeout would not help)


def dedupe_tracebacks(text: str) -> str:
    """`text` with each traceback block shown once: gunicorn workers that all fail to load
    the model print the same traceback once per worker. A block is a `Traceback ...` line up
    to its first unindented line (the exception), compared without its log prefix."""
    lines = text.splitlines()
    out: list[str] = []
    seen: dict[tuple[str, ...], int] = {}
    index = 0
    while index < len(lines):
        start = lines[index].find("Traceback (most recent call last):")
        if start < 0:
            out.append(lines[index])
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end][:1] in (" ", "\t"):
            end += 1
        end = min(end + 1, len(lines))  # the exception line itself
        block = lines[index:end]
        key = tuple(line.strip() for line in [block[0][start:], *block[1:]])
        if key in seen:
            seen[key] += 1
        else:
            seen[key] = 1
            out.extend(block)
        index = end
    repeats = sum(count - 1 for count in seen.values())
    if repeats:
        times = "once more" if repeats == 1 else f"{repeats} more times"
        out.append(f"(the same traceback was printed {times}: hidden)")
    return "\n".join(out)


def _reload_serving(container: Any) -> None:
    """Refresh the serving container's state; one that vanished (another `easy_sm local stop`,
    a `docker rm`) is reported as not healthy instead of escaping as the SDK's NotFound."""
    import docker.errors

    try:
        container.reload()
    except docker.errors.NotFound:
        raise _NotHealthy(
            f"the serving container {container.name} was removed before /ping answered "
            "(by `easy_sm local stop`, `docker rm` or another program)",
            exited=True,
        ) from None
    except docker.errors.DockerException as exc:
        raise translate(exc, f"inspecting {container.name}") from exc


def _wait_for_ping(
    container: Any, url: str, timeout: float, on_wait: Callable[[float], None] | None
) -> None:
    import urllib.error
    import urllib.request

    started = time.monotonic()
    deadline = started + timeout
    last_note = started
    while True:
        _reload_serving(container)
        if container.status in ("exited", "dead"):
            code = container.attrs.get("State", {}).get("ExitCode")
            raise _NotHealthy(
                f"the serving container exited (code {code}) before /ping answered",
                exited=True,
            )
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        now = time.monotonic()
        if now >= deadline:
            raise _NotHealthy(
                f"GET {url}/ping did not answer 200 within {timeout:g} s", exited=False
            )
        if on_wait and now - last_note >= 10:
            on_wait(now - started)
            last_note = now
        time.sleep(0.25)


def stop_servers(engine: Any, containers: list[Any], grace: int = 30) -> list[str]:
    """Stop (SIGTERM, SIGKILL after `grace` s, as SageMaker does) and remove; return the URLs."""
    stopped = []
    for container in containers:
        port = container.labels.get(LABEL_PORT, "?")
        with docker_errors(f"stopping {container.name}"):
            if container.status == "running":
                console.info(f"stopping {container.name} (SIGKILL after {grace} s)…")
                container.stop(timeout=grace)
            _remove(container)
        stopped.append(f"http://127.0.0.1:{port}")
    return stopped


def stream_to(handle: Any) -> Sink:
    """A sink writing raw bytes to a text stream's buffer (stdout / stderr), flushed live."""

    def write(chunk: bytes) -> None:
        target = getattr(handle, "buffer", None)
        if target is not None:
            handle.flush()
            target.write(chunk)
            target.flush()
        else:  # e.g. a test runner's text stream
            handle.write(chunk.decode("utf-8", "replace"))
            handle.flush()

    return write


def discard(chunk: bytes) -> None:
    """A sink that drops output (for --quiet)."""
