"""The cloud commands against a moto server on 127.0.0.1 (AWS_ENDPOINT_URL), read back from AWS.

moto answers every job as Completed the moment it is created; to see jobs move (InProgress ->
Completed, Failed with a FailureReason) the tests reach moto's in-process backends: a wrapper
around the backend's create call sets the first state, and `waiting.sleep` (the one sleep of
the polling loops) moves the job on, one state per poll. CloudWatch log events are put into
moto's logs service. Fields moto drops from its stored jobs (Environment, ProcessingResources)
are checked on the request the server received.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app

pytestmark = pytest.mark.moto

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-exec"
NOW_MS = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
IMAGE_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/my-app:latest"


@pytest.fixture
def project(isolated: Path, moto: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project `my-app` in the working dir, SAGEMAKER_ROLE set, polling shrunk to 10 ms."""
    (isolated / "my-app.json").write_text(
        json.dumps({"image_name": "my-app", "aws_region": REGION, "easy_sm_module_dir": "."}),
        encoding="utf-8",
    )
    processing = isolated / "easy_sm_base" / "processing"
    processing.mkdir(parents=True)
    (processing / "process_data.py").write_text("print('processing')\n", encoding="utf-8")
    monkeypatch.setenv("SAGEMAKER_ROLE", ROLE)
    monkeypatch.setenv("EASY_SM_POLL_SECONDS", "0.01")
    return isolated


def now_ms() -> int:
    return int(time.time() * 1000)


