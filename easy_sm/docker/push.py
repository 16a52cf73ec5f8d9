"""`easy_sm push`, Docker's side: tag the local image for the registry and push it, with the
registry credentials handed to the engine for this call only (no `docker login`, nothing
written to ~/.docker/config.json)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from easy_sm.docker.engine import docker_errors, require_image
from easy_sm.errors import DockerError

ProgressSink = Callable[[str], None]


def push_image(
    engine: Any,
    local_image: str,
    remote_repository: str,
    tag: str,
    auth_config: dict[str, str],
    *,
    sink: ProgressSink | None = None,
) -> str:
    """Tag `local_image` as `remote_repository:tag` and push it; return the pushed reference.

    `sink` receives one line per layer status change (not every progress tick). A failed or
    interrupted push takes back the registry tag it added, so no `<registry>/<image>:<tag>`
    is left on the local image.
    """
    image = require_image(engine, local_image)
    remote = f"{remote_repository}:{tag}"
    already_tagged = remote in (image.tags or [])
    with docker_errors(f"tagging {local_image} as {remote}"):
        image.tag(remote_repository, tag=tag)
    try:
        _push(engine, remote_repository, tag, auth_config, sink)
    except BaseException:
        if not already_tagged:
            _untag(engine, remote)
        raise
    return remote


def _untag(engine: Any, ref: str) -> None:
    """Remove the tag `ref` only (the image keeps its other tags and its layers)."""
    import contextlib

    import docker.errors

    # best effort: the push's own error is the one to report
    with contextlib.suppress(docker.errors.DockerException, OSError):
        engine.images.remove(ref, noprune=True)


def _push(
    engine: Any,
    remote_repository: str,
    tag: str,
    auth_config: dict[str, str],
    sink: ProgressSink | None,
) -> None:
    from easy_sm.docker.engine_api import STREAM_SILENCE_TIMEOUT

    remote = f"{remote_repository}:{tag}"
    seen: dict[str, str] = {}
    # progress arrives all along a push: only a long silence means the engine is stuck
    engine.api.timeout = max(engine.api.timeout or 0, STREAM_SILENCE_TIMEOUT)
    with docker_errors(f"docker push {remote}"):
        for event in engine.api.push(
            remote_repository, tag=tag, auth_config=auth_config, stream=True, decode=True
        ):
            if "error" in event:
                detail = event.get("errorDetail", {}).get("message") or event["error"]
                raise DockerError(f"docker push {remote} failed: {detail}", _push_hint(detail))
            status = str(event.get("status", ""))
            layer = str(event.get("id", ""))
            if sink and status and seen.get(layer) != status:
                seen[layer] = status
                sink(f"{layer}: {status}" if layer else status)


def _push_hint(detail: str) -> str:
    lowered = detail.lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "denied" in lowered:
        return (
            "the registry refused the credentials: check the account/region, your ECR "
            "permissions (ecr:InitiateLayerUpload, ecr:PutImage...), or EASY_SM_REGISTRY"
        )
    return "check the registry address and your network"
