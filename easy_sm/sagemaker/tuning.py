"""Hyperparameter tuning jobs: the CreateHyperParameterTuningJob request (built from the same
TrainingSpec as `train`), waiting with a live table of its training jobs, the best job, listing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from easy_sm import console
from easy_sm.errors import InterruptedByUser, JobFailedError, UsageError
from easy_sm.sagemaker import waiting
from easy_sm.sagemaker.jobs import list_newest
from easy_sm.sagemaker.names import BASE_RE, timestamp
from easy_sm.sagemaker.session import aws_errors
from easy_sm.sagemaker.training import TrainingSpec, training_job_request
from easy_sm.search_space import (
    Objective,
    ParameterRange,
    api_ranges,
    check_static,
    grid_size,
)

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

MAX_TUNING_NAME = 32  # SageMaker's limit for tuning job names
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
DEFAULT_MAX_JOBS = 10
MAX_TUNING_METRICS = 20  # metric definitions per tuning job
MAX_GRID = 750  # training jobs of a Grid tuning job


@dataclass
class TuningSpec:
    """A tuning job: the training job every trial runs (with its static hyperparameters and
    metric definitions), the ranges searched, the objective and the limits."""

    training: TrainingSpec
    ranges: list[ParameterRange]
    objective: Objective
    strategy: str = "Bayesian"
    max_jobs: int | None = None
    max_parallel: int = 1
    early_stopping: bool = False


def tuning_job_name(base: str) -> str:
    """`{base}-{YYYYmmdd-HHMMSS}-{4 hex}` cut to SageMaker's 32 characters for tuning jobs."""
    if not BASE_RE.fullmatch(base):
        raise UsageError(
            f"-n/--base-job-name {base!r} is not a valid SageMaker name",
            "use letters, digits and '-', start and end with a letter or digit",
        )
    suffix = f"{timestamp()}-{secrets.token_hex(2)}"
    room = MAX_TUNING_NAME - len(suffix) - 1
    return f"{base[:room].rstrip('-')}-{suffix}"


def tuning_job_request(spec: TuningSpec, name: str) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request for `spec` (validated)."""
    check_static(spec.ranges, spec.training.hyperparameters)
    names = {m.name for m in spec.training.metrics}
    if spec.objective.metric not in names:
        raise UsageError(
            f"--objective {spec.objective.metric} has no metric definition",
            f"add --metric {spec.objective.metric}",
        )
    if spec.strategy == "Hyperband" and spec.early_stopping:
        raise UsageError(
            "--early-stopping does not combine with --strategy Hyperband",
            "Hyperband stops poor training jobs itself: drop --early-stopping",
        )
    if len(spec.training.metrics) > MAX_TUNING_METRICS:
        raise UsageError(
            f"{len(spec.training.metrics)} metric definitions given",
            f"a tuning job takes {MAX_TUNING_METRICS}: pass fewer --metric",
        )
    if spec.strategy == "Grid" and spec.max_jobs is None and grid_size(spec.ranges) > MAX_GRID:
        raise UsageError(
            f"--strategy Grid over {grid_size(spec.ranges)} combinations",
            f"SageMaker runs at most {MAX_GRID}: give fewer values, or --max-jobs",
        )
    training = training_job_request(spec.training, name)
    definition: dict[str, Any] = {
        "StaticHyperParameters": training["HyperParameters"],
        **{
            key: value
            for key, value in training.items()
            if key not in ("TrainingJobName", "HyperParameters", "Tags")
        },
    }
    limits: dict[str, int] = {"MaxParallelTrainingJobs": spec.max_parallel}
    if spec.strategy != "Grid" or spec.max_jobs is not None:  # Grid: inferred from the ranges
        limits["MaxNumberOfTrainingJobs"] = spec.max_jobs or DEFAULT_MAX_JOBS
        if limits["MaxParallelTrainingJobs"] > limits["MaxNumberOfTrainingJobs"]:
            raise UsageError(
                f"--max-parallel {spec.max_parallel} is above --max-jobs "
                f"{limits['MaxNumberOfTrainingJobs']}",
                "lower --max-parallel or raise --max-jobs",
            )
    config: dict[str, Any] = {
        "Strategy": spec.strategy,
        "HyperParameterTuningJobObjective": spec.objective.as_api(),
        "ResourceLimits": limits,
        "ParameterRanges": api_ranges(spec.ranges),
        "TrainingJobEarlyStoppingType": "Auto" if spec.early_stopping else "Off",
    }
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }
    if "Tags" in training:  # the tuning job's tags; SageMaker tags its training jobs alike
        request["Tags"] = training["Tags"]
    return request


def start_tuning_job(sm: SageMakerClient, spec: TuningSpec) -> str:
    """Create the tuning job under a fresh name; return the name."""
    name = tuning_job_name(spec.training.base_job_name)
    request = tuning_job_request(spec, name)
    with aws_errors("sagemaker:CreateHyperParameterTuningJob"):
        sm.create_hyper_parameter_tuning_job(**request)
    return name


def describe_tuning_job(sm: SageMakerClient, name: str) -> dict[str, Any]:
    with aws_errors("sagemaker:DescribeHyperParameterTuningJob"):
        answer: dict[str, Any] = dict(
            sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        )
    return answer


def training_jobs_of(sm: SageMakerClient, name: str) -> list[dict[str, Any]]:
    """The tuning job's training jobs (summaries), oldest first."""
    with aws_errors("sagemaker:ListTrainingJobsForHyperParameterTuningJob"):
        pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=name
        )
        found = [dict(s) for page in pages for s in page.get("TrainingJobSummaries", [])]
    found.sort(key=lambda s: str(s.get("CreationTime", "")))
    return found


