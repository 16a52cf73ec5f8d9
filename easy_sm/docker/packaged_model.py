"""Serving a packaged model (`--model PATH|s3://…/model.tar.gz`) instead of test_dir/model.

The archive (downloaded first when it is an S3 URI: the caller hands in the download function,
which lives in the AWS seam) is extracted into a folder of its own under
`$XDG_CACHE_HOME/easy_sm/models/` (default `~/.cache/easy_sm/models/`), checked member by
member: only regular files and folders, none leaving the folder (no absolute paths, no `..`),
no links or devices. The folder is mounted read-only at /opt/ml/model, and its path is put on
the container as the label `easy_sm.model_dir`:

- `local batch-transform` removes it when the transform ends (success, failure, Ctrl-C);
- `local deploy` keeps it while the server runs; `local stop` removes it with the container.
  `local stop` also removes folders whose container is gone (e.g. removed with `docker rm`).

A folder given as PATH is mounted read-only as it is (nothing extracted, nothing removed).
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from easy_sm.docker.containers import Mount, RunSpec
from easy_sm.errors import UsageError

LABEL_MODEL_DIR = "easy_sm.model_dir"
MODEL_MOUNT = "/opt/ml/model"
# An unreferenced folder younger than this may belong to a deploy that is still starting.
ORPHAN_AGE_SECONDS = 600


@dataclass(frozen=True)
class ModelSource:
    """A validated --model value: an S3 URI, a local archive or a local model folder."""

    text: str
    s3_uri: str | None = None
    path: Path | None = None

    @property
    def is_folder(self) -> bool:
        return self.path is not None and self.path.is_dir()


def parse_model_source(value: str) -> ModelSource:
    """Check a --model value before anything starts."""
    if value.startswith("s3://"):
        bucket, _, key = value[len("s3://") :].partition("/")
        if not bucket or not key or key.endswith("/"):
            raise UsageError(
                f"--model {value!r} does not name an S3 object",
                "give the archive's URI, e.g. s3://bucket/job/output/model.tar.gz "
                "(`easy_sm get-model-artifacts -j JOB` prints it)",
            )
        return ModelSource(value, s3_uri=value)
    path = Path(value).expanduser()
    if not path.exists():
        raise UsageError(
            f"--model {value} does not exist",
            "give a model.tar.gz, a model folder or an s3:// URI",
        )
    if not (path.is_file() or path.is_dir()):
        raise UsageError(f"--model {value} is not a file or a folder", "give a model.tar.gz")
    return ModelSource(value, path=path.resolve())


def models_root() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(cache) if cache else Path.home() / ".cache"
    return base / "easy_sm" / "models"


def _unsafe(archive: str, member: str, why: str) -> UsageError:
    return UsageError(
        f"model archive {archive}: member {member!r} {why}; refusing to extract it",
        "a model.tar.gz holds only files and folders under its root: repackage it",
    )


def check_members(members: Iterable[tarfile.TarInfo], archive: str) -> list[tarfile.TarInfo]:
    """The members, if every one is a regular file or folder that stays inside the target."""
    checked = []
    for member in members:
        name = member.name
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise _unsafe(archive, name, "has an absolute path")
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if ".." in parts:
            raise _unsafe(archive, name, "leaves the model folder (..)")
        if member.issym() or member.islnk():
            raise _unsafe(archive, name, f"is a link (to {member.linkname!r})")
        if not (member.isfile() or member.isdir()):
            raise _unsafe(archive, name, "is a device, FIFO or other special file")
        checked.append(member)
    return checked


def extract_archive(archive: Path, target: Path, label: str) -> None:
    """Extract `archive` into `target` (created), refusing unsafe members; `label` names the
    archive in errors."""
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = check_members(tar.getmembers(), label)
            root = target.resolve()
            for member in members:
                destination = (root / member.name).resolve()
                if destination != root and root not in destination.parents:
                    raise _unsafe(label, member.name, "leaves the model folder")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(root, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(root, members=members)  # members checked above
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        if "could not be opened successfully" in reason:  # tarfile lists each method tried
            reason = "not gzip-compressed tar data"
        raise UsageError(
            f"model archive {label} is not a readable .tar.gz ({reason})",
            "give the model.tar.gz a training job wrote (or `easy_sm local train --package-model`)",
        ) from None


@dataclass
class StagedModel:
    """The folder mounted at /opt/ml/model, and the scratch folder to remove afterwards."""

    model_dir: Path
    scratch: Path | None  # None: a user's folder, never removed

    def release(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def stage_model(
    source: ModelSource,
    download: Callable[[str, Path], None],
    on_step: Callable[[str], None] = lambda _: None,
) -> StagedModel:
    """Make `source` a folder to mount: a folder as is; an archive (downloaded with
    `download(s3_uri, file)` first when remote) extracted into a scratch folder."""
    if source.is_folder:
        assert source.path is not None
        return StagedModel(source.path, None)
    scratch = models_root() / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    try:
        if source.s3_uri is not None:
            archive = scratch / "model.tar.gz"
            on_step(f"downloading {source.s3_uri}")
            download(source.s3_uri, archive)
        else:
            assert source.path is not None
            archive = source.path
        on_step(f"extracting {source.text}")
        extract_archive(archive, scratch / "model", source.text)
        if source.s3_uri is not None:
            archive.unlink()
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return StagedModel(scratch / "model", scratch)


def mount_model(spec: RunSpec, staged: StagedModel) -> None:
    """Serve `staged` in `spec`: mounted read-only at /opt/ml/model, labelled for clean-up."""
    spec.mounts = [m for m in spec.mounts if m.target != MODEL_MOUNT]
    spec.mounts.append(Mount(str(staged.model_dir), MODEL_MOUNT, read_only=True))
    if staged.scratch is not None:
        spec.labels[LABEL_MODEL_DIR] = str(staged.scratch)


def release_models(containers: Iterable[Any]) -> None:
    """Remove the extracted models of `containers` (already stopped)."""
    root = models_root().resolve()
    for container in containers:
        folder = (getattr(container, "labels", None) or {}).get(LABEL_MODEL_DIR)
        if folder and root in Path(folder).resolve().parents:
            shutil.rmtree(folder, ignore_errors=True)


def remove_orphaned_models(engine: Any) -> None:
    """Remove extracted models no container refers to any more (older than 10 minutes)."""
    from easy_sm.docker.engine import docker_errors

    root = models_root()
    if not root.is_dir():
        return
    with docker_errors("listing containers"):
        found = engine.containers.list(all=True, filters={"label": [LABEL_MODEL_DIR]})
    in_use = {Path(c.labels.get(LABEL_MODEL_DIR, "")).resolve() for c in found}
    now = time.time()
    for folder in root.iterdir():
        try:
            young = now - folder.stat().st_mtime < ORPHAN_AGE_SECONDS
        except OSError:
            continue
        if folder.is_dir() and not young and folder.resolve() not in in_use:
            shutil.rmtree(folder, ignore_errors=True)
