"""Shell completion (issue 9, item 13) through the real mechanism a shell uses
(`_EASY_SM_COMPLETE=complete_bash`), with names read from a moto server, and a Tab press that
never waits long on a network that does not answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.moto

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo:latest"


def complete(words: str, cwd: Path, **env: str) -> tuple[list[str], float]:
    """What bash would offer after `words` (the last word is being completed), and how long
    the answer took."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "easy_sm"],
        cwd=cwd,
        env={
            **os.environ,
            **env,
            "_EASY_SM_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout.split(), time.monotonic() - started


@pytest.fixture
def configs(isolated: Path) -> Path:
    for name in ("demo", "demo-2", "other"):
        (isolated / f"{name}.json").write_text(
            json.dumps({"image_name": name, "aws_region": REGION, "easy_sm_module_dir": "."})
        )
    (isolated / "package.json").write_text('{"name": "not an app"}')
    return isolated


def test_app_names_complete_from_the_configs_here(configs: Path) -> None:
    assert complete("easy_sm local ps -a ", configs)[0] == ["demo", "demo-2", "other"]
    assert complete("easy_sm build -a de", configs)[0] == ["demo", "demo-2"]


def test_endpoint_and_job_names_complete_from_sagemaker(configs: Path, moto: str) -> None:
    sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=moto)
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    for name in ("iris-prod", "iris-staging", "churn"):
        sm.create_endpoint_config(
            EndpointConfigName=f"{name}-config",
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": "m",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    for name in ("iris-20261127-050000-aaaa", "churn-20261127-050000-bbbb"):
        sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=ROLE,
            OutputDataConfig={"S3OutputPath": "s3://bucket/models"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
    env = {"AWS_ENDPOINT_URL": moto}
    offered, _ = complete("easy_sm delete-endpoint -a demo -n iris", configs, **env)
    assert sorted(offered) == ["iris-prod", "iris-staging"]
    offered, _ = complete("easy_sm get-model-artifacts -a demo -j ", configs, **env)
    assert sorted(offered) == ["churn-20261127-050000-bbbb", "iris-20261127-050000-aaaa"]
    offered, _ = complete("easy_sm logs -a demo -j chu", configs, **env)
    assert offered == ["churn-20261127-050000-bbbb"]
    offered, _ = complete("easy_sm describe -a demo -n chu", configs, **env)
    assert offered == ["churn"]


def test_a_network_that_never_answers_does_not_block_a_tab_press(configs: Path) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        offered, took = complete(
            "easy_sm delete-endpoint -a demo -n ", configs, AWS_ENDPOINT_URL=url
        )
    assert offered == []
    assert took < 4.5  # start-up (~0.5 s) + at most the 2 s completion budget, with slack
