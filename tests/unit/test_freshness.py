"""The source hash behind never-stale images, the `.dockerignore` matcher it walks with, and
the requests `--gpus` / `-c N` / `--input-sharded` make (no Docker engine needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.commands.helpers import load_project
from easy_sm.docker.build import BuildRequest, project_build_request
from easy_sm.docker.containers import RunSpec, container_config, parse_gpus
from easy_sm.docker.dockerignore import context_paths
from easy_sm.docker.freshness import source_hash
from easy_sm.docker.local_mode import LocalApp, training_spec
from easy_sm.docker.multihost import prepare_multihost_training, shard
from easy_sm.errors import UsageError
from easy_sm.sagemaker.training import TrainingSpec, training_job_request


@pytest.fixture
def project(runner: CliRunner, isolated: Path) -> Path:
    result = runner.invoke(app, ["init", "--app-name", "demo", "--python-version", "3.11", "--yes"])
    assert result.exit_code == 0, result.stderr
    return isolated


def request() -> BuildRequest:
    return project_build_request(load_project(None))


# --- the source hash ---------------------------------------------------------------------


def test_source_hash_changes_with_code_and_not_with_test_data(project: Path) -> None:
    before = source_hash(request())
    assert source_hash(request()) == before  # stable
    data = project / "demo/easy_sm_base/local_test/test_dir/input/data/training/more.csv"
    data.write_text("1,2,3\n")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("x")
    assert source_hash(request()) == before  # never in the build context
    training = project / "demo/easy_sm_base/training/training.py"
    training.write_text(training.read_text() + "\n# an edit\n")
    edited = source_hash(request())
    assert edited != before


def test_source_hash_covers_run_bits_new_files_ignore_rules_and_build_args(project: Path) -> None:
    hashes = {source_hash(request())}
    script = project / "demo/easy_sm_base/training/helper.sh"
    script.write_text("echo hi\n")
    hashes.add(source_hash(request()))
    os.chmod(script, 0o755)
    hashes.add(source_hash(request()))
    (project / ".dockerignore").write_text("demo/easy_sm_base/training/helper.sh\n")
    hashes.add(source_hash(request()))
    changed = request()
    changed.buildargs["BASE_IMAGE"] = "python:3.13-slim"
    hashes.add(source_hash(changed))
    assert len(hashes) == 5


# --- .dockerignore, as Docker applies it --------------------------------------------------

PATTERNS = [
    ["*.md", "!README.md"],
    ["**/*.pyc", "build", "!build/keep.txt"],
    ["docs/**", "./tmp/../data/*.csv"],
    ["*", "!src", "src/secret?.txt"],
    ["a/**/z", "**/notes"],
]


@pytest.mark.parametrize("patterns", PATTERNS)
def test_context_matches_the_docker_sdks_exclude_paths(tmp_path: Path, patterns: list[str]) -> None:
    from docker.utils.build import exclude_paths

    for rel in [
        "README.md",
        "CHANGES.md",
        "x.pyc",
        "pkg/y.pyc",
        "build/out.bin",
        "build/keep.txt",
        "docs/index.rst",
        "docs/deep/page.rst",
        "data/a.csv",
        "data/b.json",
        "src/main.py",
        "src/secret1.txt",
        "src/secret12.txt",
        "a/b/c/z",
        "a/z",
        "a/b/notes",
        "Dockerfile",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    ours = context_paths(str(tmp_path), list(patterns), "Dockerfile")
    theirs = sorted(exclude_paths(str(tmp_path), list(patterns), "Dockerfile"))
    assert ours == theirs


# --- GPUs --------------------------------------------------------------------------------


def test_gpus_reach_the_engine_as_a_device_request() -> None:
    spec = RunSpec(image="demo:latest", command=["train"], app_name="demo", kind="train", gpus=-1)
    assert container_config(spec)["HostConfig"]["DeviceRequests"] == [
        {"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]]}
    ]
    assert "--gpus all" in " ".join(spec.docker_argv())
    spec.gpus = 2
    assert container_config(spec)["HostConfig"]["DeviceRequests"][0]["Count"] == 2
    spec.gpus = 0
    assert "DeviceRequests" not in container_config(spec)["HostConfig"]


def test_gpus_accepts_all_or_a_positive_number() -> None:
    assert (parse_gpus(None), parse_gpus("all"), parse_gpus("3")) == (0, -1, 3)
    for bad in ("0", "-1", "two", ""):
        with pytest.raises(UsageError, match="--gpus"):
            parse_gpus(bad)


def test_bad_gpus_is_a_usage_error_before_anything_runs(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["local", "train", "--gpus", "many"])
    assert result.exit_code == 2
    assert "--gpus 'many' is not all or a number of GPUs" in result.stderr


@pytest.fixture
def local(tmp_path: Path) -> LocalApp:
    base = tmp_path / "app" / "easy_sm_base"
    test_dir = base / "local_test" / "test_dir"
    for channel, files in {"training": 7, "validation": 2}.items():
        (test_dir / "input" / "data" / channel).mkdir(parents=True)
        for k in range(files):
            (test_dir / "input" / "data" / channel / f"part-{k}.csv").write_text(f"{k}\n")
    return LocalApp("my_app", "my-app:latest", test_dir, base, "", "eu-west-2")


def test_training_with_gpus_reports_them_in_the_environment_and_resourceconfig(
    local: LocalApp,
) -> None:
    spec, _failure = training_spec(local, {}, {}, gpus=2)
    assert spec.environment["SM_NUM_GPUS"] == "2"
    assert container_config(spec)["HostConfig"]["DeviceRequests"][0]["Count"] == 2
    config = json.loads((local.test_dir / "input/config/resourceconfig.json").read_text())
    assert config["current_instance_type"] == "local_gpu"
    assert config["instance_groups"][0]["instance_type"] == "local_gpu"


# --- multi-host layout -------------------------------------------------------------------


def test_sharding_deals_keys_in_key_order() -> None:
    keys = [f"k{i}" for i in range(7)]
    assert shard(keys, 3) == [["k0", "k3", "k6"], ["k1", "k4"], ["k2", "k5"]]
    assert shard(["only"], 3) == [["only"], [], []]


def test_each_host_gets_sagemakers_per_host_contract(local: LocalApp) -> None:
    job = prepare_multihost_training(local, {"lr": "0.1"}, {"X": "1"}, 3, sharded=True)
    names = ["algo-1", "algo-2", "algo-3"]
    assert [h.name for h in job.hosts] == names
    assert job.network.startswith("easy-sm-my_app-train-")
    for index, host in enumerate(job.hosts):
        config = host.folder / "input" / "config"
        assert json.loads((config / "resourceconfig.json").read_text()) == {
            "current_host": host.name,
            "current_instance_type": "local",
            "current_group_name": "homogeneousCluster",
            "hosts": names,
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": "local",
                    "hosts": names,
                }
            ],
            "network_interface_name": "eth0",
        }
        channels = json.loads((config / "inputdataconfig.json").read_text())
        assert channels["training"]["S3DistributionType"] == "ShardedByS3Key"
        assert json.loads((config / "hyperparameters.json").read_text()) == {"lr": "0.1"}
        env = host.spec.environment
        assert env["SM_CURRENT_HOST"] == host.name
        assert json.loads(env["SM_HOSTS"]) == names
        assert env["SM_NETWORK_INTERFACE_NAME"] == "eth0"
        assert env["SM_NUM_GPUS"] == "0"
        assert int(env["SM_NUM_CPUS"]) >= 1
        assert env["X"] == "1"
        argv = " ".join(host.spec.docker_argv())
        assert f"--network {job.network}" in argv
        assert f"--hostname {host.name}" in argv
        share = sorted(p.name for p in (host.folder / "input/data/training").iterdir())
        assert share == [f"part-{k}.csv" for k in range(7) if k % 3 == index]
    validation = [sorted(os.listdir(h.folder / "input/data/validation")) for h in job.hosts]
    assert validation == [["part-0.csv"], ["part-1.csv"], []]


def test_without_sharding_every_host_mounts_all_the_data(local: LocalApp) -> None:
    job = prepare_multihost_training(local, {}, {}, 2)
    data = str((local.test_dir / "input" / "data").resolve())
    for host in job.hosts:
        assert any(m.source == data and m.target == "/opt/ml/input/data" for m in host.spec.mounts)


def test_more_than_eight_local_hosts_is_a_usage_error(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["local", "train", "-c", "9"])
    assert result.exit_code == 2
    assert "9" in result.stderr


# --- cloud train --input-sharded ---------------------------------------------------------


def test_cloud_input_sharded_shards_every_channel() -> None:
    spec = TrainingSpec(
        image_uri="1.dkr.ecr.eu-west-1.amazonaws.com/demo:latest",
        role_arn="arn:aws:iam::123456789012:role/R",
        input_s3="s3://my-bucket/train",
        output_s3="s3://my-bucket/out",
        instance_type="ml.m5.large",
        base_job_name="demo",
        instance_count=2,
        channels={"validation": "s3://my-bucket/val"},
        input_sharded=True,
    )
    request = training_job_request(spec, "demo-1")
    kinds = [
        c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for c in request["InputDataConfig"]
    ]
    assert kinds == ["ShardedByS3Key", "ShardedByS3Key"]
    spec.input_sharded = False
    request = training_job_request(spec, "demo-1")
    kinds = [
        c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for c in request["InputDataConfig"]
    ]
    assert kinds == ["FullyReplicated", "FullyReplicated"]


def test_the_code_channel_goes_whole_to_every_host_when_sharding(local: LocalApp) -> None:
    code = local.test_dir / "input" / "data" / "code"
    code.mkdir()
    (code / "code.tar.gz").write_bytes(b"archive")
    job = prepare_multihost_training(local, {}, {}, 3, sharded=True)
    for host in job.hosts:
        assert (host.folder / "input/data/code/code.tar.gz").read_bytes() == b"archive"
        config = json.loads((host.folder / "input/config/inputdataconfig.json").read_text())
        assert config["code"]["S3DistributionType"] == "FullyReplicated"
        assert config["training"]["S3DistributionType"] == "ShardedByS3Key"


def test_cloud_input_sharded_leaves_the_code_channel_whole() -> None:
    spec = TrainingSpec(
        image_uri="1.dkr.ecr.eu-west-1.amazonaws.com/demo:latest",
        role_arn="arn:aws:iam::123456789012:role/R",
        input_s3="s3://my-bucket/train",
        output_s3="s3://my-bucket/out",
        instance_type="ml.m5.large",
        base_job_name="demo",
        instance_count=2,
        input_sharded=True,
        code_s3="s3://my-bucket/code/code-abc.tar.gz",
    )
    request = training_job_request(spec, "demo-1")
    kinds = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for c in request["InputDataConfig"]
    }
    assert kinds == {"training": "ShardedByS3Key", "code": "FullyReplicated"}


def test_a_wrong_processing_script_fails_before_any_build(
    project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    result = runner.invoke(app, ["local", "process", "-f", "nope.py"])
    assert result.exit_code == 2, result.stderr
    assert "processing script" in result.stderr and "not found" in result.stderr


def test_every_hosts_model_and_output_data_are_merged_with_clashes_named(
    local: LocalApp,
) -> None:
    from easy_sm.docker.multihost import collect_artifacts

    job = prepare_multihost_training(local, {}, {}, 2)
    (local.test_dir / "model" / "stale.bin").write_text("from an earlier run")
    for host in job.hosts:
        (host.folder / "model" / f"{host.name}.txt").write_text(host.name)
        (host.folder / "model" / "shared.txt").write_text(host.name)
        (host.folder / "output" / "data" / "sub").mkdir()
        (host.folder / "output" / "data" / "sub" / f"{host.name}.csv").write_text("1\n")
    clashes = collect_artifacts(job)
    model = local.test_dir / "model"
    assert sorted(p.name for p in model.iterdir()) == ["algo-1.txt", "algo-2.txt", "shared.txt"]
    assert (model / "shared.txt").read_text() == "algo-2"
    assert clashes == ["model/shared.txt written by algo-1 and algo-2"]
    data = local.test_dir / "output" / "data" / "sub"
    assert sorted(p.name for p in data.iterdir()) == ["algo-1.csv", "algo-2.csv"]
