"""SageMaker's /opt/ml layout and environment for the local commands (no Docker needed)."""

from __future__ import annotations

import json
import os
import re
import tarfile
from pathlib import Path

import pytest

from easy_sm.docker.containers import RunSpec
from easy_sm.docker.local_mode import (
    LocalApp,
    job_name,
    package_model,
    processing_spec,
    run_spec,
    serving_spec,
    training_spec,
)
from easy_sm.errors import ConfigError, UsageError


@pytest.fixture
def local(tmp_path: Path) -> LocalApp:
    base = tmp_path / "app" / "easy_sm_base"
    test_dir = base / "local_test" / "test_dir"
    (test_dir / "input" / "data" / "training").mkdir(parents=True)
    (test_dir / "input" / "data" / "training" / "a.csv").write_text("1,2\n")
    (test_dir / "input" / "data" / "validation").mkdir()
    (test_dir / "input" / "data" / "validation" / "b.bin").write_text("x")
    (base / "processing").mkdir(parents=True)
    (base / "processing" / "job.py").write_text("print(1)\n")
    return LocalApp("my_app", "my-app:latest", test_dir, base, "", "eu-west-2")


def test_job_names_are_valid_sagemaker_names() -> None:
    name = job_name("my_app" * 20)
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)
    assert "-local-" in name


def test_training_lays_out_opt_ml_and_the_environment(local: LocalApp) -> None:
    failure = local.test_dir / "output" / "failure"
    failure.parent.mkdir(parents=True)
    failure.write_text("old failure")
    spec, failure_file = training_spec(local, {"lr": "0.1", "name": "x"}, {"EXTRA": "1"})
    assert failure_file == failure and not failure.exists()
    config = local.test_dir / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {"lr": "0.1", "name": "x"}
    channels = json.loads((config / "inputdataconfig.json").read_text())
    assert sorted(channels) == ["training", "validation"]
    assert channels["training"]["ContentType"] == "text/csv"
    assert channels["validation"]["TrainingInputMode"] == "File"
    assert json.loads((config / "resourceconfig.json").read_text())["hosts"] == ["algo-1"]
    assert (local.test_dir / "model").is_dir()

    assert spec.command == ["train"]
    assert [(m.source, m.target, m.read_only) for m in spec.mounts] == [
        (str(local.test_dir.resolve()), "/opt/ml", False)
    ]
    env = spec.environment
    assert env["SM_CHANNELS"] == '["training", "validation"]'
    assert env["SM_CHANNEL_VALIDATION"] == "/opt/ml/input/data/validation"
    assert json.loads(env["SM_HPS"]) == {"lr": 0.1, "name": "x"}
    assert env["SM_HP_LR"] == "0.1" and env["SM_HP_NAME"] == "x"
    assert env["AWS_REGION"] == "eu-west-2"
    assert env["TRAINING_JOB_ARN"].startswith("arn:aws:sagemaker:eu-west-2:")
    assert env["HOME"] == "/tmp" and env["EXTRA"] == "1"
    if hasattr(os, "getuid"):
        assert spec.user == f"{os.getuid()}:{os.getgid()}"


def test_processing_mounts_processing_folders_config_and_aws_read_only(local: LocalApp) -> None:
    aws = Path.home() / ".aws"
    aws.mkdir()
    local.aws_profile = "dev"
    spec = processing_spec(local, "job.py", {})
    assert spec.command == ["process", "job.py"]
    mounts = {m.target: (m.source, m.read_only) for m in spec.mounts}
    test_dir = local.test_dir.resolve()
    assert mounts["/opt/ml/processing/input"] == (str(test_dir / "processing" / "input"), False)
    assert mounts["/opt/ml/processing/output"] == (str(test_dir / "processing" / "output"), False)
    assert mounts["/opt/ml/config"] == (str(test_dir / "config"), True)
    assert mounts["/tmp/.aws"] == (str(aws.resolve()), True)
    assert spec.environment["AWS_PROFILE"] == "dev"
    assert spec.environment["AWS_DEFAULT_REGION"] == "eu-west-2"
    config = json.loads((local.test_dir / "config" / "processingjobconfig.json").read_text())
    assert config["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1


@pytest.mark.parametrize("script", ["../x.py", "/etc/passwd", "missing.py"])
def test_processing_script_must_be_in_the_processing_folder(local: LocalApp, script: str) -> None:
    with pytest.raises(UsageError):
        processing_spec(local, script, {})


def test_run_passes_the_command_untouched_after_run(local: LocalApp) -> None:
    spec = run_spec(local, ["dbt", "run", "-e", "prod", "; rm -rf /"], {})
    assert spec.command == ["run", "dbt", "run", "-e", "prod", "; rm -rf /"]


def test_serving_mounts_only_the_model(local: LocalApp) -> None:
    spec = serving_spec(local, {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
    assert spec.command == ["serve"]
    assert [m.target for m in spec.mounts] == ["/opt/ml/model"]
    assert spec.all_labels() == {"easy_sm.app": "my_app", "easy_sm.kind": "serve"}


def test_missing_test_dir_is_a_config_error(local: LocalApp, tmp_path: Path) -> None:
    local.test_dir = tmp_path / "nowhere"
    with pytest.raises(ConfigError, match="nowhere not found"):
        run_spec(local, ["true"], {})


def test_package_model_puts_the_model_folder_content_at_the_archive_root(
    local: LocalApp,
) -> None:
    model = local.test_dir / "model"
    (model / "sub").mkdir(parents=True)
    (model / "model.joblib").write_text("m")
    (model / "sub" / "vocab.txt").write_text("v")
    (local.test_dir / "output").mkdir()
    tarball = package_model(local.test_dir)
    assert tarball == local.test_dir / "output" / "model.tar.gz"
    with tarfile.open(tarball) as archive:
        assert sorted(archive.getnames()) == ["model.joblib", "sub", "sub/vocab.txt"]


def test_docker_argv_shows_the_equivalent_docker_run() -> None:
    spec = RunSpec(image="img:1", command=["train"], app_name="a", kind="train", user="1:2")
    spec.environment = {"B": "2", "A": "1"}
    argv = spec.docker_argv()
    assert argv[:3] == ["docker", "run", "--rm"]
    assert argv[-2:] == ["img:1", "train"]
    assert argv[5:7] == ["--user", "1:2"]
    assert argv.index("A=1") < argv.index("B=2")


def test_training_starts_with_an_empty_model_folder_as_on_sagemaker(local: LocalApp) -> None:
    model = local.test_dir / "model"
    (model / "old" / "nested").mkdir(parents=True)
    (model / "stale.joblib").write_text("from an earlier run")
    (model / ".gitkeep").write_text("")
    (local.test_dir / "output" / "data").mkdir(parents=True)
    (local.test_dir / "output" / "data" / "leftover.csv").write_text("x")
    (local.test_dir / "output" / "failure").write_text("old failure")
    training_spec(local, {}, {})
    assert sorted(p.name for p in model.iterdir()) == [".gitkeep"]
    assert list((local.test_dir / "output" / "data").iterdir()) == []
    assert not (local.test_dir / "output" / "failure").exists()
    # the training data itself is untouched
    assert (local.test_dir / "input" / "data" / "training" / "a.csv").read_text() == "1,2\n"
