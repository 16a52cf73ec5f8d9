from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from easy_sm.__main__ import app
from easy_sm.scaffold import MANAGED_FILES

BASE = Path("demo/easy_sm_base")


def setup_project(runner: CliRunner) -> None:
    result = runner.invoke(app, ["init", "--app-name", "demo", "--yes"])
    assert result.exit_code == 0, result.stderr


def test_fresh_project_reports_every_managed_file_unchanged(
    isolated: Path, runner: CliRunner
) -> None:
    setup_project(runner)
    result = runner.invoke(app, ["update-scripts"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"unchanged\t{BASE / rel}" for rel in MANAGED_FILES]


def test_changed_scripts_are_backed_up_and_replaced_user_code_untouched(
    isolated: Path, runner: CliRunner
) -> None:
    setup_project(runner)
    executor = isolated / BASE / "executor.sh"
    original = executor.read_text()
    executor.write_text("#!/bin/sh\necho hacked\n")
    os.chmod(executor, 0o644)
    training = isolated / BASE / "training" / "training.py"
    training.write_text("# my model\n")
    (isolated / BASE / "training" / "train").unlink()

    result = runner.invoke(app, ["update-scripts"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"updated\t{BASE / 'executor.sh'}" in lines
    assert f"added\t{BASE / 'training/train'}" in lines
    assert executor.read_text() == original
    assert stat.S_IMODE(executor.stat().st_mode) == 0o755
    assert stat.S_IMODE((isolated / BASE / "training" / "train").stat().st_mode) == 0o755
    backups = list((isolated / BASE).glob("executor.sh.bak-*"))
    assert len(backups) == 1 and backups[0].read_text() == "#!/bin/sh\necho hacked\n"
    assert "backed up as executor.sh.bak-" in result.stderr
    assert training.read_text() == "# my model\n"


def test_update_scripts_restores_lost_run_bits(isolated: Path, runner: CliRunner) -> None:
    setup_project(runner)
    serve = isolated / BASE / "prediction" / "serve"
    os.chmod(serve, 0o644)
    result = runner.invoke(app, ["update-scripts"])
    assert result.exit_code == 0
    assert stat.S_IMODE(serve.stat().st_mode) == 0o755
    assert not list((isolated / BASE / "prediction").glob("*.bak-*"))


def test_update_scripts_without_base_dir_is_a_config_error(
    isolated: Path, runner: CliRunner
) -> None:
    setup_project(runner)
    import shutil

    shutil.rmtree(isolated / "demo")
    result = runner.invoke(app, ["update-scripts", "-a", "demo"])
    assert result.exit_code == 3
    assert "easy_sm_base not found" in result.stderr
