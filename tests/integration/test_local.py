"""`easy_sm local train|process|run|deploy|stop` on the real Docker engine, with the example
app built once per session (see conftest.py). Tests work in their own copy of the example
project (the image is shared through the session's tag)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from easy_sm.__main__ import app
from tests.conftest import free_port
from tests.integration.conftest import SESSION_ID, run_cli

pytestmark = pytest.mark.docker

TEST_DIR = Path("ex-app/easy_sm_base/local_test/test_dir")


def copy_project(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="module")
def trained_project(
    example_project: Path, example_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of the example project in which `local train` has run once."""
    project = copy_project(example_project, tmp_path_factory.mktemp("trained") / "project")
    code, _out, err = run_cli(["local", "train"], project)
    assert code == 0, err
    return project


@pytest.fixture
def own_project(example_project: Path, example_image: str, tmp_path: Path) -> Path:
    return copy_project(example_project, tmp_path / "project")


def app_containers(client: object, kind: str | None = None) -> list[object]:
    """This session's containers of the example app (other test sessions may run their own
    ex-app containers on the same engine at the same time)."""
    labels = ["easy_sm.app=ex-app"]
    if kind:
        labels.append(f"easy_sm.kind={kind}")
    filters = {"label": labels, "ancestor": f"ex-app:pytest-{SESSION_ID}"}
    found = client.containers.list(all=True, filters=filters, ignore_removed=True)  # type: ignore[attr-defined]
    return list(found)


# --- train -------------------------------------------------------------------------------


def test_local_train_writes_the_model_with_the_given_hyperparameters(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    # outside the project: a file in the build context would make the image stale
    hps_file = own_project.parent / "hps.json"
    hps_file.write_text(json.dumps({"max_iter": 150, "C": 9}))
    result = runner.invoke(
        app,
        ["local", "train", "--hyperparameters-file", str(hps_file), "--hyperparameters", "C=0.5"],
    )
    assert result.exit_code == 0, result.stderr
    test_dir = own_project / TEST_DIR
    assert result.stdout == f"{test_dir / 'model'}\n"
    assert (test_dir / "model" / "model.joblib").is_file()
    metadata = json.loads((test_dir / "model" / "metadata.json").read_text())
    assert metadata["hyperparameters"] == {"max_iter": "150", "C": "0.5"}
    assert "trained on 120 rows (30 held out for validation), C=0.5, max_iter=150" in result.stderr
    config = test_dir / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {
        "max_iter": "150",
        "C": "0.5",
    }
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "training": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
    }
    assert json.loads((config / "resourceconfig.json").read_text())["current_host"] == "algo-1"
    for path in (test_dir / "model").iterdir():
        assert path.stat().st_uid == os.getuid()


