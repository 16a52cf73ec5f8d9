"""The local side of "is the pushed image older than my code?" (`train|process|run` without
--code): the local image's registry digests, and whether the sources changed since it was
built (by its `easy_sm.source-hash` label, when this easy_sm labels its builds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from easy_sm.commands.helpers import Project


def local_repo_digests(image: str) -> list[str] | None:
    """The local image's RepoDigests (`registry/name@sha256:...`), or None when it is missing
    or the engine is reached over TCP/SSH (the check stays cheap: no SDK import)."""
    from easy_sm.docker.engine_api import EngineApi, unix_socket_path

    socket_path = unix_socket_path()
    if socket_path is None:
        return None
    found = EngineApi(socket_path).inspect_image(image)
    if found is None:
        return None
    return [str(d) for d in found.get("RepoDigests") or []]


def sources_changed_since_build(project: Project) -> bool | None:
    """True when the local image was built from other sources than those on disk now (or
    carries no source hash), None when there is no local image."""
    from easy_sm.docker.build import project_build_request
    from easy_sm.docker.freshness import is_stale

    return is_stale(project.image, project_build_request(project))
