"""Images that are never stale: the source hash an image is labelled with at build time, and
the check every local command makes before it runs the image.

The hash covers what goes into the image: every path of the build context as the Dockerfile
sees it after `.dockerignore` (names, file contents, the executable bit, link targets), the
Dockerfile's path and the build args. `easy_sm build` stores it as the image label
`easy_sm.source-hash`; `ensure_fresh_image` compares it with the sources now and rebuilds
when they differ (or builds when the image is missing); `push` refuses a stale image.
Standard library only on the path where nothing changed, so the check costs milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from easy_sm import console
from easy_sm.docker.dockerignore import context_paths

if TYPE_CHECKING:
    from easy_sm.docker.build import BuildRequest

SOURCE_HASH_LABEL = "easy_sm.source-hash"
_CHUNK = 1 << 20


def source_hash(request: BuildRequest) -> str:
    """The content hash of `request`'s build context, Dockerfile and build args (hex)."""
    root = str(request.context_dir.resolve())
    digest = hashlib.sha256()
    digest.update(json.dumps(request.buildargs, sort_keys=True).encode())
    digest.update(f"\0dockerfile {request.dockerfile}\0".encode())
    for rel in context_paths(root, list(request.excludes), request.dockerfile):
        path = os.path.join(root, rel)
        try:
            info = os.lstat(path)
        except FileNotFoundError:  # removed while walking
            continue
        if stat.S_ISLNK(info.st_mode):
            digest.update(f"l {rel}\0{os.readlink(path)}\0".encode())
        elif stat.S_ISDIR(info.st_mode):
            digest.update(f"d {rel}\0".encode())
        elif stat.S_ISREG(info.st_mode):
            executable = "x" if info.st_mode & 0o111 else "-"
            digest.update(f"f {rel} {executable} {info.st_size}\0".encode())
            with open(path, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
    return digest.hexdigest()


def image_labels(image: str, engine: Any = None) -> dict[str, str] | None:
    """The labels of the local `image`, or None if it does not exist. Through the engine's
    unix socket (no Docker SDK import) unless `engine` (a docker.DockerClient) is given or
    DOCKER_HOST names a remote engine."""
    from easy_sm.docker.engine_api import EngineApi, unix_socket_path

    socket_path = unix_socket_path()
    if engine is None and socket_path is not None:
        return EngineApi(socket_path).image_labels(image)
    import docker.errors

    from easy_sm.docker.engine import connect, docker_errors

    engine = engine or connect()
    with docker_errors(f"inspecting image {image}"):
        try:
            return dict(engine.images.get(image).labels or {})
        except docker.errors.ImageNotFound:
            return None


def is_stale(image: str, request: BuildRequest, engine: Any = None) -> bool | None:
    """None if `image` is missing, True if its sources changed since it was built (or it
    carries no source hash), else False."""
    labels = image_labels(image, engine)
    if labels is None:
        return None
    return labels.get(SOURCE_HASH_LABEL) != source_hash(request)


def build_labelled(
    engine: Any,
    request: BuildRequest,
    *,
    sink: Callable[[str], None] | None = None,
    hash_value: str | None = None,
) -> str:
    """Build `request` with its source hash as a label; return the image id."""
    from easy_sm.docker.build import build_image

    request.labels[SOURCE_HASH_LABEL] = hash_value or source_hash(request)
    return build_image(engine, request, sink=sink)


def ensure_fresh_image(request: BuildRequest, *, no_build: bool, engine: Any = None) -> None:
    """Make sure the image `request.tag` exists and was built from the current sources:
    build it when it is missing, rebuild it (one line on stderr) when they changed.
    With `no_build`, do nothing: the image is used as it is."""
    if no_build:
        return
    image = request.tag
    current = source_hash(request)
    labels = image_labels(image, engine)
    if labels is None:
        console.info(f"{image} not found: building it")
    elif labels.get(SOURCE_HASH_LABEL) != current:
        console.info(f"sources changed since {image} was built: rebuilding")
    else:
        return
    from easy_sm.docker.build import default_sink
    from easy_sm.docker.engine import connect

    verbose = console.verbosity.verbose and not console.verbosity.quiet
    build_labelled(
        engine or connect(),
        request,
        sink=default_sink(quiet=not verbose),
        hash_value=current,
    )
