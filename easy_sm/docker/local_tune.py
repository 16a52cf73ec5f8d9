"""`easy_sm local tune`: a tuning job on this machine.

Each trial is a real `local train` of the app's image with that trial's hyperparameters, in its
own `/opt/ml` tree `local_test/test_dir/tuning/<trial>/` (laid out by local_mode, the input data
hard-linked from `test_dir/input/data`, or copied across file systems). The objective is read
from the trial's log with the same metric definitions SageMaker would use. A trial that fails
or prints no objective is recorded as such; the others run on. `parallel` trials run at once.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from easy_sm.docker.containers import RunSpec, Sink
from easy_sm.docker.local_mode import LocalApp, read_text_head, training_spec
from easy_sm.errors import DockerError, InterruptedByUser
from easy_sm.metrics import Metric, MetricScanner
from easy_sm.search_space import Objective

TUNING_DIR = "tuning"
LOG_NAME = "train.log"

Runner = Callable[..., int]  # run_foreground(spec, stdout=, stderr=) -> exit code


@dataclass
class Trial:
    """One training run of a local tuning job, and how it went."""

    name: str
    hyperparameters: dict[str, str]  # the tuned ones
    folder: Path
    status: str = "Pending"  # Pending | Completed | Failed | NoObjective | Stopped
    objective: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    seconds: float = 0.0

    @property
    def model_dir(self) -> Path:
        return self.folder / "model"

    @property
    def log(self) -> Path:
        return self.folder / LOG_NAME


@dataclass
class LocalTuning:
    """A local tuning job: the app, what every trial shares, and how to rank trials."""

    app: LocalApp
    objective: Objective
    metrics: list[Metric]
    static: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    parallel: int = 1


def plan(app: LocalApp, candidates: Iterable[dict[str, str]]) -> list[Trial]:
    """A Trial per set of hyperparameters, in `test_dir/tuning/trial-NNN/`; the trials of an
    earlier local tune are removed first (they are outputs, like test_dir/model)."""
    root = app.require_test_dir() / TUNING_DIR
    if root.is_dir():
        for old in root.glob("trial-*"):
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
    return [
        Trial(f"trial-{index:03d}", dict(values), root / f"trial-{index:03d}")
        for index, values in enumerate(candidates, start=1)
    ]


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def prepare_folder(app: LocalApp, trial: Trial) -> LocalApp:
    """The trial's own /opt/ml tree, with the app's input data; the app as seen by the trial."""
    data = app.test_dir / "input" / "data"
    trial.folder.mkdir(parents=True, exist_ok=True)
    if data.is_dir():
        shutil.copytree(
            data, trial.folder / "input" / "data", copy_function=_link_or_copy, dirs_exist_ok=True
        )
    return dataclasses.replace(app, test_dir=trial.folder)


def _tee(log: IO[bytes], scanner: MetricScanner, stream: int, lock: threading.Lock) -> Sink:
    def write(chunk: bytes) -> None:
        with lock:
            log.write(chunk)
        scanner.feed(chunk, stream)

    return write


def run_trial(
    tuning: LocalTuning,
    trial: Trial,
    run: Runner,
    started: Callable[[RunSpec], None] = lambda _spec: None,
) -> Trial:
    """Train once with the trial's hyperparameters; record its status, metrics and objective."""
    clock = time.monotonic()
    trial_app = prepare_folder(tuning.app, trial)
    values = {**tuning.static, **trial.hyperparameters}
    spec, failure = training_spec(trial_app, values, tuning.environment)
    spec.labels["easy_sm.trial"] = trial.name
    scanner = MetricScanner(tuning.metrics)
    lock = threading.Lock()
    started(spec)
    with open(trial.log, "wb") as log:
        code = run(
            spec,
            stdout=_tee(log, scanner, 1, lock),
            stderr=_tee(log, scanner, 2, lock),
        )
    trial.metrics = dict(scanner.finish())
    trial.objective = trial.metrics.get(tuning.objective.metric)
    trial.seconds = time.monotonic() - clock
    if code != 0:
        trial.status = "Failed"
        detail = read_text_head(failure).splitlines()
        trial.reason = f"exit code {code}" + (f": {detail[0]}" if detail else "")
    elif trial.objective is None:
        trial.status = "NoObjective"
        trial.reason = f"no log line matched the {tuning.objective.metric} metric"
    else:
        trial.status = "Completed"
    return trial


def ranked(trials: list[Trial], objective: Objective) -> list[Trial]:
    """Trials with an objective, best first; then the others, in trial order."""
    scored = [t for t in trials if t.status == "Completed" and t.objective is not None]
    scored.sort(key=lambda t: t.objective or 0.0, reverse=objective.maximize)
    return scored + [t for t in trials if t not in scored]


def leaderboard(trials: list[Trial], objective: Objective) -> list[str]:
    """The leaderboard lines (for stderr): rank, trial, status, objective, hyperparameters."""
    lines = [f"{'rank':>4}  {'trial':<9}  {'status':<11}  {objective.metric:>12}  hyperparameters"]
    for rank, trial in enumerate(ranked(trials, objective), start=1):
        value = "-" if trial.objective is None else f"{trial.objective:g}"
        values = " ".join(f"{k}={v}" for k, v in trial.hyperparameters.items())
        position = str(rank) if trial.status == "Completed" else "-"
        line = f"{position:>4}  {trial.name:<9}  {trial.status:<11}  {value:>12}  {values}"
        if trial.reason:
            line += f"  ({trial.reason})"
        lines.append(line)
    return lines


def _stop(names: Iterable[str]) -> None:
    """Stop the named containers (their runs then end and remove them)."""
    from easy_sm.docker.containers import STOP_GRACE_SECONDS
    from easy_sm.docker.engine import connect, docker_errors
    from easy_sm.docker.engine_api import EngineApi, unix_socket_path

    socket_path = unix_socket_path()
    for name in names:
        try:
            if socket_path is not None:
                EngineApi(socket_path).stop(name, STOP_GRACE_SECONDS)
                continue
            with docker_errors(f"stopping {name}"):
                connect().containers.get(name).stop(timeout=STOP_GRACE_SECONDS)
        except DockerError:  # it may have ended (and been removed) meanwhile
            continue


def run_trials(
    tuning: LocalTuning,
    trials: list[Trial],
    run: Runner,
    on_start: Callable[[Trial, RunSpec], None] = lambda _t, _s: None,
    on_done: Callable[[Trial], None] = lambda _t: None,
) -> list[Trial]:
    """Run every trial, `tuning.parallel` at once. Ctrl-C stops the running containers and
    raises InterruptedByUser; a failing trial never stops the others."""
    running: dict[str, str] = {}  # trial -> container name
    cancelled = threading.Event()

    def one(trial: Trial) -> Trial:
        if cancelled.is_set():
            trial.status = "Stopped"
            return trial

        def started(spec: RunSpec) -> None:
            running[trial.name] = spec.name
            on_start(trial, spec)

        try:
            return run_trial(tuning, trial, run, started)
        finally:
            running.pop(trial.name, None)

    with ThreadPoolExecutor(max_workers=max(1, tuning.parallel)) as pool:
        pending: set[Future[Trial]] = {pool.submit(one, trial) for trial in trials}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_done(future.result())
        except KeyboardInterrupt:
            cancelled.set()
            _stop(list(running.values()))
            raise InterruptedByUser(
                "interrupted: stopped the running trials",
                f"their folders stay in {tuning.app.test_dir / TUNING_DIR}",
            ) from None
    return trials