def test_local_train_package_model_writes_model_tar_gz(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(app, ["-q", "local", "train", "--package-model"])
    assert result.exit_code == 0, result.stderr
    tarball = own_project / TEST_DIR / "output" / "model.tar.gz"
    assert result.stdout == f"{tarball}\n"
    assert result.stderr == ""
    with tarfile.open(tarball) as archive:
        assert "model.joblib" in archive.getnames()


def test_local_train_sets_the_sagemaker_environment(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Observed from inside the training container: a sitecustomize (on PYTHONPATH through
    --env) dumps the environment `train` starts with."""
    monkeypatch.chdir(own_project)
    hook = own_project / TEST_DIR / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import json, os\n"
        "with open('/opt/ml/output/env.json', 'w') as f:\n"
        "    json.dump(dict(os.environ), f)\n"
    )
    result = runner.invoke(
        app,
        ["-q", "local", "train", "--hp", "C=2", "--env", "PYTHONPATH=/opt/ml/hook"],
    )
    assert result.exit_code == 0, result.stderr
    env = json.loads((own_project / TEST_DIR / "output" / "env.json").read_text())
    assert env["TRAINING_JOB_NAME"].startswith("ex-app-local-")
    assert env["TRAINING_JOB_ARN"].endswith(f"training-job/{env['TRAINING_JOB_NAME']}")
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert json.loads(env["SM_CHANNELS"]) == ["training"]
    assert env["SM_CHANNEL_TRAINING"] == "/opt/ml/input/data/training"
    assert json.loads(env["SM_HPS"]) == {"C": 2}
    assert env["SM_HP_C"] == "2"
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert env["SM_NUM_GPUS"] == "0"
    assert env["SM_OUTPUT_DATA_DIR"] == "/opt/ml/output/data"


def test_failing_training_exits_non_zero_and_shows_the_failure_file(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    data = own_project / TEST_DIR / "input" / "data" / "training"
    (data / "iris.csv").rename(own_project / "iris.csv")
    result = runner.invoke(app, ["local", "train"])
    assert result.exit_code == 255
    assert result.stdout == ""
    failure = own_project / TEST_DIR / "output" / "failure"
    assert failure.is_file()
    # the container's output once (live), then one error line pointing at the full text
    assert result.stderr.count("Traceback (most recent call last)") == 1
    assert result.stderr.splitlines()[-1] == (
        "error: local training failed (exit 255): ValueError: no .csv files in "
        f"/opt/ml/input/data/training — full text in {failure}; fix it, then run "
        "`easy_sm local train` again"
    )

    # the next, successful run clears the stale failure file
    (own_project / "iris.csv").rename(data / "iris.csv")
    result = runner.invoke(app, ["-q", "local", "train"])
    assert result.exit_code == 0, result.stderr
    assert not failure.exists()


# --- process / run ---------------------------------------------------------------------


def test_local_process_writes_outputs_under_processing_output(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(app, ["local", "process", "-f", "process_data.py"])
    assert result.exit_code == 0, result.stderr
    output = own_project / TEST_DIR / "processing" / "output"
    assert result.stdout == f"{output}\n"
    summary = json.loads((output / "summary.json").read_text())
    assert summary == {
        "files": 1,
        "rows": 150,
        "labels": {"setosa": 50, "versicolor": 50, "virginica": 50},
    }
    config = json.loads(
        (own_project / TEST_DIR / "config" / "processingjobconfig.json").read_text()
    )
    assert config["AppSpecification"]["ContainerEntrypoint"][-2:] == ["process", "process_data.py"]


def test_local_process_rejects_a_script_outside_the_processing_folder(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(app, ["local", "process", "-f", "../training/train"])
    assert result.exit_code == 2
    assert "outside easy_sm_base/processing/" in result.stderr


def test_local_run_propagates_the_exit_code_and_passes_arguments_untouched(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(
        app, ["local", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]
    )
    assert result.exit_code == 3
    assert result.stdout == "out\n"
    assert "err\n" in result.stderr
    assert "command exited with code 3" in result.stderr

    result = runner.invoke(
        app,
        [
            "local",
            "run",
            "--env",
            "GREETING=a b=c",
            "--",
            "sh",
            "-c",
            'printf "%s|" "$GREETING" "$(id -u)" "$HOME" "$AWS_REGION" "$@"; ls /opt/ml',
            "sh",
            "-e",
            "--flag",
            "prod",
        ],
    )
    assert result.exit_code == 0, result.stderr
    fields = result.stdout.split("|")
    assert fields[:7] == ["a b=c", str(os.getuid()), "/tmp", "eu-west-1", "-e", "--flag", "prod"]
    assert "input" in fields[7] and "model" in fields[7]


def test_local_run_through_the_docker_sdk_behaves_the_same(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engines behind DOCKER_HOST=tcp:// or ssh:// are driven through the Docker SDK instead
    of the unix-socket client: same output streams, exit code and clean-up."""
    from easy_sm.docker import engine_api

    monkeypatch.setattr(engine_api, "unix_socket_path", lambda: None)
    monkeypatch.chdir(own_project)
    result = runner.invoke(
        app, ["local", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 4"]
    )
    assert result.exit_code == 4
    assert result.stdout == "out\n"
    assert "err\n" in result.stderr
    left = subprocess.run(
        [
            "docker",
            "ps",
            "-aq",
            "--filter",
            "label=easy_sm.app=ex-app",
            "--filter",
            "label=easy_sm.kind=run",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert left.strip() == ""


def test_local_run_mounts_aws_config_read_only(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    aws = Path.home() / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nregion = eu-west-1\n")
    result = runner.invoke(
        app,
        [
            "local",
            "run",
            "--",
            "sh",
            "-c",
            'cat "$AWS_CONFIG_FILE"; touch /tmp/.aws/x 2>/dev/null && echo writable || echo ro',
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "region = eu-west-1" in result.stdout
    assert result.stdout.strip().endswith("ro")


def test_ctrl_c_during_local_run_stops_and_removes_the_container(
    own_project: Path, docker_client: object
) -> None:
    marker = f"ctrlc-{os.getpid()}-{time.time_ns()}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "easy_sm",
            "local",
            "run",
            "--env",
            f"MARKER={marker}",
            "--",
            "sleep",
            "60",
        ],
        cwd=own_project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        container = None
        deadline = time.monotonic() + 30
        while container is None and time.monotonic() < deadline:
            for candidate in app_containers(docker_client, "run"):
                env = candidate.attrs["Config"]["Env"]  # type: ignore[attr-defined]
                if f"MARKER={marker}" in env and candidate.status == "running":  # type: ignore[attr-defined]
                    container = candidate
            time.sleep(0.2)
        assert container is not None, "the container never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "stopped and removed container" in err
    import docker.errors

    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(container.id)  # type: ignore[attr-defined]


# --- deploy / stop ---------------------------------------------------------------------


@pytest.fixture
def stop_after(trained_project: Path) -> Iterator[Path]:
    try:
        yield trained_project
    finally:
        run_cli(["local", "stop"], trained_project)


def test_local_deploy_serves_predictions_and_stop_removes_it(
    stop_after: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, docker_client: object
) -> None:
    monkeypatch.chdir(stop_after)
    port = free_port()
    result = runner.invoke(app, ["local", "deploy", "-p", str(port), "--timeout", "120"])
    assert result.exit_code == 0, result.stderr
    url = f"http://127.0.0.1:{port}"
    assert result.stdout == f"{url}\n"
    assert requests.get(f"{url}/ping", timeout=5).status_code == 200
    answer = requests.post(
        f"{url}/invocations",
        data="5.1,3.5,1.4,0.2\n6.2,3.4,5.4,2.3\n",
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.text.split() == ["setosa", "virginica"]
    (container,) = app_containers(docker_client, "serve")
    assert container.labels["easy_sm.port"] == str(port)  # type: ignore[attr-defined]

    result = runner.invoke(app, ["local", "stop", "-p", str(port)])
    assert result.exit_code == 0, result.stderr
    assert f"stopped {url}" in result.stderr
    assert app_containers(docker_client, "serve") == []

    result = runner.invoke(app, ["local", "stop"])
    assert result.exit_code == 0
    assert "no local deployment of ex-app is running" in result.stderr


def test_local_deploy_on_a_taken_port_is_a_clear_error(
    stop_after: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, docker_client: object
) -> None:
    import socket

    monkeypatch.chdir(stop_after)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["local", "deploy", "-p", str(port)])
    assert result.exit_code == 2
    # no status line promised a run that never started: the error is the only line
    assert result.stderr.startswith(f"error: port {port} on 127.0.0.1 is already in use")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""
    assert app_containers(docker_client, "serve") == []


def test_local_deploy_of_a_crashing_server_shows_its_log_and_cleans_up(
    stop_after: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, docker_client: object
) -> None:
    monkeypatch.chdir(stop_after)
    result = runner.invoke(
        app,
        [
            "local",
            "deploy",
            "-p",
            str(free_port()),
            "--timeout",
            "60",
            "--env",
            "SAGEMAKER_MODEL_SERVER_WORKERS=not-a-number",
        ],
    )
    assert result.exit_code == 6
    assert "the serving container exited" in result.stderr
    assert "last lines of the container's log" in result.stderr
    assert app_containers(docker_client, "serve") == []


# --- errors ----------------------------------------------------------------------------


def test_local_train_no_build_without_a_built_image_says_to_build(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(app, ["--docker-tag", "never-built", "local", "train", "--no-build"])
    assert result.exit_code == 5
    assert "image ex-app:never-built not found" in result.stderr
    assert "easy_sm build" in result.stderr


def test_bad_env_is_a_usage_error(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(app, ["local", "train", "--env", "1X=2"])
    assert result.exit_code == 2
    assert "--env '1X=2': '1X' is not a valid variable name" in result.stderr
    result = runner.invoke(app, ["local", "run", "--env", "NOVALUE", "--", "true"])
    assert result.exit_code == 2
    assert "--env 'NOVALUE': expected KEY=VALUE" in result.stderr