def aws(service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def backend(service: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)[ACCOUNT][REGION]  # type: ignore[index]


@pytest.fixture(autouse=True)
def moto_sorts_training_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto ignores ListTrainingJobs' SortBy/SortOrder; AWS honours them. easy_sm asks for
    SortBy=CreationTime, SortOrder=Descending (and reads only the first page for `-m 1`), so
    teach moto that order."""
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.list_training_jobs

    def newest_first(self: Any, *args: Any, **kwargs: Any) -> Any:
        saved = self.training_jobs
        self.training_jobs = dict(
            sorted(saved.items(), key=lambda item: item[1].creation_time, reverse=True)
        )
        try:
            return original(self, *args, **kwargs)
        finally:
            self.training_jobs = saved

    monkeypatch.setattr(SageMakerModelBackend, "list_training_jobs", newest_first)


def push_image(repository: str = "my-app", tag: str = "latest", region: str = REGION) -> None:
    """What `easy_sm push` leaves in ECR (moto's put_image makes an image)."""
    ecr = boto3.client("ecr", region_name=region, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": f"sha256:{'0' * 64}"},
        "layers": [],
    }
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


INPUTS = (
    "train/part-0.csv",
    "val/part-0.csv",
    "in/part-0.csv",
    "raw/part-0.csv",
    "models/job-1/output/model.tar.gz",
)


@pytest.fixture(autouse=True)
def preflight_ready(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the preflight checks is there: the app's image in ECR, the S3 inputs the tests
    name in `data-bucket`, and (as SageMaker does, moto does not) each training job's
    model.tar.gz written when the job is created."""
    from moto.sagemaker.models import SageMakerModelBackend

    push_image()
    s3 = aws("s3")
    s3.create_bucket(Bucket="data-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in INPUTS:
        s3.put_object(Bucket="data-bucket", Key=key, Body=b"1,2,3\n")
    original = SageMakerModelBackend.create_training_job

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = original(self, *args, **kwargs)
        output = job.output_data_config["S3OutputPath"].removeprefix("s3://")
        bucket, _, prefix = output.partition("/")
        key = f"{prefix.rstrip('/')}/{job.training_job_name}/output/model.tar.gz".lstrip("/")
        from moto.s3.models import s3_backends

        s3_backends[ACCOUNT]["aws"].put_object(bucket, key, b"model")
        return job

    monkeypatch.setattr(SageMakerModelBackend, "create_training_job", create)


@pytest.fixture
def bucket(project: Path) -> str:
    return "data-bucket"  # created by preflight_ready


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


@pytest.fixture
def job_script(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Script how a job moves: `job_script(kind, first, *steps)`.

    `first(job)` runs on the backend's job object right after moto created it; each poll's
    sleep then runs the next `step(job)`. Returns the list of created job names."""
    from moto.sagemaker.models import SageMakerModelBackend

    from easy_sm.sagemaker import waiting

    def install(
        kind: str, first: Callable[[Any], None], *steps: Callable[[Any], None]
    ) -> list[str]:
        names: list[str] = []
        created: list[Any] = []
        original = getattr(SageMakerModelBackend, f"create_{kind}_job")

        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            job = original(self, *args, **kwargs)
            names.append(getattr(job, f"{kind}_job_name"))
            created.append(job)
            first(job)
            return job

        pending = list(steps)

        def sleep(_seconds: float) -> None:
            if pending and created:
                pending.pop(0)(created[-1])

        monkeypatch.setattr(SageMakerModelBackend, f"create_{kind}_job", create)
        monkeypatch.setattr(waiting, "sleep", sleep)
        return names

    return install


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input)


# --- upload-data ----------------------------------------------------------------------------


def make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "train.csv": b"1,2,3\n4,5,6\n",
        "nested/deeper/part-0.csv": b"a,b\n" * 100,
        "big.bin": os.urandom(9 * 1024 * 1024),  # above the 8 MB multipart threshold
    }
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_upload_data_uploads_the_tree_and_prints_the_prefix(
    runner: CliRunner, bucket: str, project: Path
) -> None:
    files = make_tree(project / "data")
    result = invoke(runner, "upload-data", "-i", "data", "-t", f"s3://{bucket}/datasets/v1/")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"s3://{bucket}/datasets/v1\n"
    s3 = aws("s3")
    for relative, data in files.items():
        body = s3.get_object(Bucket=bucket, Key=f"datasets/v1/{relative}")["Body"].read()
        assert body == data
    big = s3.head_object(Bucket=bucket, Key="datasets/v1/big.bin")
    assert big["ETag"].strip('"').endswith("-2")  # went up in two 8 MB parts
    assert "uploaded 3 files" in result.stderr


def test_upload_data_rerun_uploads_only_what_changed(
    runner: CliRunner, bucket: str, project: Path
) -> None:
    make_tree(project / "data")
    assert invoke(runner, "upload-data", "-i", "data", "-t", f"s3://{bucket}/d").exit_code == 0
    (project / "data" / "train.csv").write_bytes(b"changed,content\n")
    result = invoke(runner, "upload-data", "-i", "data", "-t", f"s3://{bucket}/d")
    assert result.exit_code == 0, result.stderr
    assert "2 of 3 files unchanged" in result.stderr
    assert "uploaded 1 files" in result.stderr
    body = aws("s3").get_object(Bucket=bucket, Key="d/train.csv")["Body"].read()
    assert body == b"changed,content\n"


def test_upload_data_same_size_but_different_content_is_uploaded(
    runner: CliRunner, bucket: str, project: Path
) -> None:
    (project / "data").mkdir()
    (project / "data" / "x.csv").write_bytes(b"aaaa")
    assert invoke(runner, "upload-data", "-i", "data", "-t", f"s3://{bucket}/d").exit_code == 0
    (project / "data" / "x.csv").write_bytes(b"bbbb")
    result = invoke(runner, "upload-data", "-i", "data", "-t", f"s3://{bucket}/d")
    assert "uploaded 1 files" in result.stderr
    assert aws("s3").get_object(Bucket=bucket, Key="d/x.csv")["Body"].read() == b"bbbb"


def test_upload_data_interrupted_upload_is_finished_by_rerunning(
    runner: CliRunner, bucket: str, project: Path
) -> None:
    files = make_tree(project / "data")
    # as if a first run died after one file
    aws("s3").put_object(Bucket=bucket, Key="d/train.csv", Body=files["train.csv"])
    result = invoke(runner, "upload-data", "-i", "data", "-t", f"s3://{bucket}/d")
    assert result.exit_code == 0
    assert "1 of 3 files unchanged" in result.stderr
    keys = {o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket, Prefix="d/")["Contents"]}
    assert keys == {f"d/{name}" for name in files}


def test_upload_data_missing_bucket_is_a_clear_aws_error(runner: CliRunner, project: Path) -> None:
    make_tree(project / "data")
    result = invoke(runner, "upload-data", "-i", "data", "-t", "s3://no-such-bucket/x")
    assert result.exit_code == 4
    assert "error: S3 bucket 'no-such-bucket' does not exist" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "missing", "-t", "s3://data-bucket/x"], "missing does not exist"),
        (["-i", "empty", "-t", "s3://data-bucket/x"], "empty holds no files"),
        (["-i", "data", "-t", "data-bucket/x"], "is not an S3 URI"),
        (["-i", "data", "-t", "s3://Bad_Bucket/x"], "is not a valid bucket name"),
    ],
)
def test_upload_data_bad_input_is_a_usage_error(
    runner: CliRunner, bucket: str, project: Path, args: list[str], message: str
) -> None:
    make_tree(project / "data")
    (project / "empty").mkdir()
    result = invoke(runner, "upload-data", *args)
    assert result.exit_code == 2
    assert message in result.stderr


