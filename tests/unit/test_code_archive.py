"""The `--code` archive: what `build` would copy, reproducible byte for byte."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.commands.helpers import load_project
from easy_sm.docker.code_archive import (
    code_files,
    pack_code,
    remove_local_channel,
    write_local_channel,
)
from easy_sm.errors import UsageError


@pytest.fixture
def project(runner: CliRunner, isolated: Path) -> Path:
    result = runner.invoke(app, ["init", "--app-name", "demo", "--python-version", "3.11", "--yes"])
    assert result.exit_code == 0, result.stderr
    return isolated


def pack(project: Path):  # type: ignore[no-untyped-def]
    loaded = load_project(None)
    return pack_code(loaded.project_dir, loaded.module_dir)


def test_the_archive_holds_the_module_folder_as_build_copies_it(project: Path) -> None:
    base = project / "demo" / "easy_sm_base"
    (base / "training" / "__pycache__").mkdir()
    (base / "training" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (project / ".dockerignore").write_text("demo/secret.txt\n", encoding="utf-8")
    (project / "demo" / "secret.txt").write_text("no", encoding="utf-8")
    (project / "demo" / "helpers.py").write_text("X = 1\n", encoding="utf-8")
    archive = pack(project)
    with tarfile.open(fileobj=io.BytesIO(archive.data)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert "easy_sm_base/training/training.py" in names
    assert "easy_sm_base/executor.sh" in names
    assert "helpers.py" in names
    assert "secret.txt" not in names  # .dockerignore
    assert not [n for n in names if "__pycache__" in n or "local_test/test_dir" in n]
    assert not [n for n in names if n.startswith("demo/")]  # relative to the module folder
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", 0)}
    executor = next(m for m in members if m.name == "easy_sm_base/executor.sh")
    assert executor.mode == 0o755
    assert archive.files == len(names)


def test_the_same_sources_give_the_same_bytes_and_a_change_a_new_name(project: Path) -> None:
    first = pack(project)
    training = project / "demo" / "easy_sm_base" / "training" / "training.py"
    os.utime(training, (1_000_000, 1_000_000))  # a touch changes nothing
    assert pack(project).data == first.data
    training.write_text(training.read_text() + "\n# changed\n", encoding="utf-8")
    second = pack(project)
    assert second.sha256 != first.sha256
    assert second.file_name == f"{second.sha256}.tar.gz"


def test_a_folder_without_easy_sm_base_is_refused(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.py").write_text("")
    with pytest.raises(UsageError, match="no easy_sm_base/"):
        pack_code(other, other)


def test_the_local_channel_is_written_and_removed_but_user_files_stay(
    project: Path, tmp_path: Path
) -> None:
    test_dir = tmp_path / "test_dir"
    archive = pack(project)
    folder = write_local_channel(archive, test_dir)
    assert [p.name for p in folder.iterdir()] == [archive.file_name]
    remove_local_channel(test_dir)
    assert not folder.exists()
    folder.mkdir(parents=True)
    (folder / "mine.csv").write_text("1\n")
    write_local_channel(archive, test_dir)
    remove_local_channel(test_dir)
    assert [p.name for p in folder.iterdir()] == ["mine.csv"]


def test_code_files_of_a_project_whose_module_is_the_project_folder(
    isolated: Path, runner: CliRunner
) -> None:
    (isolated / "easy_sm_base" / "training").mkdir(parents=True)
    (isolated / "easy_sm_base" / "training" / "training.py").write_text("")
    (isolated / "requirements.txt").write_text("")
    names = [name for name, _ in code_files(isolated, isolated)]
    assert names == ["easy_sm_base/training/training.py", "requirements.txt"]
