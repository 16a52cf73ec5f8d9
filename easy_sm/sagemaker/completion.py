"""Names for shell completion (endpoints, jobs), asked of SageMaker with a client that gives
up fast: one attempt, 1 s to connect, 1 s to read. A Tab press must never hang on a slow or
absent network; the caller also bounds the whole lookup (easy_sm/commands/completion.py)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.config

from easy_sm.sagemaker.session import make_session

FAST_CONFIG = botocore.config.Config(
    connect_timeout=1,
    read_timeout=1,
    retries={"total_max_attempts": 1, "mode": "standard"},
    user_agent_extra="easy_sm-completion",
)

# kind -> (list call, key of the list in the answer, key of the name in an item)
_LISTS: dict[str, list[tuple[str, str, str]]] = {
    "endpoint": [("list_endpoints", "Endpoints", "EndpointName")],
    "training-job": [("list_training_jobs", "TrainingJobSummaries", "TrainingJobName")],
    "job": [
        ("list_training_jobs", "TrainingJobSummaries", "TrainingJobName"),
        ("list_processing_jobs", "ProcessingJobSummaries", "ProcessingJobName"),
        ("list_transform_jobs", "TransformJobSummaries", "TransformJobName"),
    ],
}
KINDS = tuple(_LISTS)


def completion_client(aws_profile: str, aws_region: str) -> Any:
    """A SageMaker client of the app's profile/region that fails fast instead of retrying."""
    session: boto3.Session = make_session(aws_profile, aws_region)
    return session.client("sagemaker", config=FAST_CONFIG)


def completion_names(sm: Any, kind: str, prefix: str, limit: int = 100) -> list[str]:
    """Up to `limit` names of `kind` that start with `prefix`, newest first (one page per
    list call: completion shows a handful, not an inventory)."""
    names: list[str] = []
    for call, key, name_key in _LISTS[kind]:
        request: dict[str, Any] = {
            "MaxResults": limit,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
        }
        if prefix:
            request["NameContains"] = prefix
        answer = getattr(sm, call)(**request)
        names += [str(item[name_key]) for item in answer.get(key, [])]
    return [name for name in dict.fromkeys(names) if name.startswith(prefix)][:limit]