# --- train ----------------------------------------------------------------------------------


def train_args(*extra: str) -> list[str]:
    return [
        "train",
        "-i",
        "s3://data-bucket/train",
        "-o",
        "s3://data-bucket/models",
        "-e",
        "ml.m5.large",
        "-n",
        "iris",
        *extra,
    ]


def test_train_creates_the_job_sagemaker_needs_and_prints_the_model_path(
    runner: CliRunner, project: Path, sent: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    hp_file = tmp_path / "hp.json"
    hp_file.write_text(json.dumps({"epochs": 10, "layers": [3, 4]}), encoding="utf-8")
    result = invoke(
        runner,
        *train_args(
            "-c",
            "2",
            "--hyperparameters",
            f"@{hp_file}",
            "--hyperparameters",
            "lr=0.1",
            "--channel",
            "validation=s3://data-bucket/val",
            "--env",
            "MODE=fast",
            "--volume-size",
            "50",
            "--max-run",
            "3600",
            "--spot",
            "--max-wait",
            "7200",
            "--checkpoint-s3-uri",
            "s3://data-bucket/ckpt",
            "--tag",
            "team=ml",
        ),
    )
    assert result.exit_code == 0, result.stderr
    jobs = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    assert len(jobs) == 1
    name = jobs[0]["TrainingJobName"]
    assert name.startswith("iris-") and len(name) <= 63
    assert result.stdout == f"s3://data-bucket/models/{name}/output/model.tar.gz\n"

    job = aws("sagemaker").describe_training_job(TrainingJobName=name)
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE_URI
    assert job["RoleArn"] == ROLE
    assert job["HyperParameters"] == {"epochs": "10", "layers": "[3, 4]", "lr": "0.1"}
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert channels["training"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://data-bucket/train"
    assert channels["validation"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://data-bucket/val"
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://data-bucket/models"
    assert job["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 2,
        "VolumeSizeInGB": 50,
    }
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert job["EnableManagedSpotTraining"] is True
    assert job["CheckpointConfig"] == {
        "S3Uri": "s3://data-bucket/ckpt",
        "LocalPath": "/opt/ml/checkpoints",
    }
    tags = aws("sagemaker").list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags
    # moto does not keep a training job's Environment: check what the server received
    assert sent["CreateTrainingJob"][0]["Environment"] == {"MODE": "fast"}
    assert f"training job {name}: Completed" in result.stderr


def test_train_twice_gets_two_distinct_job_names(runner: CliRunner, project: Path) -> None:
    first = invoke(runner, *train_args())
    second = invoke(runner, *train_args())
    assert first.exit_code == second.exit_code == 0
    assert first.stdout != second.stdout
    assert len(aws("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == 2


def test_train_long_base_name_is_cut_to_a_valid_job_name(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, *train_args()[:-1], "a" * 80)
    assert result.exit_code == 0, result.stderr
    name = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
    assert len(name) == 63


def test_train_invalid_base_name_is_a_usage_error(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, *train_args()[:-1], "my_job!")
    assert result.exit_code == 2
    assert "is not a valid SageMaker name" in result.stderr
    assert aws("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_train_without_a_role_says_how_to_give_one(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAGEMAKER_ROLE")
    result = invoke(runner, *train_args())
    assert result.exit_code == 2
    assert "no IAM role given" in result.stderr and "SAGEMAKER_ROLE" in result.stderr


def test_train_role_flag_overrides_the_environment(runner: CliRunner, project: Path) -> None:
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    assert invoke(runner, *train_args("-r", other)).exit_code == 0
    name = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
    assert aws("sagemaker").describe_training_job(TrainingJobName=name)["RoleArn"] == other


def test_train_waits_through_status_changes_and_streams_the_job_logs(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    logs = aws("logs")
    group = "/aws/sagemaker/TrainingJobs"

    def starting(job: Any) -> None:
        job.training_job_status, job.secondary_status = "InProgress", "Starting"

    def training(job: Any) -> None:
        job.secondary_status = "Training"
        stream = f"{job.training_job_name}/algo-1-1700000000"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": NOW_MS, "message": "epoch 1 loss=0.9"},
                {"timestamp": NOW_MS + 1, "message": "epoch 2 loss=0.4"},
            ],
        )

    def completed(job: Any) -> None:
        job.training_job_status, job.secondary_status = "Completed", "Completed"

    names = job_script("training", starting, training, completed)
    result = invoke(runner, *train_args())
    assert result.exit_code == 0, result.stderr
    name = names[0]
    assert result.stdout == f"s3://data-bucket/models/{name}/output/model.tar.gz\n"
    err = result.stderr
    assert err.index(f"{name}: InProgress (Starting)") < err.index(f"{name}: InProgress (Training)")
    assert (
        err.index("epoch 1 loss=0.9")
        < err.index("epoch 2 loss=0.4")
        < err.index(f"{name}: Completed")
    )
    assert err.count("epoch 1 loss=0.9") == 1  # each line once, however many polls


def test_train_no_logs_does_not_print_log_lines(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    def with_logs(job: Any) -> None:
        stream = f"{job.training_job_name}/algo-1"
        backend("logs").create_log_group("/aws/sagemaker/TrainingJobs", {})
        backend("logs").create_log_stream("/aws/sagemaker/TrainingJobs", stream)
        backend("logs").put_log_events(
            "/aws/sagemaker/TrainingJobs",
            stream,
            [{"timestamp": now_ms(), "message": "secret-line"}],
        )

    job_script("training", with_logs)
    result = invoke(runner, *train_args("--no-logs"))
    assert result.exit_code == 0
    assert "secret-line" not in result.stderr


def test_train_failed_job_exits_non_zero_with_the_failure_reason(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    def running(job: Any) -> None:
        job.training_job_status = "InProgress"

    def failed(job: Any) -> None:
        job.training_job_status = "Failed"
        job.failure_reason = "AlgorithmError: ValueError: Input contains NaN"

    names = job_script("training", running, failed)
    result = invoke(runner, *train_args())
    assert result.exit_code == 6
    assert result.stdout == ""
    assert (
        f"error: training job {names[0]} failed: AlgorithmError: ValueError: Input contains NaN"
        in result.stderr
    )
    assert f"easy_sm logs -j {names[0]}" in result.stderr


def test_train_stopped_job_exits_non_zero(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    def stopped(job: Any) -> None:
        job.training_job_status = "Stopped"

    names = job_script("training", stopped)
    result = invoke(runner, *train_args())
    assert result.exit_code == 6
    assert f"training job {names[0]} was stopped" in result.stderr


def test_train_no_wait_prints_the_future_model_path_without_polling(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    def running(job: Any) -> None:
        job.training_job_status = "InProgress"

    names = job_script("training", running)
    result = invoke(runner, *train_args("--no-wait"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"s3://data-bucket/models/{names[0]}/output/model.tar.gz\n"
    assert f"easy_sm logs -j {names[0]} --follow" in result.stderr


def test_train_uses_the_registry_override_and_docker_tag(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EASY_SM_REGISTRY", "registry.example:5000")
    result = runner.invoke(app, ["--docker-tag", "v2", *train_args()])
    assert result.exit_code == 0, result.stderr
    name = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
    job = aws("sagemaker").describe_training_job(TrainingJobName=name)
    assert job["AlgorithmSpecification"]["TrainingImage"] == "registry.example:5000/my-app:v2"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--hyperparameters", "novalue"], "expected KEY=VALUE or @file.json"),
        (["--channel", "training=s3://data-bucket/x"], "clashes with -i"),
        (["--channel", "val=/local/path"], "is not an S3 URI"),
        (["--max-wait", "100"], "--max-wait only applies to --spot"),
        (["--spot", "--max-run", "200", "--max-wait", "100"], "is shorter than --max-run"),
        (["--env", "1BAD=x"], "is not a valid variable name"),
    ],
)
def test_train_bad_options_are_usage_errors_and_create_no_job(
    runner: CliRunner, project: Path, extra: list[str], message: str
) -> None:
    result = invoke(runner, *train_args(*extra))
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert aws("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


# --- list-training-jobs / get-model-artifacts / the one-liner -------------------------------


def test_list_training_jobs_names_only_newest_first(runner: CliRunner, project: Path) -> None:
    for base in ("first", "second", "third"):
        assert invoke(runner, *train_args()[:-1], base).exit_code == 0
    result = invoke(runner, "list-training-jobs", "-n", "-m", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("third-") and lines[1].startswith("second-")


def test_list_training_jobs_reads_past_the_first_page(runner: CliRunner, project: Path) -> None:
    sm = aws("sagemaker")
    for index in range(105):  # ListTrainingJobs answers at most 100 per page
        sm.create_training_job(
            TrainingJobName=f"bulk-{index:03d}",
            AlgorithmSpecification={"TrainingImage": IMAGE_URI, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            OutputDataConfig={"S3OutputPath": "s3://data-bucket/models"},
            ResourceConfig={
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    result = invoke(runner, "list-training-jobs", "-n", "-m", "103")
    assert result.exit_code == 0, result.stderr
    names = result.stdout.splitlines()
    assert len(names) == 103 == len(set(names))
    assert set(names) <= {f"bulk-{index:03d}" for index in range(105)}


def test_list_training_jobs_plain_lines_and_json(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, *train_args()).exit_code == 0
    plain = invoke(runner, "list-training-jobs")
    name, status, created = plain.stdout.strip().split("  ")
    assert name.startswith("iris-") and status == "Completed" and created.startswith("20")
    as_json = json.loads(invoke(runner, "list-training-jobs", "--json").stdout)
    assert as_json[0]["TrainingJobName"] == name
    assert as_json[0]["TrainingJobStatus"] == "Completed"


def test_get_model_artifacts_of_a_failed_job_is_an_error(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    def failed(job: Any) -> None:
        job.training_job_status = "Failed"
        job.failure_reason = "OOM"

    names = job_script("training", failed)
    invoke(runner, *train_args("--no-wait"))
    result = invoke(runner, "get-model-artifacts", "-j", names[0])
    assert result.exit_code == 6
    assert f"training job {names[0]} is Failed: OOM" in result.stderr
    assert result.stdout == ""


def test_get_model_artifacts_of_an_unknown_job_is_an_aws_error(
    runner: CliRunner, project: Path
) -> None:
    result = invoke(runner, "get-model-artifacts", "-j", "nope")
    assert result.exit_code == 4
    assert "sagemaker:DescribeTrainingJob failed" in result.stderr


def test_the_spec_one_liner_deploys_the_latest_jobs_model(runner: CliRunner, project: Path) -> None:
    """easy_sm deploy -n my-endpoint -e ml.m5.large \\
    -m $(easy_sm get-model-artifacts -j $(easy_sm list-training-jobs -n -m 1))"""
    for base in ("older", "latest"):
        assert invoke(runner, *train_args()[:-1], base).exit_code == 0

    def substitute(*args: str) -> str:  # what the shell's $(...) does
        result = invoke(runner, *args)
        assert result.exit_code == 0, result.stderr
        return result.stdout.strip()

    job = substitute("list-training-jobs", "-n", "-m", "1")
    model = substitute("get-model-artifacts", "-j", job)
    endpoint = substitute("deploy", "-n", "my-endpoint", "-e", "ml.m5.large", "-m", model)

    assert job.startswith("latest-")
    assert endpoint == "my-endpoint"
    sm = aws("sagemaker")
    described = sm.describe_endpoint(EndpointName="my-endpoint")
    assert described["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    model_info = sm.describe_model(ModelName=variant["ModelName"])
    assert model_info["PrimaryContainer"]["ModelDataUrl"] == (
        f"s3://data-bucket/models/{job}/output/model.tar.gz"
    )


# --- deploy / deploy-serverless -------------------------------------------------------------

MODEL = "s3://data-bucket/models/job-1/output/model.tar.gz"


def test_deploy_creates_model_config_and_endpoint(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "deploy", "-n", "iris-ep", "-e", "ml.m5.large", "-m", MODEL, "-c", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "iris-ep\n"
    sm = aws("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName="iris-ep")
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.m5.large"
    assert variant["InitialInstanceCount"] == 2
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"] == {"Image": IMAGE_URI, "ModelDataUrl": MODEL}
    assert model["ExecutionRoleArn"] == ROLE
    expected_hash = hashlib.sha256(f"{IMAGE_URI}\n{MODEL}\n{ROLE}".encode()).hexdigest()[:16]
    assert variant["ModelName"] == f"my-app-{expected_hash}"
    assert "endpoint iris-ep: InService" in result.stderr


def test_deploy_model_name_is_the_same_in_every_process(runner: CliRunner, project: Path) -> None:
    import subprocess
    import sys

    code = (
        "from easy_sm.sagemaker.names import model_name;"
        f"print(model_name('my-app', {IMAGE_URI!r}, {MODEL!r}, {ROLE!r}))"
    )
    names = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(names) == 1


def test_deploy_serverless_sets_memory_and_concurrency(runner: CliRunner, project: Path) -> None:
    result = invoke(
        runner,
        "deploy-serverless",
        "-n",
        "sls",
        "-s",
        "2048",
        "--max-concurrency",
        "7",
        "-m",
        MODEL,
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "sls\n"
    sm = aws("sagemaker")
    config_name = sm.describe_endpoint(EndpointName="sls")["EndpointConfigName"]
    variant = sm.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 7}


def test_deploy_serverless_rejects_a_memory_size_sagemaker_does_not_offer(
    runner: CliRunner, project: Path
) -> None:
    result = invoke(runner, "deploy-serverless", "-n", "sls", "-s", "1500", "-m", MODEL)
    assert result.exit_code == 2
    assert "is not a serverless memory size" in result.stderr


def test_deploy_endpoint_that_fails_exits_non_zero_with_the_reason(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.create_endpoint

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = original(self, *args, **kwargs)
        endpoint.endpoint_status = "Failed"
        endpoint.failure_reason = "The primary container did not pass the ping health check."
        return endpoint

    monkeypatch.setattr(SageMakerModelBackend, "create_endpoint", create)
    result = invoke(runner, "deploy", "-n", "bad-ep", "-e", "ml.m5.large", "-m", MODEL)
    assert result.exit_code == 6
    assert "endpoint bad-ep is Failed: The primary container did not pass" in result.stderr
    assert result.stdout == ""


def test_deploy_times_out_with_a_clear_error(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    from easy_sm.sagemaker import waiting

    original = SageMakerModelBackend.create_endpoint

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = original(self, *args, **kwargs)
        endpoint.endpoint_status = "Creating"
        return endpoint

    monkeypatch.setattr(SageMakerModelBackend, "create_endpoint", create)
    monkeypatch.setattr(waiting.time, "sleep", lambda _s: None)
    result = invoke(
        runner, "deploy", "-n", "slow-ep", "-e", "ml.m5.large", "-m", MODEL, "--timeout", "1"
    )
    assert result.exit_code == 6
    assert "timed out after 1 s waiting for endpoint slow-ep (still Creating)" in result.stderr


def test_deploy_to_a_failed_endpoint_says_to_delete_it(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "deploy", "-n", "ep", "-e", "ml.m5.large", "-m", MODEL).exit_code == 0
    backend("sagemaker").endpoints["ep"].endpoint_status = "Failed"
    result = invoke(runner, "deploy", "-n", "ep", "-e", "ml.m5.large", "-m", MODEL)
    assert result.exit_code == 4
    assert "endpoint ep is Failed and cannot be updated" in result.stderr
    assert "easy_sm delete-endpoint -n ep" in result.stderr


# --- list-endpoints / delete-endpoint / invoke ----------------------------------------------


def test_list_endpoints_plain_and_json(runner: CliRunner, project: Path) -> None:
    for name in ("ep-a", "ep-b"):
        assert invoke(runner, "deploy", "-n", name, "-e", "ml.m5.large", "-m", MODEL).exit_code == 0
    plain = invoke(runner, "list-endpoints")
    assert plain.exit_code == 0, plain.stderr
    rows = [line.split("  ") for line in plain.stdout.splitlines()]
    assert [row[0] for row in rows] == ["ep-b", "ep-a"]
    assert all(row[1] == "InService" for row in rows)
    data = json.loads(invoke(runner, "list-endpoints", "--json").stdout)
    assert {e["EndpointName"] for e in data} == {"ep-a", "ep-b"}


def test_list_endpoints_needs_no_role(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAGEMAKER_ROLE")
    result = invoke(runner, "list-endpoints", "-r", ROLE)  # -r still accepted
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""


def test_delete_endpoint_with_config(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, "deploy", "-n", "gone", "-e", "ml.m5.large", "-m", MODEL).exit_code == 0
    sm = aws("sagemaker")
    config = sm.describe_endpoint(EndpointName="gone")["EndpointConfigName"]
    result = invoke(runner, "delete-endpoint", "-n", "gone", "--delete-config")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "gone\n"
    assert sm.list_endpoints()["Endpoints"] == []
    assert config not in {
        c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]
    }


def test_delete_unknown_endpoint_is_an_aws_error(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "delete-endpoint", "-n", "nope")
    assert result.exit_code == 4
    assert "sagemaker:DeleteEndpoint failed" in result.stderr


def test_invoke_posts_stdin_and_prints_the_answer(
    runner: CliRunner, project: Path, moto: str
) -> None:
    import requests

    requests.post(
        f"{moto}/moto-api/static/sagemaker/endpoint-results",
        json={
            "account_id": ACCOUNT,
            "region": REGION,
            "results": [{"Body": "setosa\n", "ContentType": "text/csv"}],
        },
        timeout=10,
    ).raise_for_status()
    result = invoke(runner, "invoke", "-n", "iris-ep", input="5.1,3.5,1.4,0.2\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "setosa\n"
    import base64

    # (moto files the answer under endpoint None: it does not read the name from the path)
    ((request,),) = (answers.keys() for answers in backend("sagemaker-runtime").results.values())
    assert json.loads(base64.b64decode(request))["Body"] == "5.1,3.5,1.4,0.2\n"


def test_invoke_reads_the_body_from_a_file(runner: CliRunner, project: Path) -> None:
    (project / "req.json").write_text('{"x": 1}', encoding="utf-8")
    result = invoke(
        runner, "invoke", "-n", "ep", "--file", "req.json", "--content-type", "application/json"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() != ""


# --- batch-transform ------------------------------------------------------------------------


def transform_args(*extra: str) -> list[str]:
    return [
        "batch-transform",
        "-m",
        MODEL,
        "-i",
        "s3://data-bucket/in",
        "-o",
        "s3://data-bucket/out",
        "-e",
        "ml.m5.large",
        *extra,
    ]


def test_batch_transform_creates_a_uniquely_named_job(runner: CliRunner, project: Path) -> None:
    first = invoke(
        runner,
        *transform_args(
            "--num-instances",
            "2",
            "--content-type",
            "text/csv",
            "--split-type",
            "Line",
            "--accept",
            "text/csv",
        ),
    )
    second = invoke(runner, *transform_args())
    assert first.exit_code == second.exit_code == 0, first.stderr + second.stderr
    name = first.stdout.strip()
    assert name != second.stdout.strip()
    job = aws("sagemaker").describe_transform_job(TransformJobName=name)
    assert job["TransformInput"]["ContentType"] == "text/csv"
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://data-bucket/in"
    assert job["TransformOutput"] == {
        "S3OutputPath": "s3://data-bucket/out",
        "Accept": "text/csv",
        "AssembleWith": "Line",
    }
    assert job["TransformResources"] == {"InstanceType": "ml.m5.large", "InstanceCount": 2}
    model = aws("sagemaker").describe_model(ModelName=job["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == MODEL


def test_batch_transform_named_job_keeps_its_name(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, *transform_args("-n", "nightly-scoring"))
    assert result.exit_code == 0
    assert result.stdout == "nightly-scoring\n"


def test_batch_transform_wait_really_waits_and_fails_on_failure(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    polls: list[str] = []

    def running(job: Any) -> None:
        job.transform_job_status = "InProgress"

    def still(job: Any) -> None:
        polls.append("still")

    def failed(job: Any) -> None:
        job.transform_job_status = "Failed"
        job.failure_reason = "ClientError: bad CSV"

    names = job_script("transform", running, still, failed)
    result = invoke(runner, *transform_args("--wait"))
    assert polls == ["still"]
    assert result.exit_code == 6
    assert f"transform job {names[0]} failed: ClientError: bad CSV" in result.stderr


def test_batch_transform_bad_split_type_is_a_usage_error(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, *transform_args("--split-type", "Lines"))
    assert result.exit_code == 2
    assert "is not a split type" in result.stderr


# --- process / run --------------------------------------------------------------------------


def test_process_runs_the_script_as_local_process_does(
    runner: CliRunner, project: Path, sent: dict[str, list[dict[str, Any]]]
) -> None:
    result = invoke(
        runner,
        "process",
        "-f",
        "process_data.py",
        "-e",
        "ml.m5.xlarge",
        "-n",
        "prep",
        "-c",
        "3",
        "-i",
        "s3://data-bucket/raw",
        "-o",
        "s3://data-bucket/clean",
        "--input-sharded",
        "--env",
        "STAGE=dev",
    )
    assert result.exit_code == 0, result.stderr
    name = result.stdout.strip()
    assert name.startswith("prep-")
    job = aws("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["AppSpecification"] == {
        "ImageUri": IMAGE_URI,
        "ContainerArguments": ["process", "process_data.py"],
    }
    assert job["RoleArn"] == ROLE
    s3_input = job["ProcessingInputs"][0]["S3Input"]
    assert s3_input["S3Uri"] == "s3://data-bucket/raw"
    assert s3_input["LocalPath"] == "/opt/ml/processing/input"
    assert s3_input["S3DataDistributionType"] == "ShardedByS3Key"
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert output["S3Uri"] == "s3://data-bucket/clean"
    assert output["LocalPath"] == "/opt/ml/processing/output"
    # moto keeps neither ProcessingResources nor Environment: check what the server received
    request = sent["CreateProcessingJob"][0]
    assert request["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 3,
        "InstanceType": "ml.m5.xlarge",
        "VolumeSizeInGB": 30,
    }
    assert request["Environment"] == {"STAGE": "dev"}
    assert f"processing job {name}: Completed" in result.stderr


def test_process_unknown_script_lists_the_ones_there(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "process", "-f", "nope.py", "-e", "ml.m5.large", "-n", "prep")
    assert result.exit_code == 2
    assert "nope.py: not found" in result.stderr and "process_data.py" in result.stderr


def test_process_env_value_over_256_characters_is_refused(runner: CliRunner, project: Path) -> None:
    result = invoke(
        runner,
        "process",
        "-f",
        "process_data.py",
        "-e",
        "ml.m5.large",
        "-n",
        "prep",
        "--env",
        f"TOKEN={'x' * 257}",
    )
    assert result.exit_code == 2
    assert "257 characters long, SageMaker takes 256" in result.stderr
    assert aws("sagemaker").list_processing_jobs()["ProcessingJobSummaries"] == []


def test_process_failure_exits_non_zero_with_the_reason(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    def failed(job: Any) -> None:
        job.processing_job_status = "Failed"
        job.failure_reason = "AlgorithmError: See job logs for more information"
        job.exit_message = "KeyError: 'label'"

    names = job_script("processing", failed)
    result = invoke(runner, "process", "-f", "process_data.py", "-e", "ml.m5.large", "-n", "p")
    assert result.exit_code == 6
    assert f"processing job {names[0]} failed: AlgorithmError" in result.stderr


def test_run_passes_the_command_after_double_dash(runner: CliRunner, project: Path) -> None:
    result = invoke(
        runner, "run", "-e", "ml.m5.large", "--", "python", "-m", "my_tool", "-c", "--flag"
    )
    assert result.exit_code == 0, result.stderr
    name = result.stdout.strip()
    assert name.startswith("my-app-run-")
    job = aws("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["AppSpecification"]["ContainerArguments"] == [
        "run",
        "python",
        "-m",
        "my_tool",
        "-c",
        "--flag",
    ]


# --- logs / stop ----------------------------------------------------------------------------


def test_logs_prints_a_finished_jobs_log_lines_on_stdout(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, *train_args()).exit_code == 0
    name = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
    logs = aws("logs")
    group = "/aws/sagemaker/TrainingJobs"
    logs.create_log_group(logGroupName=group)
    for host, line in (("algo-1-1", "hello from 1"), ("algo-2-1", "hello from 2")):
        logs.create_log_stream(logGroupName=group, logStreamName=f"{name}/{host}")
        logs.put_log_events(
            logGroupName=group,
            logStreamName=f"{name}/{host}",
            logEvents=[{"timestamp": NOW_MS, "message": line}],
        )
    result = invoke(runner, "logs", "-j", name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[algo-1-1] hello from 1\n[algo-2-1] hello from 2\n"


def test_logs_follow_streams_a_processing_job_until_it_ends(
    runner: CliRunner, project: Path, job_script: Callable[..., list[str]]
) -> None:
    group = "/aws/sagemaker/ProcessingJobs"

    def running(job: Any) -> None:
        job.processing_job_status = "InProgress"

    def log_and_finish(job: Any) -> None:
        stream = f"{job.processing_job_name}/algo-1"
        backend("logs").create_log_group(group, {})
        backend("logs").create_log_stream(group, stream)
        backend("logs").put_log_events(
            group, stream, [{"timestamp": now_ms(), "message": "rows=150"}]
        )
        job.processing_job_status = "Completed"

    names = job_script("processing", running, log_and_finish)
    started = invoke(
        runner, "process", "-f", "process_data.py", "-e", "ml.m5.large", "-n", "p", "--no-wait"
    )
    assert started.exit_code == 0
    result = invoke(runner, "logs", "-j", names[0], "--follow")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "rows=150\n"
    assert f"processing job {names[0]}: Completed" in result.stderr


def test_logs_of_an_unknown_job_is_a_clear_error(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "logs", "-j", "ghost")
    assert result.exit_code == 4
    assert "no training, processing or transform job named 'ghost'" in result.stderr


# --- credentials ----------------------------------------------------------------------------


def test_no_credentials_is_one_clear_error(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = invoke(runner, "list-endpoints")
    assert result.exit_code == 4
    assert result.stderr.startswith("error: no AWS credentials found")
    assert "Traceback" not in result.stderr


def test_unknown_profile_is_one_clear_error(runner: CliRunner, project: Path) -> None:
    (project / "my-app.json").write_text(
        json.dumps(
            {
                "image_name": "my-app",
                "aws_region": REGION,
                "aws_profile": "nope",
                "easy_sm_module_dir": ".",
            }
        ),
        encoding="utf-8",
    )
    result = invoke(runner, "list-endpoints")
    assert result.exit_code == 4
    assert "AWS profile 'nope' not found" in result.stderr
