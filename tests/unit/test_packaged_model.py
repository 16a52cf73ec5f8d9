"""`--model PATH|s3://…`: validating the value, extracting archives safely, and cleaning up."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from easy_sm.docker.containers import Mount, RunSpec
from easy_sm.docker.packaged_model import (
    LABEL_MODEL_DIR,
    ModelSource,
    models_root,
    mount_model,
    parse_model_source,
    release_models,
    stage_model,
)
from easy_sm.errors import UsageError


def make_archive(path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def regular(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def no_download(uri: str, target: Path) -> None:
    raise AssertionError("nothing should be downloaded")


def test_a_good_archive_is_extracted_into_a_scratch_folder_and_released(tmp_path: Path) -> None:
    archive = make_archive(
        tmp_path / "model.tar.gz", regular("model.joblib", b"weights"), regular("sub/vocab.txt")
    )
    staged = stage_model(parse_model_source(str(archive)), no_download)
    assert staged.scratch is not None and models_root() in staged.scratch.parents
    assert (staged.model_dir / "model.joblib").read_bytes() == b"weights"
    assert (staged.model_dir / "sub" / "vocab.txt").is_file()
    staged.release()
    assert not staged.scratch.exists()
    assert archive.exists()  # the user's archive is never touched


def test_an_s3_archive_is_downloaded_then_extracted_and_the_download_removed(
    tmp_path: Path,
) -> None:
    archive = make_archive(tmp_path / "model.tar.gz", regular("model.joblib"))
    asked = []

    def download(uri: str, target: Path) -> None:
        asked.append(uri)
        target.write_bytes(archive.read_bytes())

    staged = stage_model(parse_model_source("s3://bucket/job/output/model.tar.gz"), download)
    assert asked == ["s3://bucket/job/output/model.tar.gz"]
    assert staged.scratch is not None
    assert sorted(p.name for p in staged.scratch.iterdir()) == ["model"]


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (regular("../evil.py"), "member '../evil.py' leaves the model folder"),
        (regular("sub/../../evil.py"), "leaves the model folder"),
        (regular("/etc/evil"), "member '/etc/evil' has an absolute path"),
        (special("link", tarfile.SYMTYPE, "/etc/passwd"), "is a link (to '/etc/passwd')"),
        (special("hard", tarfile.LNKTYPE, "model.joblib"), "is a link (to 'model.joblib')"),
        (special("dev", tarfile.CHRTYPE), "is a device, FIFO or other special file"),
        (special("fifo", tarfile.FIFOTYPE), "is a device, FIFO or other special file"),
    ],
)
def test_unsafe_members_are_refused_and_nothing_is_left_behind(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None], message: str
) -> None:
    archive = make_archive(tmp_path / "evil.tar.gz", regular("model.joblib"), member)
    with pytest.raises(UsageError) as refused:
        stage_model(parse_model_source(str(archive)), no_download)
    assert message in str(refused.value)
    assert "refusing to extract it" in str(refused.value)
    assert not (tmp_path / "evil.py").exists()
    assert not models_root().exists() or not any(models_root().iterdir())


@pytest.mark.parametrize(
    "content", [b"not a tarball at all", b"\x1f\x8b\x08\x00garbage", b""], ids=str
)
def test_a_corrupt_archive_is_a_usage_error(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(UsageError, match=r"is not a readable \.tar\.gz") as refused:
        stage_model(parse_model_source(str(archive)), no_download)
    assert "\n" not in str(refused.value)  # one line
    assert not models_root().exists() or not any(models_root().iterdir())


def test_a_truncated_archive_is_a_usage_error(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "model.tar.gz", regular("model.joblib", os.urandom(100_000)))
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(UsageError, match=r"is not a readable \.tar\.gz"):
        stage_model(parse_model_source(str(archive)), no_download)


def test_bad_model_values_are_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        parse_model_source(str(tmp_path / "missing.tar.gz"))
    for uri in ("s3://bucket", "s3://bucket/", "s3://bucket/prefix/"):
        with pytest.raises(UsageError, match="does not name an S3 object"):
            parse_model_source(uri)


def test_a_model_folder_is_mounted_read_only_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    staged = stage_model(parse_model_source(str(folder)), no_download)
    spec = RunSpec(
        image="i",
        command=["serve"],
        app_name="a",
        kind="serve",
        mounts=[Mount("/somewhere/test_dir/model", "/opt/ml/model")],
    )
    mount_model(spec, staged)
    assert spec.mounts == [Mount(str(folder.resolve()), "/opt/ml/model", read_only=True)]
    assert LABEL_MODEL_DIR not in spec.labels
    staged.release()
    assert folder.is_dir()


def test_release_removes_only_folders_under_the_models_root(tmp_path: Path) -> None:
    mine = models_root() / "x"
    (mine / "model").mkdir(parents=True)
    elsewhere = tmp_path / "keep"
    elsewhere.mkdir()
    release_models(
        [
            SimpleNamespace(labels={LABEL_MODEL_DIR: str(mine)}),
            SimpleNamespace(labels={LABEL_MODEL_DIR: str(elsewhere)}),
            SimpleNamespace(labels={}),
        ]
    )
    assert not mine.exists()
    assert elsewhere.is_dir()


def test_model_source_kinds() -> None:
    assert ModelSource("s3://b/k", s3_uri="s3://b/k").is_folder is False


def test_stop_removes_only_old_model_folders_no_container_refers_to() -> None:
    import time

    from easy_sm.docker.packaged_model import remove_orphaned_models

    root = models_root()
    folders = {name: root / name for name in ("old-orphan", "young-orphan", "old-in-use")}
    for folder in folders.values():
        (folder / "model").mkdir(parents=True)
    an_hour_ago = time.time() - 3600
    for name in ("old-orphan", "old-in-use"):
        os.utime(folders[name], (an_hour_ago, an_hour_ago))
    in_use = SimpleNamespace(labels={LABEL_MODEL_DIR: str(folders["old-in-use"])})
    asked: list[object] = []

    def list_containers(**kwargs: object) -> list[object]:
        asked.append(kwargs)
        return [in_use]

    remove_orphaned_models(SimpleNamespace(containers=SimpleNamespace(list=list_containers)))
    assert sorted(p.name for p in root.iterdir()) == ["old-in-use", "young-orphan"]
    assert asked == [{"all": True, "filters": {"label": [LABEL_MODEL_DIR]}}]
