"""`easy_sm doctor`'s Docker checks: the engine answers (and its version), the app's image is
built and newer than every file of its build context."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from easy_sm.checks import Check
from easy_sm.errors import DockerError, EasySmError

DOCKER_EXIT = DockerError.exit_code


def engine_check() -> tuple[Check, Any]:
    """The engine check, and the engine (None when it does not answer)."""
    from easy_sm.docker.engine import connect, docker_errors

    try:
        engine = connect()
        with docker_errors("docker version"):
            version = engine.version().get("Version", "?")
    except DockerError as exc:
        return Check("Docker engine", False, exc.message, exc.hint or "", DOCKER_EXIT), None
    return Check("Docker engine", True, f"reachable, version {version}"), engine


def _timestamp(raw: str) -> float:
    """Seconds since the epoch of Docker's `2024-05-01T10:00:00.123456789Z` (0 if unset)."""
    head, _, rest = raw.rstrip("Z").partition(".")
    if not head or head.startswith("0001-"):
        return 0.0
    fraction = "".join(c for c in rest if c.isdigit())[:6]
    return datetime.fromisoformat(f"{head}.{fraction or '0'}+00:00").timestamp()


def built_at(image: Any) -> float:
    """When the image was last built: its creation, or its last tagging (a build that Docker
    answered wholly from its cache keeps the old creation time but tags the image anew)."""
    attrs = image.attrs
    tagged = str((attrs.get("Metadata") or {}).get("LastTagTime", ""))
    return max(_timestamp(str(attrs.get("Created", ""))), _timestamp(tagged))


def image_check(engine: Any, image: str, context_dir: Path, files: list[str]) -> Check:
    """`image` exists locally and was built after the newest file of its build context."""
    from easy_sm.docker.engine import require_image

    name = "image built"
    if engine is None:
        return Check(name, False, "not checked: no Docker engine", "start Docker", DOCKER_EXIT)
    try:
        found = require_image(engine, image)
    except EasySmError as exc:
        return Check(name, False, exc.message, "run easy_sm build", DOCKER_EXIT)
    built = built_at(found)
    newest = max(((context_dir / f).stat().st_mtime, f) for f in files) if files else None
    if newest is not None and newest[0] > built:
        return Check(
            name,
            False,
            f"{image} is older than {newest[1]}",
            "run easy_sm build (and easy_sm push)",
            DOCKER_EXIT,
        )
    return Check(name, True, f"{image} is up to date with its sources")
