"""`easy_sm local tune` and `local train`'s metrics on the real Docker engine, with the example
app built once per session (see conftest.py), each test in its own copy of the project."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from easy_sm import search_space
from easy_sm.__main__ import app

pytestmark = pytest.mark.docker

TEST_DIR = Path("ex-app/easy_sm_base/local_test/test_dir")
RANGES = ["C=continuous:0.001:10:log", "solver=categorical:lbfgs,nosuch"]
SEED = 5  # draws solver=nosuch (a bad hyperparameter) for one trial of four, lbfgs for three


@pytest.fixture
def own_project(example_project: Path, example_image: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(example_project, tmp_path / "project"))


def logged(path: Path, metric: str) -> float:
    """The last value of `metric` the trial's own log printed."""
    values = re.findall(rf"metric {re.escape(metric)}=([0-9.]+)", path.read_text())
    return float(values[-1])


def test_local_train_prints_final_metrics_and_flags_a_metric_it_cannot_find(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(own_project)
    result = runner.invoke(
        app, ["local", "train", "--metric", "validation:accuracy", "--metric", "f1"]
    )
    assert result.exit_code == 0, result.stderr
    metadata = json.loads((own_project / TEST_DIR / "model" / "metadata.json").read_text())
    expected = round(metadata["validation_accuracy"], 4)
    assert f"validation:accuracy = {expected:g}" in result.stderr.splitlines()
    assert "warning: metric f1: no log line matched" in result.stderr
    assert "prints metric train:accuracy but no --metric defines it" in result.stderr
    assert result.stdout == f"{own_project / TEST_DIR / 'model'}\n"


def test_local_tune_runs_random_trials_ranks_them_and_reports_a_failing_trial(
    own_project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = list(search_space.trials(search_space.parse_ranges(RANGES), "Random", 4, SEED))
    assert [t["solver"] for t in planned].count("nosuch") == 1  # the premise of this test
    monkeypatch.chdir(own_project)
    args = ["local", "tune", "--objective", "validation:accuracy", "--max-jobs", "4"]
    for item in RANGES:
        args += ["--range", item]
    result = runner.invoke(
        app, [*args, "--seed", str(SEED), "--parallel", "2", "--hp", "max_iter=300"]
    )
    assert result.exit_code == 0, result.stderr
    tuning = own_project / TEST_DIR / "tuning"
    trials = sorted(p.name for p in tuning.iterdir())
    assert trials == ["trial-001", "trial-002", "trial-003", "trial-004"]

    board = result.stderr[result.stderr.index("rank  trial") :].splitlines()
    rows = [line.split() for line in board[1:]]
    assert len(rows) == 4
    # the failing trial: reported, ranked last, and the others ran on
    failed = [row for row in rows if row[2] == "Failed"]
    assert len(failed) == 1 and failed[0][0] == "-"
    bad = failed[0][1]
    assert planned[int(bad.split("-")[1]) - 1]["solver"] == "nosuch"
    assert "solver" in " ".join(failed[0]) and "exit code" in " ".join(failed[0])
    completed = [row for row in rows if row[2] == "Completed"]
    assert [row[0] for row in completed] == ["1", "2", "3"]
    # each trial trained with its own hyperparameters, in its own /opt/ml tree
    for index, values in enumerate(planned, start=1):
        folder = tuning / f"trial-{index:03d}"
        config = json.loads((folder / "input" / "config" / "hyperparameters.json").read_text())
        assert config == {"max_iter": "300", **values}
        assert (folder / "input" / "data" / "training" / "iris.csv").is_file()
    # the leaderboard's objectives are the trials' own logged metrics, best first
    for row in completed:
        assert float(row[3]) == pytest.approx(
            logged(tuning / row[1] / "train.log", "validation:accuracy")
        )
    values = [float(row[3]) for row in completed]
    assert values == sorted(values, reverse=True)
    best = completed[0][1]
    assert result.stdout == f"{tuning / best / 'model'}\n"
    assert (tuning / best / "model" / "model.joblib").is_file()
    assert not (tuning / bad / "model" / "model.joblib").exists()
