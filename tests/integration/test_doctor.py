"""`easy_sm doctor` against the real Docker engine (the session's example image) and a moto
server (IAM, ECR, S3, STS): what the user reads, line by line, and the exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from tests.integration.test_cloud import ACCOUNT, REGION, aws, push_image

pytestmark = pytest.mark.moto

TRUST_SAGEMAKER = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture
def here(
    example_project: Path, example_image: str, moto: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """In the example project (image built), with moto as AWS; returns its image name/tag."""
    monkeypatch.chdir(example_project)
    monkeypatch.setenv("AWS_REGION", REGION)
    config = json.loads((example_project / "ex-app.json").read_text(encoding="utf-8"))
    return {"image_name": config["image_name"], "tag": config["docker_tag"]}


def make_role(name: str, trust: dict[str, Any]) -> str:
    aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def doctor(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, ["doctor", *args])


def test_doctor_all_green_exits_0_with_one_check_mark_per_line(
    runner: CliRunner, here: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGEMAKER_ROLE", make_role("sm-exec", TRUST_SAGEMAKER))
    push_image(here["image_name"], here["tag"])
    aws("s3").create_bucket(
        Bucket="doctor-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    result = doctor(runner, "--bucket", "doctor-bucket")
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "✔ Docker engine",
        "✔ project",
        "✔ image built",
        "✔ AWS region",
        "✔ AWS credentials",
        "✔ execution role",
        "✔ ECR repository",
        "✔ image pushed",
        "✔ S3 bucket",
    ]
    assert f"✔ AWS credentials: account {ACCOUNT}" in lines
    assert "✔ S3 bucket: s3://doctor-bucket is writable" in lines
    assert aws("s3").list_objects_v2(Bucket="doctor-bucket").get("KeyCount") == 0
    data = json.loads(doctor(runner, "--json", "--bucket", "doctor-bucket").stdout)
    assert all(check["ok"] for check in data) and len(data) == 9


def test_doctor_names_each_problem_with_its_fix_and_exits_non_zero(
    runner: CliRunner, here: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ec2_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    monkeypatch.setenv("SAGEMAKER_ROLE", make_role("ec2-only", ec2_only))
    result = doctor(runner, "--bucket", "no-such-doctor-bucket")
    assert result.exit_code == 4
    lines = result.stdout.splitlines()
    assert (
        "✗ execution role: role ec2-only does not let SageMaker assume it — add "
        "sagemaker.amazonaws.com as a trusted service" in "\n".join(lines)
    )
    assert (
        f"✗ ECR repository: {here['image_name']} does not exist — run easy_sm --docker-tag "
        f"{here['tag']} push (creates it)"
    ) in lines
    assert any(
        line.startswith("✗ image pushed:") and line.endswith(f"{here['tag']} is not in ECR "
        f"— run easy_sm --docker-tag {here['tag']} push")
        for line in lines
    )  # fmt: skip
    assert (
        "✗ S3 bucket: no-such-doctor-bucket does not exist — aws s3 mb s3://no-such-doctor-bucket"
        in lines
    )
    assert "✔ Docker engine" in lines[0]
    assert result.stderr == (
        "error: 4 of 9 checks failed — fix the ✗ lines above and run easy_sm doctor again\n"
    )


def test_doctor_says_the_image_is_older_than_a_changed_source(
    runner: CliRunner, here: dict[str, str], example_project: Path
) -> None:
    source = example_project / "requirements.txt"
    before = source.stat()
    future = before.st_mtime + 3600
    os.utime(source, (future, future))
    try:
        result = doctor(runner, "--json")
    finally:
        os.utime(source, (before.st_atime, before.st_mtime))
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert checks["image built"]["ok"] is False
    assert "is older than requirements.txt" in checks["image built"]["detail"]
    assert checks["image built"]["fix"] == "run easy_sm build (and easy_sm push)"
    assert checks["execution role"]["detail"] == "no role given"
    assert result.exit_code != 0
