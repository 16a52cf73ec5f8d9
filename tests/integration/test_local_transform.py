"""`easy_sm local batch-transform` and `--model` on the real Docker engine (moto for S3).

The example app is trained once for the module; its server, deployed once, answers the single
requests every transform's `.out` files are compared with, record by record."""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from tests.conftest import free_port
from tests.integration.conftest import run_cli

pytestmark = pytest.mark.docker

BASE = Path("ex-app/easy_sm_base")
ROLE = "arn:aws:iam::123456789012:role/sagemaker-exec"


@pytest.fixture(scope="module")
def trained_project(
    example_project: Path, example_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the example project after `easy_sm local train --package-model`, under an app
    name of its own (tr-app: same image, same sources), so that no other test's `local stop`
    of ex-app stops this module's servers. Commands run with --no-build: the session built
    the image, and the renamed config must not count as a source change."""
    project = tmp_path_factory.mktemp("transform") / "project"
    shutil.copytree(example_project, project)
    (project / "ex-app.json").rename(project / "tr-app.json")
    code, _out, err = run_cli(["local", "train", "--package-model", "--no-build"], project)
    assert code == 0, err
    return project


@pytest.fixture(scope="module")
def reference(trained_project: Path) -> Iterator[str]:
    """The same model served by `local deploy`: the single requests to compare with."""
    port = free_port()
    code, out, err = run_cli(
        ["local", "deploy", "--no-build", "-p", str(port), "--timeout", "120"], trained_project
    )
    assert code == 0, err
    try:
        yield out.strip()
    finally:
        run_cli(["local", "stop", "-p", str(port)], trained_project)


def single_answer(url: str, record: str) -> bytes:
    answer = requests.post(
        f"{url}/invocations", data=record, headers={"Content-Type": "text/csv"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer.content


def rows(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.uniform(4, 8):.1f},{rng.uniform(2, 4.5):.1f},{rng.uniform(1, 7):.1f},"
        f"{rng.uniform(0.1, 2.5):.1f}"
        for _ in range(count)
    ]


def input_tree(root: Path) -> dict[str, list[str]]:
    """a.csv, sub/b.csv and sub/deeper/c.csv (the last without a final newline)."""
    files = {"a.csv": rows(40, 1), "sub/b.csv": rows(25, 2), "sub/deeper/c.csv": rows(7, 3)}
    for relative, lines in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        ending = "" if relative.endswith("c.csv") else "\n"
        path.write_text("\n".join(lines) + ending, encoding="utf-8")
    return files


def container_name(stderr: str) -> str:
    found = re.search(r"\((easy-sm-tr-app-transform-[0-9a-f]+)\)", stderr)
    assert found, stderr
    return found.group(1)


def transform_containers(docker_client: object) -> list[object]:
    """This app's transform containers (listed without inspecting other tests' containers)."""
    api = docker_client.api  # type: ignore[attr-defined]
    return list(api.containers(all=True, filters={"name": "easy-sm-tr-app-transform"}))


def assert_removed(docker_client: object, name: str) -> None:
    left = docker_client.containers.list(all=True, filters={"name": name})  # type: ignore[attr-defined]
    assert left == []


def test_multi_record_transform_matches_single_requests_record_by_record(
    trained_project: Path, reference: str, docker_client: object, tmp_path: Path
) -> None:
    files = input_tree(tmp_path / "in")
    code, out, err = run_cli(
        [
            "local",
            "batch-transform",
            "--no-build",
            "-i",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--content-type",
            "text/csv",
            "--split-type",
            "Line",
            "--strategy",
            "MultiRecord",
            "--assemble-with",
            "Line",
        ],
        trained_project,
    )
    assert code == 0, err
    assert out == f"{(tmp_path / 'out').resolve()}\n"
    assert "BatchStrategy=MultiRecord, MaxPayloadInMB=6" in err
    assert "transformed 72 records of 3 files in 3 requests" in err
    produced = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert produced == ["a.csv.out", "sub", "sub/b.csv.out", "sub/deeper", "sub/deeper/c.csv.out"]
    for relative, records in files.items():
        lines = (tmp_path / "out" / f"{relative}.out").read_bytes().splitlines(keepends=True)
        assert lines == [single_answer(reference, record) for record in records], relative
    assert_removed(docker_client, container_name(err))


def test_single_record_transform_with_requests_in_parallel_matches_single_requests(
    trained_project: Path, reference: str, docker_client: object, tmp_path: Path
) -> None:
    files = input_tree(tmp_path / "in")
    code, _out, err = run_cli(
        [
            "local",
            "batch-transform",
            "--no-build",
            "-i",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--split-type",
            "Line",
            "--strategy",
            "SingleRecord",
            "--max-concurrent",
            "3",
        ],
        trained_project,
    )
    assert code == 0, err
    assert "BatchStrategy=SingleRecord, MaxPayloadInMB=6, MaxConcurrentTransforms=3" in err
    assert "transformed 72 records of 3 files in 72 requests" in err
    for relative, records in files.items():
        expected = b"".join(single_answer(reference, record) for record in records)
        assert (tmp_path / "out" / f"{relative}.out").read_bytes() == expected, relative
    assert_removed(docker_client, container_name(err))


def test_a_failing_record_fails_the_job_naming_the_file_and_line_and_removes_the_container(
    trained_project: Path, docker_client: object, tmp_path: Path
) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "a.csv").write_text("5.1,3.5,1.4,0.2\n", encoding="utf-8")
    (tmp_path / "in" / "sub" / "bad.csv").write_text(
        "5.1,3.5,1.4,0.2\n6.7,3.0,5.2\n6.0,2.9,4.5,1.5\n", encoding="utf-8"
    )
    code, out, err = run_cli(
        [
            "local",
            "batch-transform",
            "--no-build",
            "-i",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--split-type",
            "Line",
            "--strategy",
            "SingleRecord",
        ],
        trained_project,
    )
    assert code == 6, err
    assert out == ""
    assert (
        "error: batch transform failed on sub/bad.csv (line 2): the model server answered 400: "
        "400 Bad Request: wrong number of features: the model expects 4, got 3 — " in err
    )
    assert (tmp_path / "out" / "a.csv.out").read_bytes() == b"setosa\n"
    assert [p.name for p in (tmp_path / "out" / "sub").iterdir()] == []
    assert_removed(docker_client, container_name(err))


def test_ctrl_c_stops_the_transform_removes_its_container_and_keeps_no_partial_file(
    trained_project: Path, docker_client: object, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.csv").write_text("\n".join(rows(20_000, 4)) + "\n", encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "easy_sm",
            "local",
            "batch-transform",
            "--no-build",
            "-i",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--split-type",
            "Line",
            "--strategy",
            "SingleRecord",
        ],
        cwd=trained_project,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen = ""
        while "transforming 1 files" not in seen:
            line = proc.stderr.readline()
            assert line, f"the transform never started:\n{seen}"
            seen += line
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, seen + err
    assert out == ""
    assert "interrupted: the transform stopped and its container was removed" in err
    assert_removed(docker_client, container_name(seen))
    assert list((tmp_path / "out").iterdir()) == []  # no .out, no temp file


def test_gpus_without_a_gpu_runtime_is_a_one_line_docker_error(
    trained_project: Path, docker_client: object, tmp_path: Path
) -> None:
    from tests.integration.test_gpus import MESSAGE, gpu_ready

    if gpu_ready(docker_client):
        pytest.skip("this engine has a GPU runtime")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("5.1,3.5,1.4,0.2\n", encoding="utf-8")
    code, out, err = run_cli(
        [
            "local",
            "batch-transform",
            "--no-build",
            "-i",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--gpus",
            "all",
        ],
        trained_project,
    )
    assert code == 5, err
    assert out == ""
    assert err.strip().splitlines()[-1] == MESSAGE
    assert transform_containers(docker_client) == []


# -- --model PATH|s3://… ----------------------------------------------------------------------


def models_root() -> Path:
    return Path(os.environ["HOME"]) / ".cache" / "easy_sm" / "models"


def test_local_deploy_serves_the_model_get_model_artifacts_names_in_s3(
    trained_project: Path, moto: str, monkeypatch: pytest.MonkeyPatch, docker_client: object
) -> None:
    """easy_sm local deploy --model $(easy_sm get-model-artifacts -j JOB)"""
    monkeypatch.setenv("SAGEMAKER_ROLE", ROLE)
    sm = boto3.client("sagemaker", endpoint_url=moto)
    s3 = boto3.client("s3", endpoint_url=moto)
    s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    sm.create_training_job(
        TrainingJobName="iris-cloud",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://models/jobs"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    code, uri, err = run_cli(["get-model-artifacts", "-j", "iris-cloud"], trained_project)
    assert code == 0, err
    uri = uri.strip()
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    archive = trained_project / BASE / "local_test/test_dir/output/model.tar.gz"
    s3.upload_file(str(archive), bucket, key)
    # the project's own model is gone: only the downloaded one can answer
    model_dir = trained_project / BASE / "local_test/test_dir/model"
    moved = model_dir.with_name("model.moved")
    model_dir.rename(moved)
    model_dir.mkdir()
    port = free_port()
    try:
        code, url, err = run_cli(
            ["local", "deploy", "--no-build", "-p", str(port), "--timeout", "120", "--model", uri],
            trained_project,
        )
        assert code == 0, err
        assert f"downloading {uri}" in err
        (scratch,) = list(models_root().iterdir())
        (container,) = docker_client.containers.list(  # type: ignore[attr-defined]
            filters={"label": [f"easy_sm.port={port}"]}
        )
        assert container.labels["easy_sm.model_dir"] == str(scratch)
        assert single_answer(url.strip(), "6.7,3.0,5.2,2.3\n") == b"virginica\n"
    finally:
        code, _out, err = run_cli(["local", "stop", "-p", str(port)], trained_project)
        model_dir.rmdir()
        moved.rename(model_dir)
    assert code == 0, err
    assert list(models_root().iterdir()) == []


def test_batch_transform_of_a_missing_s3_model_is_an_aws_error(
    trained_project: Path, moto: str, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("5.1,3.5,1.4,0.2\n", encoding="utf-8")
    boto3.client("s3", endpoint_url=moto).create_bucket(
        Bucket="models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    uri = "s3://models/nope/output/model.tar.gz"
    code, out, err = run_cli(
        [
            "local",
            "batch-transform",
            "--no-build",
            "-i",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            uri,
        ],
        trained_project,
    )
    assert code == 4, err
    assert out == ""
    assert f"error: {uri} not found — check the URI" in err
    assert len(err.strip().splitlines()) == 1 + err.count("downloading")
    assert list(models_root().iterdir()) == []


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def _archive(path: Path, extra: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        good = _member("model.joblib")
        good.size = 1
        tar.addfile(good, io.BytesIO(b"x"))
        tar.addfile(extra, io.BytesIO(b"") if extra.isfile() else None)
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("dotdot", "member '../escape.py' leaves the model folder (..)"),
        ("absolute", "member '/tmp/escape.py' has an absolute path"),
        ("symlink", "member 'model.link' is a link (to '/etc/passwd')"),
        ("corrupt", "is not a readable .tar.gz"),
    ],
)
def test_an_unsafe_or_corrupt_model_archive_is_a_one_line_usage_error(
    trained_project: Path, docker_client: object, tmp_path: Path, case: str, message: str
) -> None:
    archive = tmp_path / "model.tar.gz"
    if case == "dotdot":
        _archive(archive, _member("../escape.py"))
    elif case == "absolute":
        _archive(archive, _member("/tmp/escape.py"))
    elif case == "symlink":
        _archive(archive, _member("model.link", tarfile.SYMTYPE, "/etc/passwd"))
    else:
        archive.write_bytes(b"\x1f\x8b\x08\x00 this is not gzip data")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("5.1,3.5,1.4,0.2\n", encoding="utf-8")
    code, out, err = run_cli(
        [
            "local",
            "batch-transform",
            "--no-build",
            "-i",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(archive),
        ],
        trained_project,
    )
    assert code == 2, err
    assert out == ""
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert message in line and " — " in line
    assert not (tmp_path / "escape.py").exists() and not Path("/tmp/escape.py").exists()
    assert list(models_root().iterdir()) == []
    assert transform_containers(docker_client) == []
