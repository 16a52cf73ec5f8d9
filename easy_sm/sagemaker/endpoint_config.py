"""The parts of an endpoint config and of an UpdateEndpoint request that deploy flags build:
DataCaptureConfig, AsyncInferenceConfig and DeploymentConfig (safe updates). Pure functions:
every value is validated here, before any AWS call."""

from __future__ import annotations

import re
from typing import Any

from easy_sm.errors import UsageError
from easy_sm.sagemaker.names import s3_uri

STRATEGIES = ("all-at-once", "blue-green", "canary:PCT:WAIT_S", "linear:PCT:WAIT_S")
STEP_RE = re.compile(r"(canary|linear):(\d{1,3}):(\d{1,4})")
SNS_ARN_RE = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
ALARM_RE = re.compile(r"[^\s]{1,255}")
DEFAULT_BAKE_SECONDS = 300
MAX_WAIT_SECONDS = 3600


def data_capture_config(percent: int | None, destination: str | None) -> dict[str, Any] | None:
    """`--capture-percent P --capture-s3 s3://...`: capture requests and responses."""
    if percent is None and destination is None:
        return None
    if percent is None or destination is None:
        raise UsageError(
            "--capture-percent and --capture-s3 go together",
            "give both, e.g. --capture-percent 20 --capture-s3 s3://bucket/capture",
        )
    if not 0 <= percent <= 100:
        raise UsageError(f"--capture-percent {percent} is out of range", "use 0 to 100")
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": s3_uri(destination, "--capture-s3"),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }


def _topic(arn: str | None, option: str) -> str | None:
    if arn is not None and not SNS_ARN_RE.fullmatch(arn):
        raise UsageError(
            f"{option} {arn!r} is not an SNS topic ARN",
            "write it as arn:aws:sns:<region>:<account>:<topic>",
        )
    return arn


def async_inference_config(
    output_s3: str,
    failure_s3: str | None = None,
    *,
    max_concurrent_per_instance: int | None = None,
    success_topic: str | None = None,
    error_topic: str | None = None,
) -> dict[str, Any]:
    """AsyncInferenceConfig: where results and failures land, and who is told."""
    output: dict[str, Any] = {"S3OutputPath": s3_uri(output_s3, "--output-s3")}
    if failure_s3:
        output["S3FailurePath"] = s3_uri(failure_s3, "--failure-s3")
    notify: dict[str, Any] = {}
    if _topic(success_topic, "--success-topic"):
        notify["SuccessTopic"] = success_topic
    if _topic(error_topic, "--error-topic"):
        notify["ErrorTopic"] = error_topic
    if notify:
        output["NotificationConfig"] = notify
    config: dict[str, Any] = {"OutputConfig": output}
    if max_concurrent_per_instance is not None:
        if not 1 <= max_concurrent_per_instance <= 1000:
            raise UsageError(
                f"--max-concurrent-per-instance {max_concurrent_per_instance} is out of range",
                "use 1 to 1000",
            )
        config["ClientConfig"] = {
            "MaxConcurrentInvocationsPerInstance": max_concurrent_per_instance
        }
    return config


def deployment_config(
    strategy: str, alarms: list[str] | None = None, bake_time: int | None = None
) -> dict[str, Any] | None:
    """UpdateEndpoint's DeploymentConfig for `--strategy` (None for plain all-at-once).

    blue-green shifts all traffic at once, then watches the alarms for --bake-time seconds;
    canary:PCT:WAIT_S first shifts PCT % of the capacity, linear:PCT:WAIT_S shifts PCT % per
    step, waiting WAIT_S seconds (watching the alarms) between steps. --bake-time is, for
    canary/linear, how long the old fleet is kept after the last step."""
    alarms = alarms or []
    for alarm in alarms:
        if not ALARM_RE.fullmatch(alarm):
            raise UsageError(f"--rollback-alarm {alarm!r} is not an alarm name")
    if bake_time is not None and not 0 <= bake_time <= MAX_WAIT_SECONDS:
        raise UsageError(f"--bake-time {bake_time} is out of range", "use 0 to 3600 seconds")
    routing: dict[str, Any]
    if strategy == "all-at-once":
        if alarms or bake_time is not None:
            raise UsageError(
                "--rollback-alarm and --bake-time need a watched update",
                "add --strategy blue-green (or canary:PCT:WAIT_S, linear:PCT:WAIT_S)",
            )
        return None
    if strategy == "blue-green":
        wait = DEFAULT_BAKE_SECONDS if bake_time is None else bake_time
        routing = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": wait}
        policy: dict[str, Any] = {"TrafficRoutingConfiguration": routing}
    else:
        match = STEP_RE.fullmatch(strategy)
        if not match:
            raise UsageError(
                f"--strategy {strategy!r} is not a deployment strategy",
                "use one of " + ", ".join(STRATEGIES) + " (e.g. canary:10:300)",
            )
        kind, percent, wait_s = match.group(1), int(match.group(2)), int(match.group(3))
        if not 1 <= percent <= 99:
            raise UsageError(f"--strategy {strategy}: {percent} % is out of range", "use 1 to 99")
        if wait_s > MAX_WAIT_SECONDS:
            raise UsageError(f"--strategy {strategy}: wait {wait_s} s is above 3600")
        size = {"Type": "CAPACITY_PERCENT", "Value": percent}
        routing = {
            "Type": kind.upper(),
            "WaitIntervalInSeconds": wait_s,
            ("CanarySize" if kind == "canary" else "LinearStepSize"): size,
        }
        policy = {"TrafficRoutingConfiguration": routing}
        if bake_time is not None:
            policy["TerminationWaitInSeconds"] = bake_time
    config: dict[str, Any] = {"BlueGreenUpdatePolicy": policy}
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config