def objective_value(summary: dict[str, Any]) -> float | None:
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    value = metric.get("Value")
    return float(value) if value is not None else None


def table_row(summary: dict[str, Any]) -> str:
    value = objective_value(summary)
    return (
        f"{summary.get('TrainingJobName', '?')}  {summary.get('TrainingJobStatus', '?')}  "
        f"{'-' if value is None else f'{value:g}'}"
    )


def counts(described: dict[str, Any]) -> str:
    counters = described.get("TrainingJobStatusCounters") or {}
    shown = [f"{count} {status}" for status, count in counters.items() if count]
    return ", ".join(shown) or "no training jobs yet"


def _check_outcome(name: str, described: dict[str, Any], objective: str) -> str:
    """The best training job of a finished tuning job, or JobFailedError saying why not."""
    status = described.get("HyperParameterTuningJobStatus")
    reason = described.get("FailureReason") or ""
    if status == "Failed":
        raise JobFailedError(
            f"tuning job {name} failed: {reason or 'no reason given'}",
            "see its training jobs' logs: easy_sm logs -j TRAINING_JOB",
        )
    best = (described.get("BestTrainingJob") or {}).get("TrainingJobName")
    if not best:
        raise JobFailedError(
            f"tuning job {name} {str(status).lower()} without a best training job "
            f"({counts(described)})",
            f"check that the training log prints {objective} as its --metric regex expects "
            "(try `easy_sm local train`)",
        )
    if status == "Stopped":
        console.warn(f"tuning job {name} was stopped; best training job so far: {best}")
    return str(best)


class TuningTable:
    """The live table of a tuning job's training jobs on stderr (job, status, objective): a
    redrawn table on a terminal, a line per change otherwise."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self._live: Any = None
        if console.show_progress():
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(stderr=True), auto_refresh=False, transient=False)
            self._live.start()

    @property
    def live(self) -> bool:
        return self._live is not None

    def update(self, summaries: list[dict[str, Any]], header: str) -> None:
        changed = False
        for summary in summaries:
            job = str(summary.get("TrainingJobName"))
            row = table_row(summary)
            if self.rows.get(job) != row:
                self.rows[job] = row
                changed = True
                if self._live is None:
                    console.info(f"  {row}")
        if self._live is not None and changed:
            from rich.table import Table

            table = Table(title=header, title_justify="left")
            for column in ("training job", "status", "objective"):
                table.add_column(column)
            for row in self.rows.values():
                table.add_row(*row.split("  "))
            self._live.update(table, refresh=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()


def wait_for_tuning_job(
    sm: SageMakerClient, name: str, objective: str, *, timeout: float | None = None
) -> str:
    """Poll the tuning job to its end, showing its training jobs; return the best one's name.
    Raises JobFailedError when it failed or found no best job."""
    import time

    started = time.monotonic()
    last_status = ""
    table = TuningTable()
    try:
        while True:
            described = describe_tuning_job(sm, name)
            status = str(described.get("HyperParameterTuningJobStatus"))
            line = f"tuning job {name}: {status} ({counts(described)})"
            if line != last_status and not table.live:  # live: the line is the table's title
                console.info(line)
            last_status = line
            table.update(training_jobs_of(sm, name), line)
            if status in TERMINAL:
                break
            if timeout is not None and time.monotonic() - started >= timeout:
                raise JobFailedError(f"timed out waiting for tuning job {name} (still {status})")
            waiting.sleep(waiting.poll_seconds())
    except KeyboardInterrupt:
        raise InterruptedByUser(
            f"stopped waiting for tuning job {name}; it keeps running on SageMaker",
            f"stop it with: aws sagemaker stop-hyper-parameter-tuning-job "
            f"--hyper-parameter-tuning-job-name {name}",
        ) from None
    finally:
        table.close()
    return _check_outcome(name, described, objective)


def list_tuning_jobs(sm: SageMakerClient, max_results: int) -> list[dict[str, Any]]:
    """The `max_results` most recent tuning jobs, newest first."""
    return list_newest(
        sm,
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        max_results,
    )
