"""Endpoints in production against a moto server: autoscaling (Application Auto Scaling),
async inference, data capture, safe updates and rollback, tags and clean-up, the preflight.

moto has no UpdateEndpoint: the `update_endpoint` fixture answers that one operation in the
client (a botocore `before-call` handler, like a Stubber for one operation), applies it to
moto's in-process backend, and keeps each request exactly as it was sent. Everything else is
the moto server, read back with boto3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.integration.test_cloud import (
    ACCOUNT,
    MODEL,
    REGION,
    aws,
    backend,
    invoke,
    push_image,
    train_args,
)

pytestmark = pytest.mark.moto

RESOURCE = "endpoint/{}/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def deploy(runner: CliRunner, name: str, *extra: str, command: str = "deploy") -> Any:
    args = [command, "-n", name, "-m", MODEL]
    if command != "deploy-serverless":
        args += ["-e", "ml.m5.large"]
    return invoke(runner, *args, *extra)


def config_of(name: str) -> dict[str, Any]:
    sm = aws("sagemaker")
    config_name = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    return dict(sm.describe_endpoint_config(EndpointConfigName=config_name))


def tags_of(arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in aws("sagemaker").list_tags(ResourceArn=arn)["Tags"]}


def targets() -> list[dict[str, Any]]:
    answer = aws("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    return list(answer["ScalableTargets"])


def policies(name: str) -> list[dict[str, Any]]:
    return list(
        aws("application-autoscaling").describe_scaling_policies(
            ServiceNamespace="sagemaker", ResourceId=RESOURCE.format(name)
        )["ScalingPolicies"]
    )


class UpdateEndpoint:
    """What the fake UpdateEndpoint received, and how the next update ends."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.roll_back_with: str | None = None


@pytest.fixture
def update_endpoint(monkeypatch: pytest.MonkeyPatch) -> UpdateEndpoint:
    from botocore.awsrequest import AWSResponse

    from easy_sm.sagemaker import sagemaker as facade
    from easy_sm.sagemaker.session import client as real_client

    state = UpdateEndpoint()

    def record(params: dict[str, Any], **_: Any) -> None:
        state.requests.append(json.loads(json.dumps(params)))

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        request = state.requests[-1]
        endpoint = backend("sagemaker").endpoints[request["EndpointName"]]
        if state.roll_back_with:  # SageMaker rolled back: still on the old config
            endpoint.failure_reason = state.roll_back_with
        else:
            endpoint.endpoint_config_name = request["EndpointConfigName"]
        return AWSResponse("", 200, {}, None), {"EndpointArn": endpoint.arn}

    def patched_client(session: Any, service: str) -> Any:
        made = real_client(session, service)
        if service == "sagemaker":
            made.meta.events.register("before-parameter-build.sagemaker.UpdateEndpoint", record)
            made.meta.events.register("before-call.sagemaker.UpdateEndpoint", answer)
        return made

    monkeypatch.setattr(facade, "client", patched_client)
    return state


# --- 1. autoscaling -------------------------------------------------------------------------


def test_deploy_with_min_max_registers_the_target_and_a_target_tracking_policy(
    runner: CliRunner, project: Path
) -> None:
    result = deploy(
        runner,
        "auto-ep",
        "--min-instances",
        "1",
        "--max-instances",
        "4",
        "--target-invocations",
        "120",
        "--scale-in-cooldown",
        "600",
        "--scale-out-cooldown",
        "30",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "auto-ep\n"
    (target,) = targets()
    assert target["ResourceId"] == "endpoint/auto-ep/variant/AllTraffic"
    assert target["ScalableDimension"] == DIMENSION
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    (policy,) = policies("auto-ep")
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 120.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleInCooldown": 600,
        "ScaleOutCooldown": 30,
    }
    plain = invoke(runner, "list-endpoints")
    assert plain.stdout.rstrip("\n").endswith("  1-4")
    listed = json.loads(invoke(runner, "list-endpoints", "--json").stdout)
    assert listed[0]["Autoscaling"] == {"MinCapacity": 1, "MaxCapacity": 4}


