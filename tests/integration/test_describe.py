"""`easy_sm describe`, the cost line after a waited-on job and the failure summary, against a
moto server. moto creates jobs already Completed and without billable seconds, transitions or
logs: the tests set those on moto's in-process job objects and put the log events into moto's
CloudWatch Logs, then read the CLI's stdout / stderr."""

from __future__ import annotations

import contextlib
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app

pytestmark = pytest.mark.moto

ACCOUNT = "123456789012"
REGION = "us-east-1"  # a region the price table knows
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-exec"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def project(isolated: Path, moto: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (isolated / "my-app.json").write_text(
        json.dumps({"image_name": "my-app", "aws_region": REGION, "easy_sm_module_dir": "."}),
        encoding="utf-8",
    )
    (isolated / "easy_sm_base" / "processing").mkdir(parents=True)
    (isolated / "easy_sm_base" / "processing" / "process_data.py").write_text("print(1)\n")
    monkeypatch.setenv("SAGEMAKER_ROLE", ROLE)
    monkeypatch.setenv("EASY_SM_POLL_SECONDS", "0.01")
    # what the preflight checks: the image in ECR, the S3 inputs the tests name
    from tests.integration.test_cloud import push_image

    push_image(region=REGION)
    aws("s3").create_bucket(Bucket="my-bkt")
    for key in ("train/part-0.csv", "in/part-0.csv", "models/model.tar.gz"):
        aws("s3").put_object(Bucket="my-bkt", Key=key, Body=b"1\n")
    return isolated


