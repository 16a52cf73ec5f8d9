from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.commands import initialize

BASE = Path("demo/easy_sm_base")


def init(runner: CliRunner, *extra: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, ["init", "--app-name", "demo", "--python-version", "3.11", "--yes", *extra]
    )
    return result.exit_code, result.stdout, result.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_non_interactive_init_writes_config_template_and_requirements(
    isolated: Path, runner: CliRunner
) -> None:
    code, out, err = init(runner, "--aws-region", "us-west-2", "--aws-profile", "dev")
    assert code == 0, err
    assert out == "demo.json\n"
    assert json.loads((isolated / "demo.json").read_text()) == {
        "image_name": "demo",
        "aws_profile": "dev",
        "aws_region": "us-west-2",
        "python_version": "3.11",
        "easy_sm_module_dir": "demo",
        "requirements_dir": "requirements.txt",
        "docker_tag": "latest",
        "base_image": "",
    }
    for rel in (
        "Dockerfile",
        "executor.sh",
        "training/train",
        "training/training.py",
        "prediction/serve",
        "prediction/inference.py",
        "processing/process_data.py",
        "local_test/test_dir/input/data/training/iris.csv",
    ):
        assert (isolated / BASE / rel).is_file(), rel
    for rel in ("local_test/test_dir/model", "local_test/test_dir/output"):
        assert (isolated / BASE / rel).is_dir(), rel
    for script in ("executor.sh", "training/train", "prediction/serve"):
        assert mode(isolated / BASE / script) == 0o755, script
    for path in (isolated / "demo").rglob("*"):
        assert not mode(path) & stat.S_IWOTH, f"{path} is world-writable"
    assert "scikit-learn" in (isolated / "requirements.txt").read_text()
    assert "local_test/test_dir" in (isolated / ".dockerignore").read_text()


def test_existing_project_source_dir_and_existing_requirements_are_kept(
    isolated: Path, runner: CliRunner
) -> None:
    (isolated / "src").mkdir()
    (isolated / "src" / "mycode.py").write_text("x = 1\n")
    (isolated / "reqs").mkdir()
    (isolated / "reqs" / "prod.txt").write_text("pandas==2.2.0\n")
    code, _, err = init(runner, "--source-dir", "src", "--requirements", "reqs/prod.txt")
    assert code == 0, err
    config = json.loads((isolated / "demo.json").read_text())
    assert config["easy_sm_module_dir"] == "src"
    assert config["requirements_dir"] == "reqs/prod.txt"
    assert (isolated / "src" / "easy_sm_base" / "training" / "train").is_file()
    assert (isolated / "src" / "mycode.py").read_text() == "x = 1\n"
    assert (isolated / "reqs" / "prod.txt").read_text() == "pandas==2.2.0\n"


def test_init_never_overwrites_without_force(isolated: Path, runner: CliRunner) -> None:
    assert init(runner)[0] == 0
    user_code = isolated / BASE / "training" / "training.py"
    user_code.write_text("# my precious code\n")
    code, out, err = init(runner)
    assert code == 3
    assert out == ""
    assert "already exist" in err and "--force" in err
    assert user_code.read_text() == "# my precious code\n"


def test_init_force_replaces_and_keeps_a_backup(isolated: Path, runner: CliRunner) -> None:
    assert init(runner)[0] == 0
    (isolated / BASE / "training" / "training.py").write_text("# mine\n")
    code, _, err = init(runner, "--force")
    assert code == 0, err
    backups = list((isolated / "demo").glob("easy_sm_base.bak-*"))
    assert len(backups) == 1
    assert (backups[0] / "training" / "training.py").read_text() == "# mine\n"
    assert "def train(" in (isolated / BASE / "training" / "training.py").read_text()
    assert list(isolated.glob("demo.json.bak-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--app-name", "../../etc/passwd", "--yes"], "invalid app name '../../etc/passwd'"),
        (["--app-name", "ok", "--python-version", "3.9", "--yes"], "--python-version '3.9'"),
        (["--app-name", "ok", "--source-dir", "../out", "--yes"], "leaves the project folder"),
        (["--app-name", "ok", "--aws-region", "Mars", "--yes"], "is not an AWS region"),
    ],
)
def test_bad_init_answers_fail_cleanly_and_write_nothing(
    isolated: Path, runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["init", *args])
    assert result.exit_code in (2, 3)
    assert message in result.stderr
    assert list(isolated.iterdir()) == []


def test_init_without_terminal_and_without_flags_fails_instead_of_hanging(
    isolated: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "easy_sm", "init"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "no terminal to ask on" in done.stderr
    assert "--app-name" in done.stderr
    assert list(isolated.iterdir()) == []


def test_interactive_init_asks_every_question(
    isolated: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = Path.home() / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\nregion=eu-west-1\n[profile dev]\nregion=us-east-1\n")
    monkeypatch.setattr(initialize, "stdin_is_terminal", lambda: True)
    (isolated / "src").mkdir()
    answers = "\n".join(
        [
            "my-app",  # app name
            "n",  # not a new project
            "nosuchdir",  # a typo: the folder does not exist...
            "n",  # ...so do not create it: asked again
            "src",  # source dir (exists)
            "4",  # python 3.13
            "2",  # profile dev
            "eu-central-1",  # region
            "requirements/base.txt",  # requirements
        ]
    )
    result = runner.invoke(app, ["init"], input=answers + "\n")
    assert result.exit_code == 0, result.stderr
    config = json.loads((isolated / "my-app.json").read_text())
    assert config["python_version"] == "3.13"
    assert config["aws_profile"] == "dev"
    assert config["aws_region"] == "eu-central-1"
    assert config["easy_sm_module_dir"] == "src"
    assert config["requirements_dir"] == "requirements/base.txt"
    assert (isolated / "requirements" / "base.txt").is_file()
    assert "nosuchdir does not exist: create it?" in result.stderr
    assert not (isolated / "nosuchdir").exists()


def test_local_profiles_come_from_config_and_credentials(isolated: Path) -> None:
    aws = Path.home() / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[default]\n[profile dev]\n[sso-session x]\n")
    (aws / "credentials").write_text("[prod]\naws_access_key_id=x\n[dev]\n")
    assert initialize.local_aws_profiles() == ["default", "dev", "prod"]