def test_updating_an_autoscaled_endpoint_keeps_its_count_and_updates_the_policy(
    runner: CliRunner, project: Path, update_endpoint: UpdateEndpoint
) -> None:
    assert deploy(runner, "ep", "--min-instances", "1", "--max-instances", "4").exit_code == 0
    backend("sagemaker").endpoints["ep"].production_variants[0]["CurrentInstanceCount"] = 3
    result = deploy(runner, "ep", "--min-instances", "2", "--max-instances", "6")
    assert result.exit_code == 0, result.stderr
    assert config_of("ep")["ProductionVariants"][0]["InitialInstanceCount"] == 3  # not -c 1
    (target,) = targets()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    assert len(policies("ep")) == 1
    assert update_endpoint.requests == [
        {"EndpointName": "ep", "EndpointConfigName": config_of("ep")["EndpointConfigName"]}
    ]


def test_updating_without_scaling_flags_registers_the_old_target_again(
    runner: CliRunner, project: Path, update_endpoint: UpdateEndpoint
) -> None:
    assert deploy(runner, "ep", "--min-instances", "1", "--max-instances", "5").exit_code == 0
    result = deploy(runner, "ep")
    assert result.exit_code == 0, result.stderr
    (target,) = targets()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 5)
    assert [p["PolicyName"] for p in policies("ep")] == ["ep-easy-sm-target-tracking"]


def test_delete_endpoint_deregisters_the_target_and_its_policies(
    runner: CliRunner, project: Path
) -> None:
    assert deploy(runner, "ep", "--min-instances", "1", "--max-instances", "2").exit_code == 0
    result = invoke(runner, "delete-endpoint", "-n", "ep")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ep\n"
    assert targets() == []
    assert policies("ep") == []
    assert "deleted scalable target endpoint/ep/variant/AllTraffic" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min-instances", "1"], "--min-instances and --max-instances go together"),
        (["--target-invocations", "5"], "autoscaling flags need --min-instances"),
        (["--min-instances", "0", "--max-instances", "2"], "scale-to-zero needs an async"),
        (["--min-instances", "3", "--max-instances", "2"], "--max-instances 2 is below"),
        (["--strategy", "canary:10"], "is not a deployment strategy"),
        (["--rollback-alarm", "a"], "--rollback-alarm and --bake-time need a watched update"),
        (["--capture-percent", "10"], "--capture-percent and --capture-s3 go together"),
        (["--tag", "novalue"], "expected KEY=VALUE"),
        (["-m", "bucket/model.tar.gz"], "is not an S3 URI"),
    ],
)
def test_bad_deploy_flags_are_usage_errors_before_anything_is_created(
    runner: CliRunner, project: Path, extra: list[str], message: str
) -> None:
    result = deploy(runner, "ep", *extra)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert aws("sagemaker").list_models()["Models"] == []


# --- 2. async inference ---------------------------------------------------------------------


def test_deploy_async_writes_the_async_config_and_a_scale_to_zero_backlog_policy(
    runner: CliRunner, project: Path
) -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:done"
    result = deploy(
        runner,
        "async-ep",
        "--output-s3",
        "s3://data-bucket/async-out",
        "--failure-s3",
        "s3://data-bucket/async-failed",
        "--max-concurrent-per-instance",
        "4",
        "--success-topic",
        topic,
        "--min-instances",
        "0",
        "--max-instances",
        "2",
        command="deploy-async",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "async-ep\n"
    assert config_of("async-ep")["AsyncInferenceConfig"] == {
        "OutputConfig": {
            "S3OutputPath": "s3://data-bucket/async-out",
            "S3FailurePath": "s3://data-bucket/async-failed",
            "NotificationConfig": {"SuccessTopic": topic},
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
    }
    (target,) = targets()
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 2)
    found = {p["PolicyName"]: p for p in policies("async-ep")}
    tracking = found["async-ep-easy-sm-target-tracking"]
    metric = tracking["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert metric == {
        "MetricName": "ApproximateBacklogSizePerInstance",
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": "async-ep"}],
        "Statistic": "Average",
    }
    # out of zero: a step policy run by an alarm on HasBacklogWithoutCapacity (AWS's recipe)
    step = found["async-ep-easy-sm-scale-from-zero"]
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}
    ]
    (alarm,) = aws("cloudwatch").describe_alarms(AlarmNames=["async-ep-easy-sm-has-backlog"])[
        "MetricAlarms"
    ]
    assert alarm["MetricName"] == "HasBacklogWithoutCapacity"
    assert alarm["AlarmActions"] == [step["PolicyARN"]]

    deleted = invoke(runner, "delete-endpoint", "-n", "async-ep")
    assert deleted.exit_code == 0, deleted.stderr
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert targets() == []


