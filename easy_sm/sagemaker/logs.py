"""CloudWatch logs of SageMaker jobs: `/aws/sagemaker/{TrainingJobs,ProcessingJobs,TransformJobs}`,
one stream per instance named `{job}/{host}-...`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from easy_sm.sagemaker.session import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

LOG_GROUPS = {
    "training": "/aws/sagemaker/TrainingJobs",
    "processing": "/aws/sagemaker/ProcessingJobs",
    "transform": "/aws/sagemaker/TransformJobs",
}


def _not_found(exc: botocore.exceptions.ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException"


class LogTailer:
    """Prints the new events of every stream of one job each time `poll()` is called.

    Streams appear as instances start; a missing log group just means nothing is logged yet."""

    def __init__(
        self,
        logs: CloudWatchLogsClient,
        kind: str,
        job_name: str,
        sink: Callable[[str], None],
    ) -> None:
        self.logs = logs
        self.group = LOG_GROUPS[kind]
        self.prefix = f"{job_name}/"
        self.sink = sink
        self.tokens: dict[str, str | None] = {}

    def _streams(self) -> list[str]:
        names: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": self.prefix}
        with aws_errors("logs:DescribeLogStreams"):
            try:
                while True:
                    page = self.logs.describe_log_streams(**kwargs)
                    names.extend(s["logStreamName"] for s in page.get("logStreams", []))
                    token = page.get("nextToken")
                    if not token:
                        break
                    kwargs["nextToken"] = token
            except botocore.exceptions.ClientError as exc:
                if _not_found(exc):
                    return []
                raise
        return sorted(names)

    def poll(self) -> int:
        """Print the events logged since the last call; return how many."""
        printed = 0
        streams = self._streams()
        for stream in streams:
            label = stream[len(self.prefix) :] if len(streams) > 1 else ""
            printed += self._drain(stream, label)
        return printed

    def _drain(self, stream: str, label: str) -> int:
        printed = 0
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": self.group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            token = self.tokens.get(stream)
            if token:
                kwargs["nextToken"] = token
            with aws_errors("logs:GetLogEvents"):
                try:
                    page = self.logs.get_log_events(**kwargs)
                except botocore.exceptions.ClientError as exc:
                    if _not_found(exc):
                        return printed
                    raise
            for event in page.get("events", []):
                message = str(event.get("message", "")).rstrip("\n")
                self.sink(f"[{label}] {message}" if label else message)
                printed += 1
            next_token = page.get("nextForwardToken")
            if not page.get("events") or next_token == token:
                if next_token:
                    self.tokens[stream] = next_token
                return printed
            self.tokens[stream] = next_token
