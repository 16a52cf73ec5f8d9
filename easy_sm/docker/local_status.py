"""What an app has running locally (`easy_sm local ps`) and the log of a local deployment
(`easy_sm local logs`), found by the `easy_sm.app` label as `local stop` finds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from easy_sm.docker.containers import LABEL_APP, LABEL_KIND, LABEL_PORT, find_servers
from easy_sm.docker.engine import docker_errors
from easy_sm.errors import UsageError


@dataclass
class LocalContainer:
    """One running container of an app: a server (`serve`) or a job (`train`, `process`,
    `run`)."""

    name: str
    kind: str
    port: int | None
    image: str
    started: datetime | None

    def age(self, now: datetime | None = None) -> str:
        if self.started is None:
            return "?"
        return format_age(((now or datetime.now(UTC)) - self.started).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "port": self.port,
            "url": f"http://127.0.0.1:{self.port}" if self.port else None,
            "image": self.image,
            "started": self.started.isoformat() if self.started else None,
        }


def format_age(seconds: float) -> str:
    """`42 s`, `5 min`, `3 h`, `2 d`: how long ago, to one unit."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def parse_started(value: str) -> datetime | None:
    """The engine's `State.StartedAt` (RFC 3339 with nanoseconds) as an aware datetime."""
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def running_containers(engine: Any, app_name: str) -> list[LocalContainer]:
    """The app's running containers, oldest first."""
    with docker_errors("listing containers"):
        found = engine.containers.list(filters={"label": [f"{LABEL_APP}={app_name}"]})
    result = []
    for container in found:
        labels = container.labels or {}
        port = labels.get(LABEL_PORT, "")
        attrs = container.attrs or {}
        result.append(
            LocalContainer(
                name=container.name,
                kind=labels.get(LABEL_KIND, "?"),
                port=int(port) if port.isdigit() else None,
                image=str(attrs.get("Config", {}).get("Image", "")),
                started=parse_started(str(attrs.get("State", {}).get("StartedAt", ""))),
            )
        )
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(result, key=lambda c: (c.started or oldest, c.name))


def deployment(engine: Any, app_name: str, port: int | None) -> Any:
    """The one local deployment of `app_name` (the one on `port` if given), or a UsageError
    that says what is running instead."""
    servers = [c for c in find_servers(engine, app_name, port) if c.status == "running"]
    where = f" on port {port}" if port is not None else ""
    if not servers:
        raise UsageError(
            f"no local deployment of {app_name}{where} is running",
            "start one with `easy_sm local deploy` (`easy_sm local ps` lists what runs)",
        )
    if len(servers) > 1:
        ports = ", ".join(sorted(s.labels.get(LABEL_PORT, "?") for s in servers))
        raise UsageError(
            f"{len(servers)} local deployments of {app_name} are running (ports {ports})",
            "choose one with -p PORT",
        )
    return servers[0]


def stream_logs(
    container: Any, sink: Callable[[bytes], None], *, follow: bool, tail: int | None = None
) -> None:
    """Write the container's log (stdout and stderr, in the order the engine received them)
    to `sink`; with `follow`, keep writing until the container stops."""
    with docker_errors(f"reading the log of {container.name}"):
        chunks: Iterator[bytes] = container.logs(
            stdout=True,
            stderr=True,
            stream=True,
            follow=follow,
            tail="all" if tail is None else tail,
        )
        for chunk in chunks:
            sink(chunk)
