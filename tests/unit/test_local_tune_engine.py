"""The local tuning engine with a scripted container runner (the real engine is exercised in
tests/integration/test_local_tune.py): ranking, failures, missing objectives, parallelism."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from easy_sm import metrics
from easy_sm.__main__ import app
from easy_sm.docker import local_tune
from easy_sm.docker.local_mode import LocalApp
from easy_sm.search_space import Objective


def make_app(tmp_path: Path) -> LocalApp:
    test_dir = tmp_path / "test_dir"
    (test_dir / "input" / "data" / "training").mkdir(parents=True)
    (test_dir / "input" / "data" / "training" / "a.csv").write_text("1,2\n")
    return LocalApp("demo", "demo:latest", test_dir, tmp_path)


class ScriptedRunner:
    """Plays a container: prints `metric loss=<C>` unless C is 'bad' (exit 1) or 'quiet'."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, spec: Any, *, stdout: Any, stderr: Any) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            value = json.loads(spec.environment["SM_HPS"])["C"]
            if value == "bad":
                stderr(b"ValueError: C must be a number\n")
                return 1
            if value != "quiet":
                stdout(b"epoch 1\nmetric lo")
                stdout(f"ss={value}\n".encode())
            return 0
        finally:
            with self.lock:
                self.running -= 1


def tuning_of(app: LocalApp, parallel: int = 1, maximize: bool = False) -> local_tune.LocalTuning:
    return local_tune.LocalTuning(
        app=app,
        objective=Objective("loss", maximize),
        metrics=metrics.with_objective(metrics.parse(None), "loss"),
        static={"epochs": "2"},
        parallel=parallel,
    )


def test_trials_are_ranked_and_failures_reported_without_stopping_the_others(
    tmp_path: Path,
) -> None:
    local = make_app(tmp_path)
    tuning = tuning_of(local)
    trials = local_tune.plan(local, [{"C": "0.5"}, {"C": "bad"}, {"C": "quiet"}, {"C": "0.25"}])
    local_tune.run_trials(tuning, trials, ScriptedRunner())
    by_name = {t.name: t for t in trials}
    assert by_name["trial-001"].objective == 0.5
    assert by_name["trial-002"].status == "Failed"
    assert by_name["trial-002"].reason == "exit code 1"
    assert by_name["trial-003"].status == "NoObjective"
    assert [t.name for t in local_tune.ranked(trials, tuning.objective)] == [
        "trial-004",
        "trial-001",
        "trial-002",
        "trial-003",
    ]
    board = local_tune.leaderboard(trials, tuning.objective)
    assert board[1].split()[:4] == ["1", "trial-004", "Completed", "0.25"]
    assert board[3].split()[:3] == ["-", "trial-002", "Failed"]
    assert "ValueError: C must be a number" in (trials[1].log).read_text()
    config = trials[0].folder / "input" / "config" / "hyperparameters.json"
    assert json.loads(config.read_text()) == {"epochs": "2", "C": "0.5"}
    assert (trials[0].folder / "input" / "data" / "training" / "a.csv").read_text() == "1,2\n"


def test_parallel_trials_run_at_once_up_to_the_limit(tmp_path: Path) -> None:
    local = make_app(tmp_path)
    runner = ScriptedRunner(delay=0.2)
    trials = local_tune.plan(local, [{"C": str(i)} for i in range(4)])
    local_tune.run_trials(tuning_of(local, parallel=2), trials, runner)
    assert runner.most == 2
    assert all(t.status == "Completed" for t in trials)


def test_a_new_local_tune_replaces_the_trials_of_the_last_one(tmp_path: Path) -> None:
    local = make_app(tmp_path)
    old = local.test_dir / "tuning" / "trial-009"
    old.mkdir(parents=True)
    trials = local_tune.plan(local, [{"C": "1"}])
    assert not old.exists()
    assert [t.folder.name for t in trials] == ["trial-001"]


def test_local_tune_with_a_cloud_only_strategy_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        [
            "local",
            "tune",
            "--objective",
            "loss",
            "--range",
            "C=continuous:0.1:1",
            "--strategy",
            "Bayesian",
        ],
    )
    assert result.exit_code == 2
    assert "--strategy Bayesian runs only on SageMaker" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["--range", "C=continuous:1:0"], []])
def test_local_tune_checks_ranges_before_anything_runs(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, ["local", "tune", "--objective", "loss", *args])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ")


def test_local_tune_where_no_trial_reports_the_objective_exits_6(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from easy_sm.docker import containers

    assert runner.invoke(app, ["init", "--app-name", "demo", "--yes"]).exit_code == 0
    monkeypatch.setattr(containers, "run_foreground", ScriptedRunner())
    monkeypatch.setattr(containers, "check_can_run", lambda _image: None)
    result = runner.invoke(
        app,
        [
            "local",
            "tune",
            "--objective",
            "loss",
            "--range",
            "C=categorical:bad,quiet",
            "--strategy",
            "grid",
            "--no-build",
        ],
    )
    assert result.exit_code == 6, result.stderr
    assert result.stdout == ""
    assert "trial-001 Failed: exit code 1" in result.stderr
    assert "trial-002 NoObjective: no log line matched the loss metric" in result.stderr
    assert "error: no trial reported loss" in result.stderr
