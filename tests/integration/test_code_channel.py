"""`--code` on the real engine: the image runs the code of a job's `code` channel instead of its
own copy. `local train --code` lays the channel out as SageMaker does for `train --code`
(/opt/ml/input/data/code/<sha256>.tar.gz), so this is the container side of both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app

pytestmark = pytest.mark.docker

MODULE = Path("ex-app")
TEST_DIR = MODULE / "easy_sm_base" / "local_test" / "test_dir"
CHANGED = """

_original_train = train


def train(input_data_path, model_save_path, hyperparameters=None):
    _original_train(input_data_path, model_save_path, hyperparameters)
    print("CHANGED-CODE-RAN")
    with open(model_save_path + "/changed.txt", "w") as handle:
        handle.write("from the code channel")
"""


def test_local_train_code_runs_the_changed_code_and_plain_train_the_baked_one(
    example_project: Path,
    example_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runner: CliRunner,
) -> None:
    project = tmp_path / "project"
    shutil.copytree(example_project, project)
    monkeypatch.chdir(project)
    training = project / MODULE / "easy_sm_base" / "training" / "training.py"
    training.write_text(training.read_text(encoding="utf-8") + CHANGED, encoding="utf-8")

    result = runner.invoke(app, ["local", "train", "--code"])
    assert result.exit_code == 0, result.stderr
    model = project / TEST_DIR / "model"
    assert (model / "changed.txt").read_text() == "from the code channel"
    assert "CHANGED-CODE-RAN" in result.stderr
    assert "running the code of the job's code input" in result.stderr
    # the channel is gone afterwards: a later run without --code must not pick it up
    assert not (project / TEST_DIR / "input" / "data" / "code").exists()

    # --no-build: the image as it is (without it, local train would rebuild it first)
    result = runner.invoke(app, ["local", "train", "--no-build"])
    assert result.exit_code == 0, result.stderr
    assert (model / "model.joblib").is_file()
    assert not (model / "changed.txt").exists()  # the image's own (unchanged) code ran
    assert "CHANGED-CODE-RAN" not in result.stderr


# --- the stale-image warning (real engine for the local image, moto for ECR) -----------------

STALE = "warning: the pushed image does not contain your latest code — push, or use --code"


def put_ecr_image(repository: str, tag: str) -> None:
    import json
    import os

    import boto3

    ecr = boto3.client("ecr", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    ecr.create_repository(repositoryName=repository)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": 1, "digest": "sha256:" + "0" * 64},
        "layers": [],
    }  # fmt: skip
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def test_train_warns_once_when_the_pushed_image_is_not_the_local_one(
    example_project: Path,
    example_image: str,
    tmp_path: Path,
    moto: str,
    monkeypatch: pytest.MonkeyPatch,
    runner: CliRunner,
) -> None:
    project = tmp_path / "project"
    shutil.copytree(example_project, project)
    monkeypatch.chdir(project)
    monkeypatch.setenv("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/sagemaker-exec")
    monkeypatch.setenv("EASY_SM_POLL_SECONDS", "0.01")
    name, tag = example_image.rsplit(":", 1)
    args = ["train", "-i", "s3://my-bkt/in", "-o", "s3://my-bkt/out", "-e", "ml.m5.large"]
    args += ["-n", "iris"]

    import os

    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket="my-bkt", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="my-bkt", Key="in/part-0.csv", Body=b"1\n")  # for the preflight

    # nothing pushed yet: nothing to compare, no warning (the preflight, which would stop
    # this train for the missing image, is skipped to reach the warning's own check)
    result = runner.invoke(app, [*args, "--skip-checks"])
    assert result.exit_code == 0, result.stderr
    assert STALE not in result.stderr

    # ECR holds another image under the tag than the local one: warn, once
    put_ecr_image(name, tag)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count(STALE) == 1

    # with --code the job runs the current code: no warning
    result = runner.invoke(app, [*args, "--code"])
    assert result.exit_code == 0, result.stderr
    assert STALE not in result.stderr

    # an engine that cannot be reached never fails the command
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert STALE not in result.stderr
