"""AWS out of reach: one `cannot reach … retrying` line after the first failed attempt, then
the one-line error; a wait that loses the connection says the job may still be running and
how to look at it; HTML error pages are summarised, AWS text kept on one line."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.sagemaker import session
from tests.conftest import free_port

ACCOUNT = "123456789012"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-exec"


@pytest.fixture
def project(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (isolated / "my-app.json").write_text(
        json.dumps({"image_name": "my-app", "aws_region": REGION, "easy_sm_module_dir": "."}),
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("EASY_SM_POLL_SECONDS", "0.1")
    monkeypatch.setattr(session, "_said_retrying", False, raising=False)
    return isolated


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_unreachable_endpoint_says_it_is_retrying_once_then_one_error(
    project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    result = runner.invoke(app, ["list-endpoints"])
    assert result.exit_code == 4, result.stderr
    retrying = [line for line in result.stderr.splitlines() if "retrying" in line]
    assert len(retrying) == 1 and "cannot reach" in retrying[0], result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and " — " in errors[0], result.stderr
    assert result.stdout == ""


def test_losing_aws_while_waiting_for_a_job_says_it_may_still_run_and_how_to_look(
    project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.backends import get_backend
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stopped = False
    try:
        url = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=url)
        name = "lost-connection-job"
        sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
            RoleArn=ROLE,
            OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
        job = get_backend("sagemaker")[ACCOUNT][REGION].training_jobs[name]  # type: ignore[index]
        job.training_job_status = "InProgress"

        from easy_sm.sagemaker import waiting

        def cut(seconds: float) -> None:
            """The wait loop's first pause: the job was seen running; now AWS goes away."""
            nonlocal stopped
            if not stopped:
                server.stop()
                stopped = True

        monkeypatch.setattr(waiting, "sleep", cut)
        result = runner.invoke(app, ["logs", "-j", name, "--follow"])
    finally:
        if not stopped:
            server.stop()

    assert result.exit_code == 4, result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "may still be running" in errors[0]
    assert f"easy_sm logs -j {name}" in errors[0]


def test_an_html_error_page_is_summarised_on_one_line() -> None:
    import botocore.exceptions

    page = (
        "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
        "<body><h1>Bad Gateway</h1>\n<p>nginx</p></body></html>"
    )
    exc = botocore.exceptions.ClientError(
        {"Error": {"Code": "502", "Message": page}, "ResponseMetadata": {"HTTPStatusCode": 502}},
        "ListEndpoints",
    )
    error = session.translate_client_error(exc, "sagemaker:ListEndpoints")
    text = str(error)
    assert "\n" not in text and "<" not in text
    assert "502 Bad Gateway" in text and " — " in text


def test_aws_error_text_is_forced_onto_one_line() -> None:
    import botocore.exceptions

    exc = botocore.exceptions.ClientError(
        {"Error": {"Code": "ValidationException", "Message": "bad value\n  for Name\r\n"}},
        "CreateModel",
    )
    text = str(session.translate_client_error(exc, "sagemaker:CreateModel"))
    assert "\n" not in text and "\r" not in text
    assert "bad value for Name" in text


def test_an_html_page_quoted_in_an_aws_message_keeps_the_message() -> None:
    import botocore.exceptions

    text = (
        'Received server error (500) from primary with message "<html>\n<head><title>500 '
        'Internal Server Error</title></head><body>boom</body></html>". See the logs.'
    )
    exc = botocore.exceptions.ClientError(
        {"Error": {"Code": "ModelError", "Message": text}}, "InvokeEndpoint"
    )
    line = str(session.translate_client_error(exc, "sagemaker:InvokeEndpoint"))
    assert "\n" not in line and "<" not in line
    assert "Received server error (500) from primary" in line
    assert "500 Internal Server Error" in line


def test_sigterm_while_following_a_job_stops_waiting_and_says_it_keeps_running(
    project: Path, moto: str
) -> None:
    """Signals are handled centrally: a cloud wait gets the same treatment as a container."""
    import re
    import signal

    from moto.backends import get_backend

    from tests.integration.test_signals import EasySmProcess

    sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto)
    name = "followed-job"
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://bucket/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    job = get_backend("sagemaker")[ACCOUNT][REGION].training_jobs[name]  # type: ignore[index]
    job.training_job_status = "InProgress"

    follow = EasySmProcess(["logs", "-j", name, "--follow"], project)
    try:
        follow.wait_for_line(re.compile(rf"training job {name}: InProgress"))
        follow.proc.send_signal(signal.SIGTERM)
        assert follow.finish(timeout=30) == 143, follow.stderr
    finally:
        follow.proc.kill()
    errors = [line for line in follow.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, follow.stderr
    assert "keeps running on SageMaker" in errors[0] and "SIGTERM" in errors[0]
    assert " — " in errors[0]
