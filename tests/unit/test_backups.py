"""Backups made by `init --force` and `update-scripts` never collide, even within one second."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm import scaffold
from easy_sm.__main__ import app

BASE = Path("demo/easy_sm_base")


@pytest.fixture
def same_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run in the test happens within the same second."""
    monkeypatch.setattr(scaffold, "timestamp", lambda: "20260101120000")


def test_update_scripts_twice_in_one_second_keeps_both_backups(
    isolated: Path, runner: CliRunner, same_second: None
) -> None:
    assert runner.invoke(app, ["init", "--app-name", "demo", "--yes"]).exit_code == 0
    executor = isolated / BASE / "executor.sh"
    for version in ("first", "second"):
        executor.write_text(f"#!/bin/sh\necho {version}\n")
        result = runner.invoke(app, ["update-scripts"])
        assert result.exit_code == 0, result.stderr

    backups = sorted(executor.parent.glob("executor.sh.bak-*"))
    contents = sorted(path.read_text() for path in backups)
    assert contents == ["#!/bin/sh\necho first\n", "#!/bin/sh\necho second\n"]


def test_init_force_twice_in_one_second_keeps_both_backups(
    isolated: Path, runner: CliRunner, same_second: None
) -> None:
    assert runner.invoke(app, ["init", "--app-name", "demo", "--yes"]).exit_code == 0
    for marker in ("first", "second"):
        (isolated / BASE / "training" / "training.py").write_text(f"# {marker}\n")
        result = runner.invoke(app, ["init", "--app-name", "demo", "--yes", "--force"])
        assert result.exit_code == 0, result.stderr
        assert "error" not in result.stderr

    bases = sorted((isolated / "demo").glob("easy_sm_base.bak-*"))
    markers = sorted((b / "training" / "training.py").read_text() for b in bases)
    assert markers == ["# first\n", "# second\n"]
    assert len(list(isolated.glob("demo.json.bak-*"))) == 2
