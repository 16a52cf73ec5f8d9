"""What training, processing and transform jobs have in common: describing, waiting (with their
CloudWatch logs streamed) and turning Failed / Stopped into a JobFailedError."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm import console
from easy_sm.errors import AwsError, JobFailedError
from easy_sm.sagemaker.logs import LogTailer
from easy_sm.sagemaker.session import aws_errors, translate_client_error
from easy_sm.sagemaker.waiting import wait_until

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sagemaker import SageMakerClient


@dataclass(frozen=True)
class JobKind:
    name: str  # "training" | "processing" | "transform"
    api: str  # "TrainingJob"
    status_key: str
    secondary_key: str | None = None

    @property
    def describe_method(self) -> str:
        return "describe_" + self.api.replace("Job", "_job").lower()

    @property
    def name_param(self) -> str:
        return f"{self.api}Name"


TRAINING = JobKind("training", "TrainingJob", "TrainingJobStatus", "SecondaryStatus")
PROCESSING = JobKind("processing", "ProcessingJob", "ProcessingJobStatus")
TRANSFORM = JobKind("transform", "TransformJob", "TransformJobStatus")
KINDS = (TRAINING, PROCESSING, TRANSFORM)
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


def describe_job(sm: SageMakerClient, kind: JobKind, name: str) -> dict[str, Any]:
    with aws_errors(f"sagemaker:Describe{kind.api}"):
        answer: dict[str, Any] = getattr(sm, kind.describe_method)(**{kind.name_param: name})
    return answer


def _missing(exc: botocore.exceptions.ClientError) -> bool:
    error = exc.response.get("Error", {})
    text = str(error.get("Message", "")).lower()
    return error.get("Code") in ("ValidationException", "ResourceNotFound") and (
        "could not find" in text or "not found" in text or "does not exist" in text
    )


def find_job(sm: SageMakerClient, name: str) -> tuple[JobKind, dict[str, Any]]:
    """Which kind of job `name` is (training, processing or transform), and its description."""
    for kind in KINDS:
        try:
            answer: dict[str, Any] = getattr(sm, kind.describe_method)(**{kind.name_param: name})
        except botocore.exceptions.ClientError as exc:
            if _missing(exc):
                continue
            raise translate_client_error(exc, f"sagemaker:Describe{kind.api}") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise translate_client_error(exc, f"sagemaker:Describe{kind.api}") from exc
        return kind, answer
    raise AwsError(
        f"no training, processing or transform job named {name!r}",
        "check the name (easy_sm list-training-jobs) and the region / profile you are using",
    )


def status_line(kind: JobKind, described: dict[str, Any]) -> str:
    status = str(described.get(kind.status_key, "Unknown"))
    secondary = described.get(kind.secondary_key) if kind.secondary_key else None
    if secondary and secondary != status:
        return f"{status} ({secondary})"
    return status


def raise_if_unsuccessful(kind: JobKind, name: str, described: dict[str, Any]) -> None:
    """JobFailedError with the job's FailureReason when it ended Failed or Stopped."""
    status = described.get(kind.status_key)
    if status == "Completed":
        return
    reason = described.get("FailureReason") or described.get("ExitMessage") or ""
    if status == "Stopped":
        raise JobFailedError(
            f"{kind.name} job {name} was stopped" + (f": {reason}" if reason else ""),
            f"see its logs: easy_sm logs -j {name}",
        )
    raise JobFailedError(
        f"{kind.name} job {name} {str(status).lower()}: {reason or 'no reason given'}",
        f"see its logs: easy_sm logs -j {name}",
    )


def wait_for_job(
    sm: SageMakerClient,
    logs: CloudWatchLogsClient | None,
    kind: JobKind,
    name: str,
    *,
    sink: Callable[[str], None] = console.info,
    timeout: float | None = None,
    stop_hint: str | None = None,
    on_end: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll the job to Completed / Failed / Stopped, printing each status change to stderr and,
    when `logs` is given, its CloudWatch log lines through `sink`. `on_end` sees the final
    description (cost line, failure summary). Raises JobFailedError unless it completed."""
    tailer = LogTailer(logs, kind.name, name, sink) if logs is not None else None
    described = wait_until(
        lambda: describe_job(sm, kind, name),
        lambda d: status_line(kind, d),
        lambda d: d.get(kind.status_key) in TERMINAL,
        what=f"{kind.name} job {name}",
        timeout=timeout,
        on_poll=(lambda _d: tailer.poll()) if tailer is not None else None,
        interrupted_hint=stop_hint,
        look_hint=f"check your network, then look at it: easy_sm logs -j {name}",
    )
    if on_end is not None:
        on_end(described)
    raise_if_unsuccessful(kind, name, described)
    return described


def list_newest(
    sm: SageMakerClient, operation: str, summaries_key: str, max_results: int
) -> list[dict[str, Any]]:
    """The `max_results` most recent summaries of a `list_*` operation, newest first, read
    through boto3's paginator (sorted here too: not every implementation honours SortOrder)."""
    from easy_sm.errors import UsageError

    if max_results < 1:
        raise UsageError("-m/--max-results must be at least 1", "give a number of 1 or more")
    paginator: Any = sm.get_paginator(operation)  # type: ignore[call-overload]
    pages = paginator.paginate(
        SortBy="CreationTime",
        SortOrder="Descending",
        PaginationConfig={"MaxItems": max_results, "PageSize": min(100, max_results)},
    )
    api = "sagemaker:" + "".join(part.title() for part in operation.split("_"))
    with aws_errors(api):
        found: list[dict[str, Any]] = [
            dict(s) for page in pages for s in page.get(summaries_key, [])
        ]
    found.sort(key=lambda j: j["CreationTime"], reverse=True)
    return found[:max_results]
