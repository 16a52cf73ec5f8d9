"""`train|process|run --code` and `train --keep-alive` against a moto server: the code archive
is uploaded once, content-addressed, and the job request carries it (read back from moto, or
from the request the server received where moto drops the field)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app

pytestmark = pytest.mark.moto

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-exec"
BUCKET = "data-bucket"


@pytest.fixture
def project(isolated: Path, moto: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (isolated / "my-app.json").write_text(
        json.dumps({"image_name": "my-app", "aws_region": REGION, "easy_sm_module_dir": "app"}),
        encoding="utf-8",
    )
    base = isolated / "app" / "easy_sm_base"
    (base / "training").mkdir(parents=True)
    (base / "processing").mkdir()
    (base / "training" / "training.py").write_text("def train(i, m):\n    pass\n")
    (base / "processing" / "process_data.py").write_text("print('processing')\n")
    (base / "local_test" / "test_dir").mkdir(parents=True)
    (base / "local_test" / "test_dir" / "big.csv").write_text("not in the archive\n")
    monkeypatch.setenv("SAGEMAKER_ROLE", ROLE)
    monkeypatch.setenv("EASY_SM_POLL_SECONDS", "0.01")
    aws("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    # what the preflight checks: the image in ECR, the S3 inputs the tests name
    from tests.integration.test_cloud import push_image

    push_image(region=REGION)
    for key in ("train/part-0.csv", "in/part-0.csv"):
        aws("s3").put_object(Bucket=BUCKET, Key=key, Body=b"1\n")
    return isolated


def aws(service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict[str, Any]]]:
    """The parameters of each SageMaker request as it went to the server, by operation."""
    from easy_sm.sagemaker import sagemaker as facade
    from easy_sm.sagemaker.session import client as real_client

    requests: dict[str, list[dict[str, Any]]] = {}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        requests.setdefault(model.name, []).append(json.loads(json.dumps(params, default=str)))

    def recording_client(session: Any, service: str) -> Any:
        made = real_client(session, service)
        made.meta.events.register("before-parameter-build.*.*", record)
        return made

    monkeypatch.setattr(facade, "client", recording_client)
    return requests


def train(runner: CliRunner, *extra: str) -> Any:
    return runner.invoke(
        app,
        [
            *("train", "-i", f"s3://{BUCKET}/train", "-o", f"s3://{BUCKET}/models"),
            *("-e", "ml.m5.large", "-n", "iris", *extra),
        ],
    )


def code_objects() -> list[str]:
    listed = aws("s3").list_objects_v2(Bucket=BUCKET, Prefix="my-app/code/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_train_code_uploads_the_archive_once_and_passes_it_as_the_code_channel(
    runner: CliRunner, project: Path
) -> None:
    result = train(runner, "--code")
    assert result.exit_code == 0, result.stderr
    [key] = code_objects()
    body = aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert key == f"my-app/code/{hashlib.sha256(body).hexdigest()}.tar.gz"
    assert "uploaded to s3://" in result.stderr

    job_name = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
    job = aws("sagemaker").describe_training_job(TrainingJobName=job_name)
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert channels["code"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/{key}"
    assert channels["training"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/train"

    again = train(runner, "--code")  # same sources: same archive, not uploaded again
    assert again.exit_code == 0, again.stderr
    assert code_objects() == [key]
    assert "unchanged since uploaded" in again.stderr

    training = project / "app" / "easy_sm_base" / "training" / "training.py"
    training.write_text(training.read_text() + "# a one-line change\n")
    changed = train(runner, "--code")
    assert changed.exit_code == 0, changed.stderr
    assert len(code_objects()) == 2


def test_train_without_code_has_no_code_channel(runner: CliRunner, project: Path) -> None:
    result = train(runner)
    assert result.exit_code == 0, result.stderr
    name = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
    job = aws("sagemaker").describe_training_job(TrainingJobName=name)
    assert [c["ChannelName"] for c in job["InputDataConfig"]] == ["training"]
    assert code_objects() == []


def test_a_code_channel_given_by_hand_clashes_with_code_and_nothing_is_uploaded(
    runner: CliRunner, project: Path
) -> None:
    result = train(runner, "--code", "--channel", f"code=s3://{BUCKET}/x")
    assert result.exit_code == 2
    assert "clashes with --code" in result.stderr
    assert code_objects() == []
    assert aws("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_process_and_run_code_is_the_code_input_at_opt_ml_processing_code(
    runner: CliRunner, project: Path, sent: dict[str, list[dict[str, Any]]]
) -> None:
    result = runner.invoke(
        app,
        [
            *("process", "-f", "process_data.py", "-e", "ml.m5.large", "-n", "prep"),
            *("-o", f"s3://{BUCKET}/out", "--code"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    [key] = code_objects()
    inputs = sent["CreateProcessingJob"][0]["ProcessingInputs"]
    assert inputs == [
        {
            "InputName": "code",
            "S3Input": {
                "S3Uri": f"s3://{BUCKET}/{key}",
                "LocalPath": "/opt/ml/processing/code",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            },
        }
    ]
    result = runner.invoke(
        app, ["run", "-e", "ml.m5.large", "-i", f"s3://{BUCKET}/in", "--code", "--", "python", "-V"]
    )
    assert result.exit_code == 0, result.stderr
    names = [i["InputName"] for i in sent["CreateProcessingJob"][1]["ProcessingInputs"]]
    assert names == ["input", "code"]


def test_run_code_without_any_bucket_is_a_usage_error(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["run", "-e", "ml.m5.large", "--code", "--", "python", "-V"])
    assert result.exit_code == 2
    assert "--code needs a bucket" in result.stderr
    assert code_objects() == []


def test_train_keep_alive_asks_for_a_warm_pool(runner: CliRunner, project: Path) -> None:
    result = train(runner, "--keep-alive", "900")
    assert result.exit_code == 0, result.stderr
    name = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
    job = aws("sagemaker").describe_training_job(TrainingJobName=name)
    assert job["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 900


def test_train_keep_alive_above_an_hour_is_refused(runner: CliRunner, project: Path) -> None:
    result = train(runner, "--keep-alive", "4000")
    assert result.exit_code == 2
    assert aws("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
