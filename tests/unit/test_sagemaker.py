"""The AWS seam without a server: names, option parsing, checksums, and the paths moto cannot
serve (UpdateEndpoint and its roll-back, StopTrainingJob, AWS error answers), which run
against a real botocore client wrapped in a `botocore.stub.Stubber`."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

from easy_sm.errors import AwsError, InterruptedByUser, JobFailedError, UsageError
from easy_sm.sagemaker import endpoints, names, s3, training, waiting

ROLE = "arn:aws:iam::123456789012:role/sm"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-app:latest"
MODEL = "s3://bucket/models/job/output/model.tar.gz"


@pytest.fixture
def sm() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waiting, "sleep", lambda _s: None)


# --- names ----------------------------------------------------------------------------------


def test_unique_name_is_base_timestamp_and_random_suffix() -> None:
    name = names.unique_name("iris")
    assert re.fullmatch(r"iris-\d{8}-\d{6}-[0-9a-f]{4}", name)
    assert names.unique_name("iris") != name


def test_unique_name_of_a_long_base_is_63_characters_and_valid() -> None:
    name = names.unique_name("a" * 50 + "-" + "b" * 50)
    assert len(name) == 63
    assert names.NAME_RE.match(name)


@pytest.mark.parametrize("bad", ["", "-lead", "trail-", "under_score", "dot.s", "sp ace"])
def test_invalid_base_names_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="not a valid SageMaker name"):
        names.unique_name(bad)


def test_model_name_is_a_stable_sha256_of_image_model_and_role() -> None:
    first = names.model_name("my_app/x", IMAGE, MODEL, ROLE)
    digest = hashlib.sha256(f"{IMAGE}\n{MODEL}\n{ROLE}".encode()).hexdigest()[:16]
    assert first == f"my-app-x-{digest}"
    assert names.model_name("my_app/x", IMAGE, MODEL + "2", ROLE) != first
    assert names.NAME_RE.match(names.model_name("x" * 100, IMAGE, MODEL))


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("s3://b-1/a/b/", "b-1", "a/b/"),
        ("s3://bucket", "bucket", ""),
        ("s3://my.bkt/k", "my.bkt", "k"),
    ],
)
def test_parse_s3_uri(uri: str, bucket: str, key: str) -> None:
    parsed = names.parse_s3_uri(uri, "-t")
    assert (parsed.bucket, parsed.key) == (bucket, key)


@pytest.mark.parametrize(
    "uri", ["bucket/key", "s3:/bucket", "s3://", "s3://UPPER/x", "s3://a..b/x"]
)
def test_bad_s3_uris_are_usage_errors_naming_the_option(uri: str) -> None:
    with pytest.raises(UsageError, match=r"^-t "):
        names.parse_s3_uri(uri, "-t")


# --- option parsing -------------------------------------------------------------------------


def test_training_environment_value_limit_is_512() -> None:
    spec = training.TrainingSpec(
        image_uri=IMAGE,
        role_arn=ROLE,
        input_s3="s3://bkt/in",
        output_s3="s3://bkt/out",
        instance_type="ml.m5.large",
        base_job_name="x",
        environment={"K": "v" * 513},
    )
    with pytest.raises(UsageError, match="513 characters"):
        training.training_job_request(spec, "x-1")


def test_serverless_concurrency_out_of_range_is_refused() -> None:
    with pytest.raises(UsageError, match="out of range"):
        endpoints.serverless_variant(2048, 0)


# --- upload checksums -----------------------------------------------------------------------


def test_etag_of_a_small_file_is_its_md5(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    assert s3.etag_of(path, 5) == hashlib.md5(b"hello").hexdigest()


def test_etag_of_a_big_file_is_the_multipart_etag(tmp_path: Path) -> None:
    data = bytes(range(256)) * (9 * 1024 * 1024 // 256 + 7)
    path = tmp_path / "big"
    path.write_bytes(data)
    chunk = 8 * 1024 * 1024
    parts = [hashlib.md5(data[i : i + chunk]).digest() for i in range(0, len(data), chunk)]
    expected = f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"
    assert s3.etag_of(path, len(data)) == expected


# --- UpdateEndpoint (Stubber: moto has no UpdateEndpoint) -----------------------------------


def _endpoint(status: str, config: str, reason: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "EndpointName": "ep",
        "EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": datetime(2024, 1, 1, tzinfo=UTC),
        "LastModifiedTime": datetime(2024, 1, 1, tzinfo=UTC),
    }
    if reason:
        answer["FailureReason"] = reason
    return answer


def _stub_update(stubber: Stubber, captured: dict[str, str]) -> None:
    model = names.model_name("my-app", IMAGE, MODEL, ROLE)
    stubber.add_response(
        "describe_endpoint", _endpoint("InService", "ep-old"), {"EndpointName": "ep"}
    )
    stubber.add_response(
        "describe_model",
        {
            "ModelName": model,
            "ModelArn": f"arn:aws:sagemaker:eu-west-1:123456789012:model/{model}",
            "CreationTime": datetime(2024, 1, 1, tzinfo=UTC),
            "ExecutionRoleArn": ROLE,
        },
        {"ModelName": model},
    )
    stubber.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/new"},
        {
            "EndpointConfigName": ANY,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 1.0,
                }
            ],
            "Tags": [{"Key": "easy_sm:endpoint", "Value": "ep"}],
        },
    )
    stubber.add_response(
        "update_endpoint",
        {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep"},
        {"EndpointName": "ep", "EndpointConfigName": ANY},
    )
    captured["model"] = model


def _deploy(client: Any) -> str:
    return endpoints.deploy_endpoint(
        client,
        endpoint_name="ep",
        spec=endpoints.EndpointSpec(variant=endpoints.instance_variant("ml.m5.large", 1)),
        image_uri=IMAGE,
        model_data=MODEL,
        role_arn=ROLE,
        model_prefix="my-app",
    )


def test_deploy_to_an_existing_endpoint_updates_it_and_waits_for_the_new_config(
    sm: tuple[Any, Stubber], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber = sm
    monkeypatch.setattr(endpoints, "endpoint_config_name", lambda _name: "ep-new")
    _stub_update(stubber, {})
    stubber.add_response(
        "describe_endpoint", _endpoint("Updating", "ep-old"), {"EndpointName": "ep"}
    )
    stubber.add_response(
        "describe_endpoint", _endpoint("InService", "ep-new"), {"EndpointName": "ep"}
    )
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep"
    history = {"Key": "easy_sm:config-history", "Value": "ep-older"}
    stubber.add_response("list_tags", {"Tags": [history]}, {"ResourceArn": arn})
    stubber.add_response(
        "add_tags",
        {},
        {
            "ResourceArn": arn,
            "Tags": [{"Key": "easy_sm:config-history", "Value": "ep-older ep-old"}],
        },
    )
    assert _deploy(client) == "ep"
    err = capsys.readouterr().err
    assert "updating endpoint ep from config ep-old to ep-new" in err
    assert err.index("endpoint ep: Updating") < err.index("endpoint ep: InService")


def test_deploy_update_that_rolls_back_is_reported_as_a_failure(sm: tuple[Any, Stubber]) -> None:
    client, stubber = sm
    _stub_update(stubber, {})
    stubber.add_response(
        "describe_endpoint", _endpoint("Updating", "ep-old"), {"EndpointName": "ep"}
    )
    stubber.add_response(
        "describe_endpoint", _endpoint("RollingBack", "ep-old"), {"EndpointName": "ep"}
    )
    stubber.add_response(
        "describe_endpoint",
        _endpoint("InService", "ep-old", "Health check failed for the new model"),
        {"EndpointName": "ep"},
    )
    with pytest.raises(JobFailedError) as caught:
        _deploy(client)
    assert caught.value.message == (
        "update of endpoint ep was rolled back: Health check failed for the new model"
    )
    assert "it still serves config ep-old" in str(caught.value.hint)


def test_deploy_update_refused_by_aws_deletes_the_unused_config(sm: tuple[Any, Stubber]) -> None:
    client, stubber = sm
    model = names.model_name("my-app", IMAGE, MODEL, ROLE)
    stubber.add_response(
        "describe_endpoint", _endpoint("InService", "ep-old"), {"EndpointName": "ep"}
    )
    stubber.add_client_error("describe_model", "ValidationException", "Could not find model")
    stubber.add_response(
        "create_model", {"ModelArn": f"arn:aws:sagemaker:eu-west-1:1:model/{model}"}
    )
    stubber.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/x"},
    )
    stubber.add_client_error(
        "update_endpoint", "ValidationException", "Cannot update in-progress endpoint"
    )
    stubber.add_response("delete_endpoint_config", {}, {"EndpointConfigName": ANY})
    with pytest.raises(AwsError, match=r"sagemaker:UpdateEndpoint failed \(ValidationException\)"):
        _deploy(client)


def test_deploy_to_an_updating_endpoint_says_to_wait(sm: tuple[Any, Stubber]) -> None:
    client, stubber = sm
    stubber.add_response(
        "describe_endpoint", _endpoint("Updating", "ep-old"), {"EndpointName": "ep"}
    )
    with pytest.raises(AwsError, match="endpoint ep is Updating: it cannot be updated now"):
        _deploy(client)


# --- error translation ----------------------------------------------------------------------


def _spec() -> training.TrainingSpec:
    return training.TrainingSpec(
        image_uri=IMAGE,
        role_arn=ROLE,
        input_s3="s3://bkt/in",
        output_s3="s3://bkt/out",
        instance_type="ml.m5.large",
        base_job_name="iris",
    )


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "AccessDeniedException",
            "User is not authorized to perform: sagemaker:CreateTrainingJob",
            "access denied for sagemaker:CreateTrainingJob",
        ),
        ("ResourceLimitExceeded", "quota", "a SageMaker quota is used up"),
        ("ThrottlingException", "Rate exceeded", "throttling requests even after retries"),
        ("ExpiredTokenException", "expired", "your AWS credentials have expired"),
        ("ValidationException", "1 validation error: RoleArn", "fix the value AWS names above"),
    ],
)
def test_aws_errors_on_create_training_job_say_how_to_fix_them(
    sm: tuple[Any, Stubber], code: str, message: str, expected: str
) -> None:
    client, stubber = sm
    stubber.add_client_error("create_training_job", code, message)
    with pytest.raises(AwsError) as caught:
        training.start_training_job(client, _spec())
    assert expected in str(caught.value)
    assert caught.value.exit_code == 4


def test_interrupting_a_wait_says_the_job_keeps_running(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(_s: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(waiting, "sleep", interrupted)
    with pytest.raises(InterruptedByUser) as caught:
        waiting.wait_until(
            lambda: {"S": "InProgress"},
            lambda d: d["S"],
            lambda d: False,
            what="training job j",
            interrupted_hint="stop it with: easy_sm stop-training-job -j j",
        )
    assert "it keeps running on SageMaker" in caught.value.message
    assert caught.value.exit_code == 130


def test_poll_seconds_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EASY_SM_POLL_SECONDS", "0.5")
    assert waiting.poll_seconds() == 0.5
    monkeypatch.setenv("EASY_SM_POLL_SECONDS", "junk")
    assert waiting.poll_seconds() == waiting.DEFAULT_POLL_SECONDS


# --- stop-training-job (Stubber through the CLI: moto has no StopTrainingJob) ---------------


def test_stop_training_job_command_stops_the_job_and_prints_its_name(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from easy_sm.__main__ import app
    from easy_sm.sagemaker import sagemaker as facade

    (Path.cwd() / "my-app.json").write_text(
        json.dumps({"image_name": "my-app", "aws_region": "eu-west-1", "easy_sm_module_dir": "."})
    )
    client = boto3.client("sagemaker", region_name="eu-west-1")
    stubber = Stubber(client)
    stubber.add_response("stop_training_job", {}, {"TrainingJobName": "iris-20240101-000000-abcd"})
    stubber.activate()
    monkeypatch.setattr(facade, "client", lambda _session, _service: client)
    result = runner.invoke(app, ["stop-training-job", "-j", "iris-20240101-000000-abcd"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "iris-20240101-000000-abcd\n"
    stubber.assert_no_pending_responses()


def test_stop_training_job_of_a_finished_job_is_a_clear_error(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easy_sm.__main__ import app
    from easy_sm.sagemaker import sagemaker as facade

    (Path.cwd() / "my-app.json").write_text(
        json.dumps({"image_name": "my-app", "aws_region": "eu-west-1", "easy_sm_module_dir": "."})
    )
    client = boto3.client("sagemaker", region_name="eu-west-1")
    stubber = Stubber(client)
    stubber.add_client_error(
        "stop_training_job",
        "ValidationException",
        "The request was rejected because the training job is in status Completed.",
    )
    stubber.activate()
    monkeypatch.setattr(facade, "client", lambda _session, _service: client)
    result = runner.invoke(app, ["stop-training-job", "-j", "done-job"])
    assert result.exit_code == 4
    assert "sagemaker:StopTrainingJob failed (ValidationException)" in result.stderr
    assert "status Completed" in result.stderr
