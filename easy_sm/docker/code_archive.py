"""`--code`: the app's code folder as a reproducible `code.tar.gz`, so a job can run changed
code without a rebuild and a push.

The archive holds exactly what `easy_sm build` copies into the image (`COPY MODULE_DIR
/opt/program/MODULE_NAME`): the module folder's files of the build context, with the same
exclusions (.dockerignore, local test data, virtual environments, caches). Members are sorted,
with fixed mtimes, owners and modes, so the same sources always give the same bytes, and the
SHA-256 of those bytes names the archive in S3 (uploaded once, reused after).

The image's entry point (`easy_sm_base/executor.sh`) runs the archive's code when the job has
the `code` input: the training channel `/opt/ml/input/data/code/` or the processing input
`/opt/ml/processing/code/`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from easy_sm.config.config import BASE_DIR_NAME
from easy_sm.errors import UsageError

CODE_CHANNEL = "code"
TRAINING_CODE_DIR = "/opt/ml/input/data/code"
PROCESSING_CODE_DIR = "/opt/ml/processing/code"
_FIXED_MTIME = 0


@dataclass(frozen=True)
class CodeArchive:
    """A packed code folder: its bytes and their SHA-256 (hex)."""

    data: bytes
    sha256: str
    files: int

    @property
    def file_name(self) -> str:
        return f"{self.sha256}.tar.gz"


def code_files(project_dir: Path, module_dir: Path) -> list[tuple[str, Path]]:
    """`(name in the archive, path)` of every file `build` copies from the module folder,
    sorted by name."""
    from easy_sm.docker.build import context_excludes
    from easy_sm.docker.dockerignore import context_paths

    project_dir = project_dir.resolve()
    module_dir = module_dir.resolve()
    base = module_dir / BASE_DIR_NAME
    excludes = context_excludes(project_dir, base / "local_test" / "test_dir")
    module_rel = module_dir.relative_to(project_dir).as_posix()
    files: list[tuple[str, Path]] = []
    dockerfile = (base / "Dockerfile").relative_to(project_dir).as_posix()
    for relative in context_paths(str(project_dir), excludes, dockerfile):
        path = project_dir / relative
        if module_rel not in ("", "."):
            if not relative.startswith(module_rel + "/"):
                continue
            name = relative[len(module_rel) + 1 :]
        else:
            name = relative
        if path.is_file() and not path.is_symlink():
            files.append((name, path))
    return sorted(files)


def pack_code(project_dir: Path, module_dir: Path) -> CodeArchive:
    """The reproducible tar.gz of the module folder (see the module's docstring)."""
    files = code_files(project_dir, module_dir)
    if not any(name.startswith(f"{BASE_DIR_NAME}/") for name, _ in files):
        raise UsageError(
            f"--code: no {BASE_DIR_NAME}/ in {module_dir}",
            "run it in an easy_sm project (easy_sm_module_dir in the config names the folder)",
        )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, path in files:
            info = tarfile.TarInfo(name)
            mode = path.stat().st_mode
            info.mode = 0o755 if mode & stat.S_IXUSR else 0o644
            info.size = path.stat().st_size
            info.mtime = _FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(path, "rb") as handle:
                archive.addfile(info, handle)
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=_FIXED_MTIME, filename="") as gz:
        gz.write(raw.getvalue())
    data = packed.getvalue()
    return CodeArchive(data=data, sha256=hashlib.sha256(data).hexdigest(), files=len(files))


def write_local_channel(archive: CodeArchive, test_dir: Path) -> Path:
    """Put the archive where `local train --code` mounts it: test_dir/input/data/code/,
    the layout SageMaker gives a training job's `code` channel. Returns the folder."""
    folder = test_dir / "input" / "data" / CODE_CHANNEL
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.tar.gz"):
        old.unlink()
    target = folder / archive.file_name
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(archive.data)
    os.replace(tmp, target)
    return folder


def remove_local_channel(test_dir: Path) -> None:
    """Remove the archives `write_local_channel` left (only those: `<sha256>.tar.gz`), so a
    later `local train` without --code runs the image's own code."""
    folder = test_dir / "input" / "data" / CODE_CHANNEL
    if not folder.is_dir():
        return
    for archive in folder.glob("*.tar.gz"):
        if re.fullmatch(r"[0-9a-f]{64}\.tar\.gz", archive.name):
            archive.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()  # only when empty: a folder with the user's own files stays
