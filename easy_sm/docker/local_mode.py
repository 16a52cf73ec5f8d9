"""SageMaker's container layout, reproduced from a project's `local_test/test_dir`.

Pure file and dict work (no Docker calls): what `/opt/ml` holds, which environment variables
are set, and the `RunSpec` of each local command. See ../shared/spec/sagemaker-contract.md.

  local train    test_dir            -> /opt/ml                   IMAGE train
  local process  test_dir/processing -> /opt/ml/processing         IMAGE process FILE
                 test_dir/config     -> /opt/ml/config (ro), test_dir/output -> /opt/ml/output
  local run      test_dir            -> /opt/ml                   IMAGE run CMD...
  local deploy   test_dir/model      -> /opt/ml/model             IMAGE serve
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from easy_sm.docker.code_archive import CODE_CHANNEL
from easy_sm.docker.containers import Mount, RunSpec, invoking_user
from easy_sm.errors import ConfigError, UsageError
from easy_sm.hyperparameters import stringify

OPT_ML = "/opt/ml"
CURRENT_HOST = "algo-1"
CONTAINER_HOME = "/tmp"
CONTAINER_AWS_DIR = "/tmp/.aws"

_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": "application/jsonlines",
    ".parquet": "application/x-parquet",
    ".txt": "text/plain",
}


@dataclass
class LocalApp:
    """What the local commands need to know about an app."""

    app_name: str
    image: str
    test_dir: Path
    base_dir: Path
    aws_profile: str = ""
    aws_region: str = ""

    @property
    def region(self) -> str:
        return (
            self.aws_region
            or os.environ.get("AWS_REGION", "")
            or os.environ.get("AWS_DEFAULT_REGION", "")
        )

    def require_test_dir(self) -> Path:
        if not self.test_dir.is_dir():
            raise ConfigError(
                f"{self.test_dir} not found",
                "local commands read and write easy_sm_base/local_test/test_dir: create it, "
                "or run `easy_sm init --force` to restore the template",
            )
        return self.test_dir


def decode(value: str) -> Any:
    """The training toolkit's reading of a hyperparameter: JSON if it parses, else the string."""
    try:
        return json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value


