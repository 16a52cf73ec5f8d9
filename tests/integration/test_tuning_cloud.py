# ruff: noqa: F811  (test_cloud's fixtures are imported below and used as parameters)
"""`easy_sm tune`, `list-tuning-jobs`, `train --metric` and `get-model-artifacts --json`
against the moto server, read back from it.

moto creates tuning jobs already Completed, with a made-up best job, and does not serve
ListTrainingJobsForHyperParameterTuningJob: the `tuning` fixture reaches moto's in-process
backend to set a tuning job's state (and move it on at each poll) and teaches the server that
one operation, answering from the training jobs the test scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from easy_sm import metrics
from tests.integration.test_cloud import (  # noqa: F401  (fixtures)
    IMAGE_URI,
    ROLE,
    aws,
    backend,
    bucket,
    invoke,
    preflight_ready,  # autouse: the image in ECR and the inputs in S3, for the preflight
    project,
    sent,
)

pytestmark = pytest.mark.moto

TUNE = [
    "tune",
    "-i",
    "s3://data-bucket/train",
    "-o",
    "s3://data-bucket/models",
    "-e",
    "ml.m5.large",
    "-n",
    "iris",
    "--objective",
    "validation:accuracy",
]


def summary(name: str, status: str, value: float | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{name}",
        "CreationTime": datetime.now(UTC),
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"C": "0.5"},
    }
    if value is not None:
        found["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": "Maximize",
            "MetricName": "validation:accuracy",
            "Value": value,
        }
    return found


class Script:
    """What the tuning job looks like now (`state`, `jobs`), and what each poll changes."""

    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        self.first: Callable[[Any], None] = lambda _job: None
        self.steps: list[Callable[[Any], None]] = []
        self.created: list[Any] = []


@pytest.fixture
def tuning(monkeypatch: pytest.MonkeyPatch, project: Path) -> Script:
    from moto.core.responses import ActionResult
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    from easy_sm.sagemaker import waiting

    script = Script()
    original = SageMakerModelBackend.create_hyper_parameter_tuning_job

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn = original(self, *args, **kwargs)
        job = self.hyper_parameter_tuning_jobs[kwargs["hyper_parameter_tuning_job_name"]]
        script.created.append(job)
        script.first(job)
        return arn

    def list_for_tuning_job(self: Any) -> ActionResult:
        return ActionResult({"TrainingJobSummaries": script.jobs})

    def sleep(_seconds: float) -> None:
        if script.steps and script.created:
            script.steps.pop(0)(script.created[-1])

    monkeypatch.setattr(SageMakerModelBackend, "create_hyper_parameter_tuning_job", create)
    monkeypatch.setattr(
        SageMakerResponse,
        "list_training_jobs_for_hyper_parameter_tuning_job",
        list_for_tuning_job,
        raising=False,
    )
    monkeypatch.setattr(waiting, "sleep", sleep)
    return script


def best(job: Any, name: str, value: float) -> None:
    job.best_training_job = {
        **job.best_training_job,
        "TrainingJobName": name,
        "FinalHyperParameterTuningJobObjectiveMetric": {
            "Type": "Maximize",
            "MetricName": "validation:accuracy",
            "Value": value,
        },
    }


def test_tune_creates_the_tuning_job_sagemaker_needs_and_prints_the_best_job(
    runner: CliRunner, tuning: Script, bucket: str, sent: dict[str, list[dict[str, Any]]]
) -> None:
    tuning.first = lambda job: best(job, "iris-best-001", 0.97)
    tuning.jobs = [summary("iris-best-001", "Completed", 0.97)]
    result = invoke(
        runner,
        *TUNE,
        "--range",
        "C=continuous:0.01:10:log",
        "--range",
        "max_iter=integer:100:1000",
        "--range",
        "solver=categorical:lbfgs,saga",
        "--hp",
        "epochs=3",
        "--hp",
        "warm=true",
        "--metric",
        "f1=F1: ([0-9.]+)",
        "--strategy",
        "random",
        "--max-jobs",
        "8",
        "--max-parallel",
        "2",
        "--early-stopping",
        "--tag",
        "team=ml",
        "--max-run",
        "600",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "iris-best-001\n"

    (listed,) = aws("sagemaker").list_hyper_parameter_tuning_jobs()[
        "HyperParameterTuningJobSummaries"
    ]
    name = listed["HyperParameterTuningJobName"]
    assert name.startswith("iris-") and len(name) <= 32
    job = aws("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobConfig"] == {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {
            "Type": "Maximize",
            "MetricName": "validation:accuracy",
        },
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {
            "ContinuousParameterRanges": [
                {"Name": "C", "MinValue": "0.01", "MaxValue": "10", "ScalingType": "Logarithmic"}
            ],
            "IntegerParameterRanges": [
                {"Name": "max_iter", "MinValue": "100", "MaxValue": "1000", "ScalingType": "Auto"}
            ],
            "CategoricalParameterRanges": [{"Name": "solver", "Values": ["lbfgs", "saga"]}],
        },
        "TrainingJobEarlyStoppingType": "Auto",
    }
    definition = job["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {"epochs": "3", "warm": "true"}
    assert definition["AlgorithmSpecification"] == {
        "TrainingImage": IMAGE_URI,
        "TrainingInputMode": "File",
        "MetricDefinitions": [
            {"Name": "f1", "Regex": "F1: ([0-9.]+)"},
            {"Name": "validation:accuracy", "Regex": metrics.default_regex("validation:accuracy")},
        ],
    }
    assert definition["RoleArn"] == ROLE
    assert definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://data-bucket/train"
    )
    assert definition["OutputDataConfig"] == {"S3OutputPath": "s3://data-bucket/models"}
    assert definition["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert "TrainingJobName" not in definition and "HyperParameters" not in definition
    # moto's describe drops the tuning job's tags: check what the server received
    assert sent["CreateHyperParameterTuningJob"][0]["Tags"] == [
        {"Key": "easy_sm:app", "Value": "my-app"},
        {"Key": "team", "Value": "ml"},
    ]
    assert "iris-best-001  Completed  0.97" in result.stderr
    assert "best training job: iris-best-001" in result.stderr


def test_tune_waits_through_its_training_jobs_showing_status_and_objective(
    runner: CliRunner, tuning: Script
) -> None:
    def start(job: Any) -> None:
        job.hyper_parameter_tuning_job_status = "InProgress"
        job.training_job_status_counters = {"Completed": 0, "InProgress": 2}
        tuning.jobs = [summary("iris-t-001", "InProgress"), summary("iris-t-002", "InProgress")]

    def one_done(job: Any) -> None:
        job.training_job_status_counters = {"Completed": 1, "InProgress": 1}
        tuning.jobs = [summary("iris-t-001", "Completed", 0.9), summary("iris-t-002", "InProgress")]

    def all_done(job: Any) -> None:
        job.hyper_parameter_tuning_job_status = "Completed"
        job.training_job_status_counters = {"Completed": 2, "InProgress": 0}
        tuning.jobs = [
            summary("iris-t-001", "Completed", 0.9),
            summary("iris-t-002", "Completed", 0.95),
        ]
        best(job, "iris-t-002", 0.95)

    tuning.first = start
    tuning.steps = [one_done, all_done]
    result = invoke(runner, *TUNE, "--range", "C=continuous:0.1:1", "--max-jobs", "2")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "iris-t-002\n"
    lines = result.stderr.splitlines()
    order = [
        "  iris-t-001  InProgress  -",
        "  iris-t-001  Completed  0.9",
        "  iris-t-002  Completed  0.95",
    ]
    positions = [lines.index(line) for line in order]
    assert positions == sorted(positions)
    assert any("InProgress (2 InProgress)" in line for line in lines)
    assert any("Completed (2 Completed)" in line for line in lines)


def test_failed_tuning_job_exits_6_with_its_reason(runner: CliRunner, tuning: Script) -> None:
    def fail(job: Any) -> None:
        job.hyper_parameter_tuning_job_status = "Failed"
        job.failure_reason = "All training jobs failed: ClientError: bad hyperparameter C"

    tuning.first = fail
    result = invoke(runner, *TUNE, "--range", "C=continuous:0.1:1")
    assert result.exit_code == 6
    assert result.stdout == ""
    assert "failed: All training jobs failed: ClientError: bad hyperparameter C" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: tuning job iris-")


def test_tuning_without_a_best_job_says_to_check_the_metric(
    runner: CliRunner, tuning: Script
) -> None:
    def no_objective(job: Any) -> None:
        job.best_training_job = None

    tuning.first = no_objective
    result = invoke(runner, *TUNE, "--range", "C=continuous:0.1:1")
    assert result.exit_code == 6
    assert "without a best training job" in result.stderr
    assert "prints validation:accuracy" in result.stderr


def test_tune_no_wait_prints_the_tuning_job_name(runner: CliRunner, tuning: Script) -> None:
    result = invoke(runner, *TUNE, "--range", "C=continuous:0.1:1", "--no-wait")
    assert result.exit_code == 0, result.stderr
    (listed,) = aws("sagemaker").list_hyper_parameter_tuning_jobs()[
        "HyperParameterTuningJobSummaries"
    ]
    assert result.stdout == f"{listed['HyperParameterTuningJobName']}\n"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--strategy", "Grid", "--range", "C=continuous:0.1:1"], "Grid takes only categorical"),
        (["--range", "C=continuous:0.1:1", "--hp", "C=1"], "both tuned"),
        (
            ["--strategy", "Hyperband", "--early-stopping", "--range", "a=categorical:x"],
            "Hyperband",
        ),
        (["--range", "C=continuous:0.1:1", "--max-jobs", "2", "--max-parallel", "3"], "above"),
        ([], "no hyperparameter ranges given"),
    ],
)
def test_bad_tuning_requests_are_usage_errors_before_any_aws_call(
    runner: CliRunner, tuning: Script, extra: list[str], message: str
) -> None:
    result = invoke(runner, *TUNE, *extra)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert (
        aws("sagemaker").list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
        == []
    )


def test_list_tuning_jobs_plain_and_json(runner: CliRunner, tuning: Script) -> None:
    for _ in range(2):
        assert invoke(runner, *TUNE, "--range", "C=continuous:0.1:1", "--no-wait").exit_code == 0
    names = [j.hyper_parameter_tuning_job_name for j in tuning.created]
    plain = invoke(runner, "list-tuning-jobs")
    assert plain.exit_code == 0, plain.stderr
    assert sorted(line.split("  ")[0] for line in plain.stdout.splitlines()) == sorted(names)
    assert all(line.split("  ")[1] == "Completed" for line in plain.stdout.splitlines())
    as_json = invoke(runner, "list-tuning-jobs", "--json", "-m", "1")
    assert as_json.exit_code == 0, as_json.stderr
    import json

    (only,) = json.loads(as_json.stdout)
    assert only["HyperParameterTuningJobName"] in names
    assert only["Strategy"] == "Bayesian"


def test_train_metric_flags_become_metric_definitions_and_json_shows_final_metrics(
    runner: CliRunner, project: Path, bucket: str, sent: dict[str, list[dict[str, Any]]]
) -> None:
    from tests.integration.test_cloud import train_args

    result = invoke(runner, *train_args("--metric", "loss=loss: ([0-9.]+)", "--metric", "auc"))
    assert result.exit_code == 0, result.stderr
    (job,) = aws("sagemaker").list_training_jobs()["TrainingJobSummaries"]
    name = job["TrainingJobName"]
    # moto's describe answers made-up MetricDefinitions: check what the server received
    assert sent["CreateTrainingJob"][0]["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "loss", "Regex": "loss: ([0-9.]+)"},
        {"Name": "auc", "Regex": metrics.default_regex("auc")},
    ]
    stored = backend("sagemaker").training_jobs[name]
    stored.final_metric_data_list = [
        {"MetricName": "auc", "Value": 0.91, "Timestamp": stored.creation_time}
    ]
    shown = invoke(runner, "get-model-artifacts", "-j", name, "--json")
    assert shown.exit_code == 0, shown.stderr
    import json

    data = json.loads(shown.stdout)
    assert data["FinalMetricDataList"][0]["MetricName"] == "auc"
    assert data["FinalMetricDataList"][0]["Value"] == 0.91
    assert data["S3ModelArtifacts"].endswith(f"{name}/output/model.tar.gz")
    assert data["TrainingJobStatus"] == "Completed"


def test_train_without_metric_flags_defines_the_documented_defaults(
    runner: CliRunner, project: Path, bucket: str, sent: dict[str, list[dict[str, Any]]]
) -> None:
    from tests.integration.test_cloud import train_args

    assert invoke(runner, *train_args()).exit_code == 0
    definitions = sent["CreateTrainingJob"][0]["AlgorithmSpecification"]["MetricDefinitions"]
    assert definitions == [
        {"Name": name, "Regex": metrics.default_regex(name)} for name in metrics.DEFAULT_NAMES
    ]


def test_tune_code_passes_the_code_archive_as_the_code_channel_of_every_training_job(
    runner: CliRunner, tuning: Script, sent: dict[str, list[dict[str, Any]]]
) -> None:
    tuning.first = lambda job: best(job, "iris-best-001", 0.97)
    result = invoke(runner, *TUNE, "--range", "C=continuous:0.01:10", "--code")
    assert result.exit_code == 0, result.stderr
    keys = [
        o["Key"]
        for o in aws("s3").list_objects_v2(Bucket="data-bucket").get("Contents", [])
        if "/code/" in o["Key"]
    ]
    assert len(keys) == 1 and keys[0].endswith(".tar.gz")
    definition = sent["CreateHyperParameterTuningJob"][0]["TrainingJobDefinition"]
    channels = {c["ChannelName"]: c for c in definition["InputDataConfig"]}
    assert channels["code"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://data-bucket/{keys[0]}"
    assert "training" in channels


def test_tune_with_an_image_that_was_never_pushed_fails_before_creating_anything(
    runner: CliRunner, tuning: Script
) -> None:
    aws("ecr").batch_delete_image(repositoryName="my-app", imageIds=[{"imageTag": "latest"}])
    result = invoke(runner, *TUNE, "--range", "C=continuous:0.01:10")
    assert result.exit_code == 4, result.stderr
    assert "is not in ECR — run easy_sm push" in result.stderr
    assert (
        aws("sagemaker").list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
        == []
    )


def test_tune_input_sharded_shards_the_data_channels_as_train_does(
    runner: CliRunner, tuning: Script, sent: dict[str, list[dict[str, Any]]]
) -> None:
    tuning.first = lambda job: best(job, "iris-best-001", 0.97)
    result = invoke(runner, *TUNE, "--range", "C=continuous:0.01:10", "--input-sharded")
    assert result.exit_code == 0, result.stderr
    definition = sent["CreateHyperParameterTuningJob"][0]["TrainingJobDefinition"]
    (channel,) = definition["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