def aws(service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def sm_backend() -> Any:
    from moto.backends import get_backend

    return get_backend("sagemaker")[ACCOUNT][REGION]  # type: ignore[index]


def invoke(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, list(args))


def put_logs(group: str, stream: str, messages: list[str]) -> None:
    logs = aws("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


def create_training_job(name: str, *, instance_type: str = "ml.m5.large", count: int = 2) -> None:
    aws("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "img:latest", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"C": "0.5"},
        InputDataConfig=[
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://my-bkt/train"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://my-bkt/models"},
        ResourceConfig={
            "InstanceType": instance_type,
            "InstanceCount": count,
            "VolumeSizeInGB": 30,
            "KeepAlivePeriodInSeconds": 600,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def shape_training_job(job: Any, *, status: str = "Completed", billable: int = 1800) -> None:
    """What AWS reports and moto does not: timings, steps, billable seconds, warm pool."""
    job.training_job_status = status
    job.secondary_status = status
    job.training_start_time = T0
    job.training_end_time = T0 + timedelta(seconds=285)
    job.secondary_status_transitions = [
        {"Status": "Starting", "StartTime": T0, "EndTime": T0 + timedelta(seconds=45)},
        {
            "Status": "Training",
            "StartTime": T0 + timedelta(seconds=45),
            "EndTime": T0 + timedelta(seconds=225),
        },
        {
            "Status": "Uploading",
            "StartTime": T0 + timedelta(seconds=225),
            "EndTime": T0 + timedelta(seconds=285),
        },
    ]
    job.billable_time_in_seconds = billable
    job.training_time_in_seconds = billable
    job.final_metric_data_list = [{"MetricName": "accuracy", "Value": 0.93, "Timestamp": T0}]
    job.warm_pool_status = {"Status": "Available", "ResourceRetainedBillableTimeInSeconds": 120}


# --- describe -j ------------------------------------------------------------------------------


def test_describe_training_job_shows_steps_instances_metrics_cost_and_links(
    runner: CliRunner, project: Path
) -> None:
    create_training_job("iris-1")
    shape_training_job(sm_backend().training_jobs["iris-1"])
    result = invoke(runner, "describe", "-j", "iris-1")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("training job iris-1: Completed\n")
    assert "  steps:       Starting 45s, Training 3m 00s, Uploading 1m 00s\n" in out
    assert "  instances:   2 × ml.m5.large\n" in out
    assert "  hyperparameters: C=0.5\n" in out
    assert "  inputs:      training=s3://my-bkt/train\n" in out
    assert "  metrics:     accuracy=0.93\n" in out
    # 1800 s × 2 instances × $0.115/h (us-east-1 training) = $0.115
    assert "  cost: 1800 billable s on 2 × ml.m5.large, ≈ $0.1150 on-demand\n" in out
    assert "  warm pool:   Available (keep-alive 600 s, 120 billable s retained)\n" in out
    assert (
        "  console:     https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1"
        "#/jobs/iris-1\n"
    ) in out
    assert "log-group/$252Faws$252Fsagemaker$252FTrainingJobs/log-events" in out
    assert result.stderr == ""


def test_describe_json_is_one_document_with_the_estimated_cost(
    runner: CliRunner, project: Path
) -> None:
    create_training_job("iris-2", count=1)
    shape_training_job(sm_backend().training_jobs["iris-2"], billable=3600)
    result = invoke(runner, "describe", "-j", "iris-2", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["kind"] == "training"
    assert summary["cost"]["estimated_cost"] == pytest.approx(0.115)
    assert summary["cost"]["hourly_price"] == 0.115
    assert [t["seconds"] for t in summary["transitions"]] == [45, 180, 60]
    assert summary["warm_pool"]["status"] == "Available"


def test_describe_unpriced_instance_says_no_price_known(runner: CliRunner, project: Path) -> None:
    create_training_job("iris-3", instance_type="ml.m5d.large", count=1)
    shape_training_job(sm_backend().training_jobs["iris-3"])
    result = invoke(runner, "describe", "-j", "iris-3")
    assert result.exit_code == 0, result.stderr
    assert (
        "  cost: 1800 billable s on 1 × ml.m5d.large, no price known for ml.m5d.large in "
        "us-east-1\n" in result.stdout
    )
    assert "$" not in result.stdout.split("cost:")[1].splitlines()[0]


def test_describe_finds_processing_and_transform_jobs_by_name(
    runner: CliRunner, project: Path
) -> None:
    result = invoke(runner, "process", "-f", "process_data.py", "-e", "ml.m5.large", "-n", "prep")
    assert result.exit_code == 0, result.stderr
    name = result.stdout.strip()
    result = invoke(runner, "describe", "-j", name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"processing job {name}: Completed\n")
    assert "  arguments:   process process_data.py\n" in result.stdout

    result = invoke(
        runner,
        *("batch-transform", "-m", "s3://my-bkt/models/model.tar.gz", "-i", "s3://my-bkt/in"),
        *("-o", "s3://my-bkt/out", "-e", "ml.m5.large"),
    )
    assert result.exit_code == 0, result.stderr
    name = result.stdout.strip()
    result = invoke(runner, "describe", "-j", name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"transform job {name}: Completed\n")
    assert "  inputs:      input=s3://my-bkt/in\n" in result.stdout
    assert "  output:      s3://my-bkt/out\n" in result.stdout


def test_describe_tuning_job_shows_objective_best_job_and_counts(
    runner: CliRunner, project: Path
) -> None:
    aws("sagemaker").create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-1",
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
        },
        TrainingJobDefinition={
            "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://my-bkt/tune"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    )
    job = sm_backend().hyper_parameter_tuning_jobs["tune-1"]
    job.training_job_status_counters = {
        "Completed": 6,
        "InProgress": 0,
        "Stopped": 1,
        "RetryableError": 0,
        "NonRetryableError": 1,
    }
    job.best_training_job = {
        "TrainingJobName": "tune-1-004",
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "accuracy", "Value": 0.97},
        "TunedHyperParameters": {"C": "0.3"},
        "TrainingJobStatus": "Completed",
        "CreationTime": T0,
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/tune-1-004",
    }
    result = invoke(runner, "describe", "-j", "tune-1")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("tuning job tune-1: ")
    assert "  objective:   Maximize accuracy\n" in out
    assert "  limits:      8 jobs, 2 at a time (Bayesian)\n" in out
    assert "  jobs:        Completed=6, NonRetryableError=1, Stopped=1\n" in out
    assert "  best job:    tune-1-004  accuracy=0.97\n" in out
    assert "  best hyperparameters: C=0.3\n" in out


def test_describe_unknown_job_is_one_aws_error(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "describe", "-j", "nope")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith("error: no training, processing, transform or tuning job")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [[], ["-j", "a", "-n", "b"]])
def test_describe_needs_exactly_one_of_job_or_endpoint(
    runner: CliRunner, project: Path, args: list[str]
) -> None:
    result = invoke(runner, "describe", *args)
    assert result.exit_code == 2
    assert "give either -j/--job-name or -n/--endpoint-name" in result.stderr


# --- describe -n ------------------------------------------------------------------------------


def make_endpoint(name: str) -> None:
    sm = aws("sagemaker")
    sm.create_model(
        ModelName="m1",
        PrimaryContainer={"Image": "img", "ModelDataUrl": "s3://my-bkt/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-cfg-2",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m1",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 2,
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 20,
            "DestinationS3Uri": "s3://my-bkt/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://my-bkt/async-out"}},
    )
    arn = sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg-2")["EndpointArn"]
    sm.add_tags(
        ResourceArn=arn,
        Tags=[{"Key": "easy_sm:config-history", "Value": f"{name}-cfg-0 {name}-cfg-1"}],
    )
    aws("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{name}/variant/AllTraffic",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=1,
        MaxCapacity=4,
    )


def test_describe_endpoint_shows_variants_autoscaling_capture_history_cost_and_logs(
    runner: CliRunner, project: Path
) -> None:
    make_endpoint("ep")
    put_logs(
        "/aws/sagemaker/Endpoints/ep",
        "AllTraffic/i-0abc",
        [f"request {i}" for i in range(25)],
    )
    result = invoke(runner, "describe", "-n", "ep")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("endpoint ep: InService\n")
    assert "  config:      ep-cfg-2\n" in out
    assert "  earlier:     ep-cfg-1, ep-cfg-0 (newest first)\n" in out
    assert "  variant AllTraffic: ml.m5.large  instances 2 (desired 2)" in out
    assert "autoscaling 1-4" in out
    assert "  data capture: on" in out and "-> s3://my-bkt/capture" in out
    assert "  async:       output s3://my-bkt/async-out\n" in out
    # 2 × $0.115 = $0.23/h; × 730 h = $167.90/month
    assert "  cost:        $0.2300/h, ≈ $167.90/month on-demand\n" in out
    assert "last 20 log lines:\n" in out
    assert "  request 24\n" in out and "  request 5\n" in out
    assert "request 4\n" not in out


def test_describe_endpoint_json(runner: CliRunner, project: Path) -> None:
    make_endpoint("ep2")
    result = invoke(runner, "describe", "-n", "ep2", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["variants"][0]["autoscaling"] == {"min": 1, "max": 4}
    assert summary["config_history"] == ["ep2-cfg-0", "ep2-cfg-1"]
    assert summary["hourly_cost"] == pytest.approx(0.23)
    assert summary["logs_tail"] == []


# --- after a waited-on job ----------------------------------------------------------------------


def train_args(*extra: str) -> list[str]:
    return [
        *("train", "-i", "s3://my-bkt/train", "-o", "s3://my-bkt/models"),
        *("-e", "ml.m5.large", "-n", "iris", *extra),
    ]


@pytest.fixture
def on_create(monkeypatch: pytest.MonkeyPatch) -> Any:
    """`on_create(fn)`: run fn(job) on moto's training job object right after it is created."""
    from moto.sagemaker.models import SageMakerModelBackend

    def install(fn: Any) -> None:
        original = SageMakerModelBackend.create_training_job

        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            job = original(self, *args, **kwargs)
            fn(job)
            return job

        monkeypatch.setattr(SageMakerModelBackend, "create_training_job", create)

    return install


def test_train_prints_one_cost_line_after_the_job(
    runner: CliRunner, project: Path, on_create: Any
) -> None:
    on_create(lambda job: shape_training_job(job, billable=900))
    result = invoke(runner, *train_args("-c", "2"))
    assert result.exit_code == 0, result.stderr
    cost_lines = [line for line in result.stderr.splitlines() if line.startswith("cost:")]
    # 900 s × 2 × $0.115/h = $0.0575
    assert cost_lines == ["cost: 900 billable s on 2 × ml.m5.large, ≈ $0.0575 on-demand"]
    assert result.stdout.startswith("s3://my-bkt/models/")


def test_spot_training_cost_line_shows_the_saving(
    runner: CliRunner, project: Path, on_create: Any
) -> None:
    def spot(job: Any) -> None:
        shape_training_job(job, billable=400)
        job.training_time_in_seconds = 1000

    on_create(spot)
    result = invoke(runner, *train_args("--spot"))
    assert result.exit_code == 0, result.stderr
    assert (
        "cost: 400 billable s on 1 × ml.m5.large, ≈ $0.0128 on-demand; "
        "spot saved 60% (400 s billed of 1000 s trained)"
    ) in result.stderr


def test_failed_training_prints_summary_and_last_20_log_lines_before_the_error(
    runner: CliRunner, project: Path, on_create: Any
) -> None:
    def failed(job: Any) -> None:
        shape_training_job(job, status="Failed", billable=60)
        job.failure_reason = "AlgorithmError: ValueError: Input contains NaN"
        put_logs(
            "/aws/sagemaker/TrainingJobs",
            f"{job.training_job_name}/algo-1-1700000000",
            [f"log line {i}" for i in range(1, 26)],
        )

    on_create(failed)
    result = invoke(runner, *train_args("--no-logs"))
    assert result.exit_code == 6
    assert result.stdout == ""
    err = result.stderr
    summary_at = err.index("training job iris-")
    assert "  reason:      AlgorithmError: ValueError: Input contains NaN\n" in err
    assert "  cost: 60 billable s on 1 × ml.m5.large" in err
    assert "last 20 log lines:\n" in err
    assert "  log line 6\n" in err and "  log line 25\n" in err
    assert "log line 5\n" not in err
    error_at = err.index("error: training job iris-")
    assert summary_at < err.index("  log line 25") < error_at
    assert err.rstrip().splitlines()[-1].startswith("error: ")


# --- list-endpoints --cost ----------------------------------------------------------------------


def plain_endpoint(name: str, instance_type: str, count: int) -> None:
    sm = aws("sagemaker")
    sm.create_model(
        ModelName=f"{name}-model",
        PrimaryContainer={"Image": "img", "ModelDataUrl": "s3://my-bkt/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-cfg",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InstanceType": instance_type,
                "InitialInstanceCount": count,
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")


def test_list_endpoints_cost_prices_each_endpoint_and_finds_the_idle_ones(
    runner: CliRunner, project: Path
) -> None:
    plain_endpoint("busy", "ml.m5.large", 2)
    plain_endpoint("forgotten", "ml.m5.xlarge", 1)
    plain_endpoint("unpriced", "ml.t2.medium", 1)
    aws("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "busy"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": datetime.now(UTC) - timedelta(hours=2),
                "Value": 42,
                "Unit": "None",
            }
        ],
    )
    result = invoke(runner, "list-endpoints", "--cost")
    assert result.exit_code == 0, result.stderr
    lines = sorted(result.stdout.splitlines())
    assert lines == [
        "busy  $0.2300/h  ≈ $167.90/month  42 invocations in 24 h",
        "forgotten  $0.2300/h  ≈ $167.90/month  idle: no invocations in 24 h",
        "unpriced  no price known  idle: no invocations in 24 h",
    ]
    result = invoke(runner, "list-endpoints", "--cost", "--idle-hours", "1", "--json")
    assert result.exit_code == 0, result.stderr
    costs = {c["name"]: c for c in json.loads(result.stdout)}
    assert costs["busy"]["idle"] is True  # its invocations were 2 h ago
    assert costs["unpriced"]["hourly_cost"] is None


def test_failed_processing_job_prints_its_summary_and_log_tail_before_the_error(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    original = SageMakerModelBackend.create_processing_job

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = original(self, *args, **kwargs)
        job.processing_job_status = "Failed"
        job.failure_reason = "AlgorithmError: KeyError: 'label'"
        put_logs(
            "/aws/sagemaker/ProcessingJobs",
            f"{job.processing_job_name}/algo-1-1700000000",
            ["reading input", "KeyError: 'label'"],
        )
        return job

    monkeypatch.setattr(SageMakerModelBackend, "create_processing_job", create)
    result = invoke(
        runner, "process", "-f", "process_data.py", "-e", "ml.m5.large", "-n", "prep", "--no-logs"
    )
    assert result.exit_code == 6
    err = result.stderr
    assert "processing job prep-" in err
    assert "  reason:      AlgorithmError: KeyError: 'label'\n" in err
    assert "last 2 log lines:\n  reading input\n  KeyError: 'label'\n" in err
    assert err.index("last 2 log lines") < err.index("error: processing job prep-")


def test_describe_a_failed_job_shows_its_last_log_lines(runner: CliRunner, project: Path) -> None:
    create_training_job("iris-failed", count=1)
    job = sm_backend().training_jobs["iris-failed"]
    shape_training_job(job, status="Failed", billable=30)
    job.failure_reason = "AlgorithmError: out of memory"
    put_logs(
        "/aws/sagemaker/TrainingJobs",
        "iris-failed/algo-1-1700000000",
        ["loading data", "MemoryError"],
    )
    result = invoke(runner, "describe", "-j", "iris-failed")
    assert result.exit_code == 0, result.stderr
    assert "  reason:      AlgorithmError: out of memory\n" in result.stdout
    assert result.stdout.endswith("last 2 log lines:\n  loading data\n  MemoryError\n")
    summary = json.loads(invoke(runner, "describe", "-j", "iris-failed", "--json").stdout)
    assert summary["logs_tail"] == ["loading data", "MemoryError"]