@pytest.fixture
def async_endpoint(runner: CliRunner, project: Path) -> str:
    result = deploy(
        runner, "async-ep", "--output-s3", "s3://data-bucket/async-out", command="deploy-async"
    )
    assert result.exit_code == 0, result.stderr
    return "async-ep"


def queue_async_results(moto_url: str, *results: dict[str, Any]) -> None:
    import requests

    requests.post(
        f"{moto_url}/moto-api/static/sagemaker/async-endpoint-results",
        json={"account_id": ACCOUNT, "region": REGION, "results": list(results)},
        timeout=10,
    ).raise_for_status()


def read_s3(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_invoke_async_uploads_the_body_and_prints_the_output_location(
    runner: CliRunner, async_endpoint: str
) -> None:
    result = invoke(runner, "invoke", "--async", "-n", async_endpoint, input="5.1,3.5\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("s3://") and result.stdout.count("\n") == 1
    uploaded = [
        o["Key"]
        for o in aws("s3").list_objects_v2(Bucket="data-bucket", Prefix="easy_sm/")["Contents"]
    ]
    assert len(uploaded) == 1 and uploaded[0].startswith("easy_sm/async-inputs/async-ep/")
    assert read_s3(f"s3://data-bucket/{uploaded[0]}") == b"5.1,3.5\n"


def test_invoke_async_wait_prints_the_result_body(
    runner: CliRunner, async_endpoint: str, moto: str
) -> None:
    queue_async_results(moto, {"data": "setosa"})
    result = invoke(
        runner,
        *("invoke", "--async", "-n", async_endpoint),
        *("--input", "s3://data-bucket/in/part-0.csv", "--wait"),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "setosa\n"
    assert list(backend("sagemaker-runtime").async_results[async_endpoint]) == [
        "s3://data-bucket/in/part-0.csv"
    ]


def test_invoke_async_wait_fails_with_the_failure_files_text(
    runner: CliRunner, async_endpoint: str, moto: str
) -> None:
    queue_async_results(moto, {"is_failure": True, "data": "ValueError: 3 features expected"})
    result = invoke(runner, "invoke", "--async", "-n", async_endpoint, "--wait", input="1,2\n")
    assert result.exit_code == 6
    assert "asynchronous inference failed: ValueError: 3 features expected" in result.stderr
    assert result.stdout == ""


def test_invoke_async_on_a_real_time_endpoint_says_to_drop_async(
    runner: CliRunner, project: Path
) -> None:
    assert deploy(runner, "rt-ep").exit_code == 0
    result = invoke(runner, "invoke", "--async", "-n", "rt-ep", input="1,2\n")
    assert result.exit_code == 2
    assert "endpoint rt-ep is not an asynchronous endpoint" in result.stderr


# --- 3. data capture ------------------------------------------------------------------------


def test_deploy_with_data_capture_writes_the_capture_config(
    runner: CliRunner, project: Path
) -> None:
    result = deploy(
        runner, "cap-ep", "--capture-percent", "20", "--capture-s3", "s3://data-bucket/capture"
    )
    assert result.exit_code == 0, result.stderr
    assert config_of("cap-ep")["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": "s3://data-bucket/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    listed = json.loads(invoke(runner, "list-endpoints", "--json").stdout)
    assert listed[0]["DataCaptureConfig"]["DestinationS3Uri"] == "s3://data-bucket/capture"
    assert listed[0]["DataCaptureConfig"]["EnableCapture"] is True


# --- 4. safe updates and rollback -----------------------------------------------------------


def test_canary_update_sends_the_deployment_config_with_alarms(
    runner: CliRunner, project: Path, update_endpoint: UpdateEndpoint
) -> None:
    assert deploy(runner, "ep").exit_code == 0
    result = deploy(
        runner,
        "ep",
        "--strategy",
        "canary:10:300",
        "--rollback-alarm",
        "ep-5xx",
        "--rollback-alarm",
        "ep-latency",
        "--bake-time",
        "600",
    )
    assert result.exit_code == 0, result.stderr
    assert update_endpoint.requests == [
        {
            "EndpointName": "ep",
            "EndpointConfigName": config_of("ep")["EndpointConfigName"],
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 300,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                    },
                    "TerminationWaitInSeconds": 600,
                },
                "AutoRollbackConfiguration": {
                    "Alarms": [{"AlarmName": "ep-5xx"}, {"AlarmName": "ep-latency"}]
                },
            },
        }
    ]


@pytest.mark.parametrize(
    ("strategy", "routing"),
    [
        ("blue-green", {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
        (
            "linear:20:60",
            {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 60,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 20},
            },
        ),
    ],
)
def test_blue_green_and_linear_updates_route_traffic_as_asked(
    runner: CliRunner,
    project: Path,
    update_endpoint: UpdateEndpoint,
    strategy: str,
    routing: dict[str, Any],
) -> None:
    assert deploy(runner, "ep").exit_code == 0
    assert deploy(runner, "ep", "--strategy", strategy).exit_code == 0
    (request,) = update_endpoint.requests
    assert request["DeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}
    }


def test_update_rolled_back_by_an_alarm_exits_6_naming_the_alarms(
    runner: CliRunner, project: Path, update_endpoint: UpdateEndpoint
) -> None:
    assert deploy(runner, "ep").exit_code == 0
    old_config = config_of("ep")["EndpointConfigName"]
    update_endpoint.roll_back_with = "Alarm ep-5xx went into ALARM state"
    result = deploy(runner, "ep", "--strategy", "blue-green", "--rollback-alarm", "ep-5xx")
    assert result.exit_code == 6
    assert (
        "error: update of endpoint ep was rolled back (watched alarms: ep-5xx): "
        "Alarm ep-5xx went into ALARM state" in result.stderr
    )
    assert f"it still serves config {old_config}" in result.stderr
    assert result.stdout == ""


def test_rollback_returns_to_the_previous_config_and_then_has_nothing_left(
    runner: CliRunner, project: Path, update_endpoint: UpdateEndpoint
) -> None:
    assert deploy(runner, "ep").exit_code == 0
    first = config_of("ep")["EndpointConfigName"]
    assert deploy(runner, "ep", "-c", "2").exit_code == 0
    second = config_of("ep")["EndpointConfigName"]
    arn = aws("sagemaker").describe_endpoint(EndpointName="ep")["EndpointArn"]
    from easy_sm.sagemaker.endpoints import endpoint_config_history

    assert endpoint_config_history(tags_of(arn)) == [first]

    result = invoke(runner, "rollback", "-n", "ep")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ep\n"
    assert config_of("ep")["EndpointConfigName"] == first
    assert update_endpoint.requests[-1] == {"EndpointName": "ep", "EndpointConfigName": first}
    assert f"rolling endpoint ep back from config {second} to {first}" in result.stderr

    again = invoke(runner, "rollback", "-n", "ep")
    assert again.exit_code == 4
    assert again.stderr.count("\n") == 1
    assert "error: endpoint ep has no earlier config to roll back to" in again.stderr


def test_an_invalid_endpoint_name_is_refused_before_any_aws_call(
    runner: CliRunner, project: Path, sent: dict[str, list[dict[str, Any]]]
) -> None:
    result = deploy(runner, "bad_name")
    assert result.exit_code == 2
    assert "-n/--endpoint-name 'bad_name' is not a valid SageMaker name" in result.stderr
    assert sent == {}


def test_rollback_of_an_unknown_endpoint_is_one_line(runner: CliRunner, project: Path) -> None:
    result = invoke(runner, "rollback", "-n", "nope")
    assert result.exit_code == 4
    assert result.stderr == (
        "error: no endpoint named 'nope' — check the name (easy_sm list-endpoints) and the "
        "region / profile\n"
    )


# --- 5. tags, ownership and clean-up ---------------------------------------------------------


def test_deploy_tags_the_model_config_and_endpoint_with_the_app_and_user_tags(
    runner: CliRunner, project: Path
) -> None:
    result = deploy(runner, "tagged", "--tag", "team=ml", "--tag", "cost=42")
    assert result.exit_code == 0, result.stderr
    sm = aws("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName="tagged")
    config = config_of("tagged")
    model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    expected = {"easy_sm:app": "my-app", "team": "ml", "cost": "42"}
    for arn in (endpoint["EndpointArn"], config["EndpointConfigArn"], model["ModelArn"]):
        assert expected.items() <= tags_of(arn).items(), arn
    assert tags_of(config["EndpointConfigArn"])["easy_sm:endpoint"] == "tagged"


def test_jobs_carry_the_app_tag(runner: CliRunner, project: Path) -> None:
    assert invoke(runner, *train_args()).exit_code == 0
    transform = invoke(
        runner,
        "batch-transform",
        *("-m", MODEL, "-i", "s3://data-bucket/in", "-o", "s3://data-bucket/out"),
        *("-e", "ml.m5.large", "--tag", "team=ml"),
    )
    assert transform.exit_code == 0, transform.stderr
    sm = aws("sagemaker")
    job = sm.list_training_jobs()["TrainingJobSummaries"][0]
    assert tags_of(job["TrainingJobArn"])["easy_sm:app"] == "my-app"
    described = sm.describe_transform_job(TransformJobName=transform.stdout.strip())
    assert {"easy_sm:app": "my-app", "team": "ml"}.items() <= tags_of(
        described["TransformJobArn"]
    ).items()


def test_list_endpoints_app_lists_only_this_apps_endpoints(
    runner: CliRunner, project: Path
) -> None:
    assert deploy(runner, "mine").exit_code == 0
    sm = aws("sagemaker")
    model = config_of("mine")["ProductionVariants"][0]["ModelName"]
    sm.create_endpoint_config(
        EndpointConfigName="other-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sm.create_endpoint(EndpointName="not-mine", EndpointConfigName="other-config")
    everything = invoke(runner, "list-endpoints")
    assert {line.split("  ")[0] for line in everything.stdout.splitlines()} == {"mine", "not-mine"}
    result = invoke(runner, "list-endpoints", "--app")
    assert result.exit_code == 0, result.stderr
    assert [line.split("  ")[0] for line in result.stdout.splitlines()] == ["mine"]


def test_delete_endpoint_deletes_every_config_it_made_and_unused_models(
    runner: CliRunner, project: Path, update_endpoint: UpdateEndpoint
) -> None:
    other_model = "s3://data-bucket/models/job-1/output/model.tar.gz"
    assert deploy(runner, "ep").exit_code == 0
    first = config_of("ep")["EndpointConfigName"]
    first_model = config_of("ep")["ProductionVariants"][0]["ModelName"]
    assert deploy(runner, "keep", "-m", other_model).exit_code == 0  # shares the model
    assert deploy(runner, "ep", "-c", "2").exit_code == 0
    second = config_of("ep")["EndpointConfigName"]
    result = invoke(runner, "delete-endpoint", "-n", "ep", "--delete-config", "--delete-model")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ep\n"
    sm = aws("sagemaker")
    remaining = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    assert first not in remaining and second not in remaining
    assert config_of("keep")["EndpointConfigName"] in remaining
    assert f"deleted endpoint config {first}" in result.stderr
    assert f"deleted endpoint config {second}" in result.stderr
    # the model is still used by `keep`'s config: it stays
    assert first_model in {m["ModelName"] for m in sm.list_models()["Models"]}


def test_delete_model_deletes_a_model_no_config_uses(runner: CliRunner, project: Path) -> None:
    assert deploy(runner, "ep").exit_code == 0
    model = config_of("ep")["ProductionVariants"][0]["ModelName"]
    result = invoke(runner, "delete-endpoint", "-n", "ep", "--delete-model")
    assert result.exit_code == 0, result.stderr
    assert aws("sagemaker").list_models()["Models"] == []
    assert f"deleted model {model}" in result.stderr


# --- 6. preflight ---------------------------------------------------------------------------


def test_deploy_of_an_image_never_pushed_fails_in_the_preflight(
    runner: CliRunner, project: Path
) -> None:
    aws("ecr").batch_delete_image(repositoryName="my-app", imageIds=[{"imageTag": "latest"}])
    result = deploy(runner, "ep")
    assert result.exit_code == 4
    assert result.stderr == (
        f"error: image {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/my-app:latest is not in ECR "
        "— run easy_sm push\n"
    )
    assert aws("sagemaker").list_models()["Models"] == []


def test_train_with_another_tag_names_the_push_with_that_tag(
    runner: CliRunner, project: Path
) -> None:
    result = invoke(runner, "--docker-tag", "v2", *train_args())
    assert result.exit_code == 4
    assert "my-app:v2 is not in ECR — run easy_sm --docker-tag v2 push" in result.stderr
    assert aws("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    push_image(tag="v2")
    assert invoke(runner, "--docker-tag", "v2", *train_args()).exit_code == 0


def test_the_registry_override_skips_the_ecr_check(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EASY_SM_REGISTRY", "registry.example:5000")
    aws("ecr").batch_delete_image(repositoryName="my-app", imageIds=[{"imageTag": "latest"}])
    assert deploy(runner, "ep").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [*train_args()[:2], "s3://data-bucket/nothing-here", *train_args()[3:]],
            "-i/--input-s3-dir s3://data-bucket/nothing-here: no objects there",
        ),
        (
            [*train_args(), "--channel", "val=s3://no-bucket/x"],
            "--channel val s3://no-bucket/x: bucket no-bucket does not exist",
        ),
        (
            ["deploy", "-n", "ep", "-e", "ml.m5.large", "-m", "s3://data-bucket/nope.tar.gz"],
            "-m/--s3-model-location s3://data-bucket/nope.tar.gz: no such object",
        ),
        (
            [
                "process",
                "-f",
                "process_data.py",
                "-e",
                "ml.m5.large",
                "-n",
                "p",
                "-i",
                "s3://nob/n",
            ],
            "-i/--s3-input-location s3://nob/n: bucket nob does not exist",
        ),
    ],
)
def test_missing_s3_inputs_fail_before_anything_is_created(
    runner: CliRunner, project: Path, args: list[str], message: str
) -> None:
    result = invoke(runner, *args)
    assert result.exit_code == 4, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    sm = aws("sagemaker")
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    assert sm.list_models()["Models"] == []


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["deploy", "-n", "ep", "-e", "ml.m5.larg", "-m", MODEL],
            "'ml.m5.larg' is not an instance type SageMaker offers for endpoints — did you "
            "mean ml.m5.large",
        ),
        (
            [*train_args()[:6], "ml.c5.large", *train_args()[7:]],
            "'ml.c5.large' is not an instance type SageMaker offers for training jobs",
        ),
    ],
)
def test_an_instance_type_the_api_does_not_offer_is_a_usage_error(
    runner: CliRunner, project: Path, command: list[str], message: str
) -> None:
    result = invoke(runner, *command)
    assert result.exit_code == 2
    assert message in result.stderr


def test_skip_checks_turns_the_preflight_off(
    runner: CliRunner, project: Path, sent: dict[str, list[dict[str, Any]]]
) -> None:
    aws("ecr").batch_delete_image(repositoryName="my-app", imageIds=[{"imageTag": "latest"}])
    result = deploy(runner, "ep", "--skip-checks")
    assert result.exit_code == 0, result.stderr
    assert "CreateEndpoint" in sent