def job_name(app_name: str) -> str:
    """A fresh, SageMaker-valid job name: `{app}-local-YYYYmmdd-HHMMSS-mmm` (<= 63 chars)."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}"
    base = re.sub(r"[^A-Za-z0-9-]", "-", app_name).strip("-") or "app"
    return f"{base[: 63 - len(stamp) - 7]}-local-{stamp}"


def _content_type(channel: Path) -> str:
    suffixes = {p.suffix.lower() for p in channel.rglob("*") if p.is_file()}
    types = {_CONTENT_TYPES.get(s, "application/octet-stream") for s in suffixes}
    return types.pop() if len(types) == 1 else "application/octet-stream"


def channels(test_dir: Path) -> list[str]:
    """The channel folders under `input/data/`, sorted."""
    data = test_dir / "input" / "data"
    if not data.is_dir():
        return []
    return sorted(p.name for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


INSTANCE_GROUP = "homogeneousCluster"
NETWORK_INTERFACE = "eth0"


def instance_type(gpus: int) -> str:
    """The instance type local mode reports (as the SageMaker SDK's local mode names it)."""
    return "local_gpu" if gpus else "local"


def resource_config(
    current_host: str = CURRENT_HOST, hosts: list[str] | None = None, gpus: int = 0
) -> dict[str, Any]:
    """`/opt/ml/input/config/resourceconfig.json` of `current_host` among `hosts`."""
    hosts = hosts or [CURRENT_HOST]
    kind = instance_type(gpus)
    return {
        "current_host": current_host,
        "current_instance_type": kind,
        "current_group_name": INSTANCE_GROUP,
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": INSTANCE_GROUP, "instance_type": kind, "hosts": hosts}
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def host_gpu_count() -> int:
    """The GPUs `--gpus all` hands a container: the host's, counted by nvidia-smi (0 if it
    is not installed)."""
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listed.splitlines() if line.startswith("GPU "))


def num_gpus(gpus: int) -> int:
    """SM_NUM_GPUS for a `--gpus` request (0 none, -1 all, N)."""
    return host_gpu_count() if gpus < 0 else gpus


def empty_folder(folder: Path) -> None:
    """Remove what a previous run left in `folder` (a `.gitkeep` placeholder stays)."""
    for entry in folder.iterdir():
        if entry.name == ".gitkeep":
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except PermissionError as exc:
            blocked = exc.filename or entry
            raise ConfigError(
                f"cannot delete {blocked} left by an earlier run: permission denied",
                f"give the files back to yourself (`sudo chown -R $(id -u):$(id -g) {folder}`) "
                "or delete them",
            ) from None


def prepare_training(
    app: LocalApp,
    hyperparameters: Mapping[str, str],
    name: str,
    *,
    gpus: int = 0,
    sharded: bool = False,
) -> tuple[list[str], Path]:
    """Lay out test_dir as SageMaker lays out /opt/ml for a training job: the three config
    files, the model/output folders (made by the invoking user), no stale failure file.
    `model/` and `output/data/` start empty, as on SageMaker: training code that only works
    thanks to files an earlier run left there would fail in the cloud.
    Returns the channels and the failure file's path."""
    test_dir = app.require_test_dir()
    for sub in ("model", "output/data", "input/config", "input/data"):
        (test_dir / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("model", "output/data"):
        empty_folder(test_dir / sub)
    failure = test_dir / "output" / "failure"
    failure.unlink(missing_ok=True)
    found = channels(test_dir)
    write_training_config(
        test_dir / "input" / "config",
        hyperparameters,
        test_dir / "input" / "data",
        found,
        resource_config(gpus=gpus),
        sharded=sharded,
    )
    return found, failure


def write_training_config(
    config: Path,
    hyperparameters: Mapping[str, str],
    data: Path,
    found: list[str],
    resources: Mapping[str, Any],
    *,
    sharded: bool = False,
) -> None:
    """hyperparameters.json, inputdataconfig.json and resourceconfig.json in `config`."""
    _write_json(config / "hyperparameters.json", dict(hyperparameters))
    _write_json(
        config / "inputdataconfig.json",
        {
            channel: {
                "ContentType": _content_type(data / channel),
                "TrainingInputMode": "File",
                "S3DistributionType": (
                    "ShardedByS3Key" if sharded and channel != CODE_CHANNEL else "FullyReplicated"
                ),
                "RecordWrapperType": "None",
            }
            for channel in found
        },
    )
    _write_json(config / "resourceconfig.json", resources)


def training_environment(
    app: LocalApp,
    name: str,
    hyperparameters: Mapping[str, str],
    found: list[str],
    *,
    current_host: str = CURRENT_HOST,
    hosts: list[str] | None = None,
    gpu_count: int = 0,
) -> dict[str, str]:
    """TRAINING_JOB_NAME/ARN, AWS_REGION and the training toolkit's SM_* variables."""
    region = app.region
    decoded = {key: decode(value) for key, value in hyperparameters.items()}
    env = {
        "TRAINING_JOB_NAME": name,
        "TRAINING_JOB_ARN": f"arn:aws:sagemaker:{region or 'local'}:000000000000:"
        f"training-job/{name}",
        "SM_MODEL_DIR": f"{OPT_ML}/model",
        "SM_INPUT_DIR": f"{OPT_ML}/input",
        "SM_INPUT_CONFIG_DIR": f"{OPT_ML}/input/config",
        "SM_OUTPUT_DIR": f"{OPT_ML}/output",
        "SM_OUTPUT_DATA_DIR": f"{OPT_ML}/output/data",
        "SM_CHANNELS": json.dumps(found),
        "SM_HPS": json.dumps(decoded),
        "SM_HOSTS": json.dumps(hosts or [CURRENT_HOST]),
        "SM_CURRENT_HOST": current_host,
        "SM_NETWORK_INTERFACE_NAME": NETWORK_INTERFACE,
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": str(gpu_count),
    }
    if region:
        env["AWS_REGION"] = region
    for channel in found:
        env[f"SM_CHANNEL_{_env_suffix(channel)}"] = f"{OPT_ML}/input/data/{channel}"
    for key, value in decoded.items():
        env[f"SM_HP_{_env_suffix(key)}"] = stringify(value)
    return env


def _env_suffix(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def base_environment() -> dict[str, str]:
    return {"HOME": CONTAINER_HOME}


def aws_environment(app: LocalApp) -> tuple[dict[str, str], list[Mount]]:
    """The config's AWS profile/region for code in the container, with ~/.aws read-only."""
    env: dict[str, str] = {}
    mounts: list[Mount] = []
    if app.aws_profile:
        env["AWS_PROFILE"] = app.aws_profile
    if app.region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = app.region
    aws_dir = Path.home() / ".aws"
    if aws_dir.is_dir():
        mounts.append(Mount(str(aws_dir.resolve()), CONTAINER_AWS_DIR, read_only=True))
        env["AWS_CONFIG_FILE"] = f"{CONTAINER_AWS_DIR}/config"
        env["AWS_SHARED_CREDENTIALS_FILE"] = f"{CONTAINER_AWS_DIR}/credentials"
    return env, mounts


def training_spec(
    app: LocalApp,
    hyperparameters: Mapping[str, str],
    user_env: Mapping[str, str],
    *,
    gpus: int = 0,
    sharded: bool = False,
) -> tuple[RunSpec, Path]:
    """`docker run -v test_dir:/opt/ml IMAGE train`, laid out; and the failure file."""
    name = job_name(app.app_name)
    found, failure = prepare_training(app, hyperparameters, name, gpus=gpus, sharded=sharded)
    env = {
        **base_environment(),
        **training_environment(app, name, hyperparameters, found, gpu_count=num_gpus(gpus)),
        **user_env,
    }
    spec = RunSpec(
        image=app.image,
        command=["train"],
        app_name=app.app_name,
        kind="train",
        mounts=[Mount(str(app.test_dir.resolve()), OPT_ML)],
        environment=env,
        user=invoking_user(),
        gpus=gpus,
    )
    return spec, failure


def processing_script(app: LocalApp, file: str) -> str:
    """`file` as a path relative to easy_sm_base/processing/, checked to exist there."""
    folder = (app.base_dir / "processing").resolve()
    target = (folder / file).resolve()
    if folder not in target.parents:
        raise UsageError(
            f"-f/--file {file!r} is outside easy_sm_base/processing/",
            "name a script in that folder, e.g. -f process_data.py",
        )
    if not target.is_file():
        available = sorted(p.name for p in folder.glob("*.py")) if folder.is_dir() else []
        raise UsageError(
            f"processing script {target} not found",
            "scripts in easy_sm_base/processing/: " + (", ".join(available) or "none"),
        )
    return target.relative_to(folder).as_posix()


def processing_spec(app: LocalApp, file: str, user_env: Mapping[str, str]) -> RunSpec:
    """`docker run ... IMAGE process FILE` with SageMaker Processing's layout."""
    test_dir = app.require_test_dir()
    script = processing_script(app, file)
    processing = test_dir / "processing"
    for sub in ("processing/input", "processing/output", "output", "config"):
        (test_dir / sub).mkdir(parents=True, exist_ok=True)
    (test_dir / "output" / "message").unlink(missing_ok=True)
    name = job_name(app.app_name)
    aws_env, aws_mounts = aws_environment(app)
    _write_json(
        test_dir / "config" / "processingjobconfig.json",
        {
            "ProcessingJobName": name,
            "ProcessingJobArn": f"arn:aws:sagemaker:{app.region or 'local'}:000000000000:"
            f"processing-job/{name}",
            "AppSpecification": {
                "ImageUri": app.image,
                "ContainerEntrypoint": ["/opt/easy_sm_base/executor.sh", "process", script],
            },
            "Environment": dict(user_env),
            "ProcessingInputs": [
                {
                    "InputName": "input",
                    "S3Input": {
                        "LocalPath": f"{OPT_ML}/processing/input",
                        "S3DataDistributionType": "FullyReplicated",
                        "S3InputMode": "File",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "output",
                        "S3Output": {
                            "LocalPath": f"{OPT_ML}/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 1}
            },
        },
    )
    _write_json(
        test_dir / "config" / "resourceconfig.json",
        {"current_host": CURRENT_HOST, "hosts": [CURRENT_HOST]},
    )
    return RunSpec(
        image=app.image,
        command=["process", script],
        app_name=app.app_name,
        kind="process",
        mounts=[
            Mount(str((processing / "input").resolve()), f"{OPT_ML}/processing/input"),
            Mount(str((processing / "output").resolve()), f"{OPT_ML}/processing/output"),
            Mount(str((test_dir / "config").resolve()), f"{OPT_ML}/config", read_only=True),
            Mount(str((test_dir / "output").resolve()), f"{OPT_ML}/output"),
            *aws_mounts,
        ],
        environment={**base_environment(), **aws_env, **user_env},
        user=invoking_user(),
    )


def run_spec(app: LocalApp, command: list[str], user_env: Mapping[str, str]) -> RunSpec:
    """`docker run -v test_dir:/opt/ml ... IMAGE run CMD...`: any command in the image."""
    test_dir = app.require_test_dir()
    aws_env, aws_mounts = aws_environment(app)
    return RunSpec(
        image=app.image,
        command=["run", *command],
        app_name=app.app_name,
        kind="run",
        mounts=[Mount(str(test_dir.resolve()), OPT_ML), *aws_mounts],
        environment={**base_environment(), **aws_env, **user_env},
        user=invoking_user(),
    )


def serving_spec(app: LocalApp, user_env: Mapping[str, str]) -> RunSpec:
    """`docker run -d -p 127.0.0.1:PORT:8080 -v test_dir/model:/opt/ml/model IMAGE serve`."""
    model = app.require_test_dir() / "model"
    model.mkdir(parents=True, exist_ok=True)
    return RunSpec(
        image=app.image,
        command=["serve"],
        app_name=app.app_name,
        kind="serve",
        mounts=[Mount(str(model.resolve()), f"{OPT_ML}/model")],
        environment={**base_environment(), **user_env},
        user=invoking_user(),
    )


def read_text_head(path: Path, limit: int = 4096) -> str:
    """The start of a failure/message file, or "" if there is none."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit).strip()
    except OSError:
        return ""


def package_model(test_dir: Path) -> Path:
    """`test_dir/output/model.tar.gz` from `test_dir/model`, laid out as SageMaker's
    `<S3OutputPath>/<job>/output/model.tar.gz` (the model folder's content at the root)."""
    model = test_dir / "model"
    target = test_dir / "output" / "model.tar.gz"
    tmp = target.with_name(".model.tar.gz.tmp")
    with tarfile.open(tmp, "w:gz") as archive:
        for path in sorted(model.rglob("*")):
            archive.add(path, arcname=path.relative_to(model).as_posix(), recursive=False)
    os.replace(tmp, target)
    return target
