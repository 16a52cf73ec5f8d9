"""`easy_sm describe`: one readable summary of a job (training, processing, transform or
hyperparameter tuning, found by name) or of an endpoint, with its cost, console links and the
tail of its CloudWatch logs. Also what easy_sm prints on stderr when a waited-on job fails.

Summaries are plain dicts (what `--json` prints); `render_*` turn them into lines."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import botocore.exceptions

from easy_sm.errors import AwsError, EasySmError
from easy_sm.sagemaker import pricing
from easy_sm.sagemaker.jobs import KINDS, JobKind, find_job
from easy_sm.sagemaker.logs import LOG_GROUPS
from easy_sm.sagemaker.session import aws_errors, translate_client_error

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sagemaker import SageMakerClient

TAIL_LINES = 20
CONFIG_HISTORY_TAG = "easy_sm:config-history"
_CONSOLE_PATHS = {
    "training": "jobs",
    "processing": "processing-jobs",
    "transform": "transform-jobs",
    "tuning": "hyper-tuning-jobs",
    "endpoint": "endpoints",
}


# -- links -------------------------------------------------------------------------------------
def console_link(region: str, kind: str, name: str) -> str:
    """The AWS console page of a job or endpoint."""
    return (
        f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/{_CONSOLE_PATHS[kind]}/{name}"
    )


def _console_escape(text: str) -> str:
    # The CloudWatch console's fragment encodes '%' itself as '$25'.
    return quote(text, safe="").replace("%", "$25")


def logs_link(region: str, group: str, stream_prefix: str | None = None) -> str:
    """The CloudWatch console page of a log group (filtered to the job's streams)."""
    link = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{_console_escape(group)}"
    )
    if stream_prefix:
        link += "/log-events" + _console_escape("?logStreamNameFilter=" + stream_prefix)
    return link


# -- logs --------------------------------------------------------------------------------------
def _not_found(exc: botocore.exceptions.ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException"


def last_log_lines(
    logs: CloudWatchLogsClient, group: str, prefix: str = "", limit: int = TAIL_LINES
) -> list[str]:
    """The last `limit` log lines of the group's streams starting with `prefix`, oldest first
    (prefixed with the stream's name when there are several). [] when nothing was logged."""
    streams: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    if prefix:
        kwargs["logStreamNamePrefix"] = prefix
    with aws_errors("logs:DescribeLogStreams"):
        try:
            while len(streams) < 200:
                page = logs.describe_log_streams(**kwargs)
                streams.extend(s["logStreamName"] for s in page.get("logStreams", []))
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        except botocore.exceptions.ClientError as exc:
            if _not_found(exc):
                return []
            raise
    events: list[tuple[int, str]] = []
    for stream in streams:
        with aws_errors("logs:GetLogEvents"):
            try:
                answer = logs.get_log_events(
                    logGroupName=group, logStreamName=stream, startFromHead=False, limit=limit
                )
            except botocore.exceptions.ClientError as exc:
                if _not_found(exc):
                    continue
                raise
        label = f"[{stream[len(prefix) :]}] " if len(streams) > 1 else ""
        for event in answer.get("events", []):
            message = str(event.get("message", "")).rstrip("\n")
            events.append((int(event.get("timestamp", 0)), label + message))
    events.sort(key=lambda item: item[0])
    return [line for _, line in events[-limit:]]


# -- jobs --------------------------------------------------------------------------------------
def _seconds(start: object, end: object) -> int | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return max(int((end - start).total_seconds()), 0)
    return None


def duration(seconds: float | None) -> str:
    """`1h 02m 03s`, `4m 05s`, `12s`, or `?`."""
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def find_any_job(sm: SageMakerClient, name: str) -> tuple[str, dict[str, Any]]:
    """`(kind, description)` of the training, processing, transform or tuning job `name`."""
    try:
        kind, described = find_job(sm, name)
        return kind.name, described
    except AwsError:
        pass
    try:
        tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("ResourceNotFound", "ValidationException"):
            raise AwsError(
                f"no training, processing, transform or tuning job named {name!r}",
                "check the name (easy_sm list-training-jobs) and the region / profile you use",
            ) from None
        raise translate_client_error(exc, "sagemaker:DescribeHyperParameterTuningJob") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise translate_client_error(exc, "sagemaker:DescribeHyperParameterTuningJob") from exc
    return "tuning", dict(tuning)


def _kind(kind: str) -> JobKind:
    return next(k for k in KINDS if k.name == kind)


def _s3_inputs(kind: str, described: dict[str, Any]) -> dict[str, str]:
    if kind == "training":
        return {
            c["ChannelName"]: c.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
            for c in described.get("InputDataConfig", [])
        }
    if kind == "processing":
        return {
            i["InputName"]: i.get("S3Input", {}).get("S3Uri", "")
            for i in described.get("ProcessingInputs", [])
        }
    source = described.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {})
    return {"input": source["S3Uri"]} if source.get("S3Uri") else {}


def _output(kind: str, described: dict[str, Any]) -> str | None:
    if kind == "training":
        artifacts = described.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        output = artifacts or described.get("OutputDataConfig", {}).get("S3OutputPath")
        return str(output) if output else None
    if kind == "processing":
        outputs = described.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return ", ".join(o.get("S3Output", {}).get("S3Uri", "") for o in outputs) or None
    output = described.get("TransformOutput", {}).get("S3OutputPath")
    return str(output) if output else None


def job_summary(kind: str, described: dict[str, Any], region: str) -> dict[str, Any]:
    """The summary of a described training / processing / transform job."""
    job = _kind(kind)
    name = described.get(job.name_param, "")
    prefix = {"training": "Training", "processing": "Processing", "transform": "Transform"}[kind]
    started = described.get(f"{prefix}StartTime")
    ended = described.get(f"{prefix}EndTime")
    summary: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "status": described.get(job.status_key),
        "secondary_status": described.get("SecondaryStatus"),
        "failure_reason": described.get("FailureReason") or described.get("ExitMessage"),
        "created": described.get("CreationTime"),
        "started": started,
        "ended": ended,
        "duration_seconds": _seconds(started, ended),
        "transitions": [
            {
                "status": t.get("Status"),
                "message": t.get("StatusMessage"),
                "seconds": _seconds(t.get("StartTime"), t.get("EndTime")),
            }
            for t in described.get("SecondaryStatusTransitions", [])
        ],
        "hyperparameters": dict(described.get("HyperParameters", {})),
        "inputs": _s3_inputs(kind, described),
        "output": _output(kind, described),
        "metrics": {
            m.get("MetricName"): m.get("Value") for m in described.get("FinalMetricDataList", [])
        },
        "cost": pricing.job_cost(kind, described, region),
        "warm_pool": None,
        "links": {
            "job": console_link(region, kind, name),
            "logs": logs_link(region, LOG_GROUPS[kind], f"{name}/"),
        },
    }
    if kind == "training":
        keep_alive = described.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds")
        pool = described.get("WarmPoolStatus")
        if keep_alive or pool:
            summary["warm_pool"] = {
                "keep_alive_seconds": keep_alive,
                "status": (pool or {}).get("Status"),
                "retained_billable_seconds": (pool or {}).get(
                    "ResourceRetainedBillableTimeInSeconds"
                ),
                "reused_by_job": (pool or {}).get("ReusedByJob"),
            }
    if kind == "processing":
        summary["arguments"] = described.get("AppSpecification", {}).get("ContainerArguments")
    if kind == "transform":
        summary["model"] = described.get("ModelName")
    return summary


def tuning_summary(described: dict[str, Any], region: str) -> dict[str, Any]:
    """The summary of a hyperparameter tuning job: objective, best job, counts by status."""
    name = described.get("HyperParameterTuningJobName", "")
    config = described.get("HyperParameterTuningJobConfig", {})
    objective = config.get("HyperParameterTuningJobObjective", {})
    best = described.get("BestTrainingJob") or {}
    best_metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    started = described.get("CreationTime")
    ended = described.get("HyperParameterTuningEndTime")
    return {
        "kind": "tuning",
        "name": name,
        "status": described.get("HyperParameterTuningJobStatus"),
        "failure_reason": described.get("FailureReason"),
        "created": started,
        "ended": ended,
        "duration_seconds": _seconds(started, ended),
        "objective": {"type": objective.get("Type"), "metric": objective.get("MetricName")},
        "strategy": config.get("Strategy"),
        "max_jobs": config.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs"),
        "max_parallel_jobs": config.get("ResourceLimits", {}).get("MaxParallelTrainingJobs"),
        "training_jobs": dict(described.get("TrainingJobStatusCounters", {})),
        "best_job": (
            {
                "name": best.get("TrainingJobName"),
                "metric": best_metric.get("MetricName"),
                "value": best_metric.get("Value"),
                "hyperparameters": dict(best.get("TunedHyperParameters", {})),
            }
            if best
            else None
        ),
        "links": {"job": console_link(region, "tuning", name)},
    }


def describe_job_by_name(
    sm: SageMakerClient, logs: CloudWatchLogsClient, name: str, region: str
) -> dict[str, Any]:
    """The summary of the job `name`; for a job that failed or was stopped, with the last
    log lines (`logs_tail`), which usually say why."""
    kind, described = find_any_job(sm, name)
    if kind == "tuning":
        return tuning_summary(described, region)
    summary = job_summary(kind, described, region)
    if summary["status"] in ("Failed", "Stopped"):
        summary["logs_tail"] = last_log_lines(logs, LOG_GROUPS[kind], f"{name}/")
    return summary


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else "-"


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def render_job(summary: dict[str, Any]) -> list[str]:
    """Human-readable lines of a job summary."""
    if summary["kind"] == "tuning":
        return _render_tuning(summary)
    status = str(summary["status"])
    secondary = summary.get("secondary_status")
    if secondary and secondary != status:
        status += f" ({secondary})"
    lines = [f"{summary['kind']} job {summary['name']}: {status}"]
    if summary.get("failure_reason"):
        lines.append(f"  reason:      {summary['failure_reason']}")
    lines.append(
        f"  created:     {_when(summary['created'])}  started: {_when(summary['started'])}  "
        f"ended: {_when(summary['ended'])}  took: {duration(summary['duration_seconds'])}"
    )
    if summary["transitions"]:
        steps = ", ".join(
            f"{t['status']} {duration(t['seconds']) if t['seconds'] is not None else '(now)'}"
            for t in summary["transitions"]
        )
        lines.append(f"  steps:       {steps}")
    cost = summary["cost"]
    lines.append(f"  instances:   {cost['instance_count']} × {cost['instance_type']}")
    if summary.get("arguments"):
        lines.append(f"  arguments:   {' '.join(map(str, summary['arguments']))}")
    if summary.get("model"):
        lines.append(f"  model:       {summary['model']}")
    if summary["hyperparameters"]:
        lines.append(f"  hyperparameters: {_pairs(summary['hyperparameters'])}")
    if summary["inputs"]:
        lines.append(f"  inputs:      {_pairs(summary['inputs'])}")
    if summary["output"]:
        lines.append(f"  output:      {summary['output']}")
    if summary["metrics"]:
        lines.append(f"  metrics:     {_pairs(summary['metrics'])}")
    lines.append(f"  {pricing.cost_line(cost)}")
    pool = summary.get("warm_pool")
    if pool:
        state = pool["status"] or "not started"
        extra = []
        if pool["keep_alive_seconds"]:
            extra.append(f"keep-alive {pool['keep_alive_seconds']} s")
        if pool["retained_billable_seconds"] is not None:
            extra.append(f"{pool['retained_billable_seconds']} billable s retained")
        if pool["reused_by_job"]:
            extra.append(f"reused by {pool['reused_by_job']}")
        lines.append(f"  warm pool:   {state}" + (f" ({', '.join(extra)})" if extra else ""))
    lines.append(f"  console:     {summary['links']['job']}")
    lines.append(f"  logs:        {summary['links']['logs']}")
    lines.extend(_tail_lines(summary.get("logs_tail")))
    return lines


def _tail_lines(tail: list[str] | None) -> list[str]:
    if not tail:
        return []
    return [f"last {len(tail)} log lines:", *(f"  {line}" for line in tail)]


def _render_tuning(summary: dict[str, Any]) -> list[str]:
    lines = [f"tuning job {summary['name']}: {summary['status']}"]
    if summary.get("failure_reason"):
        lines.append(f"  reason:      {summary['failure_reason']}")
    lines.append(
        f"  created:     {_when(summary['created'])}  ended: {_when(summary['ended'])}  "
        f"took: {duration(summary['duration_seconds'])}"
    )
    objective = summary["objective"]
    lines.append(f"  objective:   {objective['type']} {objective['metric']}")
    if summary["max_jobs"]:
        lines.append(
            f"  limits:      {summary['max_jobs']} jobs, {summary['max_parallel_jobs']} at a time"
            + (f" ({summary['strategy']})" if summary.get("strategy") else "")
        )
    counts = {k: v for k, v in summary["training_jobs"].items() if v}
    lines.append(f"  jobs:        {_pairs(counts) or 'none yet'}")
    best = summary["best_job"]
    if best:
        lines.append(f"  best job:    {best['name']}  {best['metric']}={best['value']}")
        if best["hyperparameters"]:
            lines.append(f"  best hyperparameters: {_pairs(best['hyperparameters'])}")
    lines.append(f"  console:     {summary['links']['job']}")
    return lines


def failure_report(
    sm: SageMakerClient,
    logs: CloudWatchLogsClient | None,
    kind: JobKind,
    described: dict[str, Any],
    region: str,
) -> list[str]:
    """What goes on stderr when a waited-on job did not complete: its summary, then the last
    log lines. Never raises: a failing report must not hide the job's own failure."""
    summary = job_summary(kind.name, described, region)
    if logs is not None:
        name = str(described.get(kind.name_param, ""))
        # the job's failure is the error to report, not a failure to read its logs
        with contextlib.suppress(EasySmError, botocore.exceptions.BotoCoreError):
            summary["logs_tail"] = last_log_lines(logs, LOG_GROUPS[kind.name], f"{name}/")
    return render_job(summary)


# -- endpoints ---------------------------------------------------------------------------------
def _config_history(tags: list[dict[str, Any]]) -> list[str] | None:
    """The endpoint configs the endpoint ran before, oldest first, from the config-history tag
    (space-separated names, as `deploy` writes them; a JSON list or commas are read too), or
    None without the tag."""
    value = next((t.get("Value", "") for t in tags if t.get("Key") == CONFIG_HISTORY_TAG), None)
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, ValueError):
        parsed = value
    if isinstance(parsed, list):
        names = []
        for item in parsed:
            if isinstance(item, dict):
                item = item.get("config") or item.get("EndpointConfigName") or item.get("name")
            if item:
                names.append(str(item))
        return names
    return str(parsed).replace(",", " ").replace(";", " ").split()


def endpoint_summary(
    sm: SageMakerClient,
    autoscaling: Any,
    logs: CloudWatchLogsClient,
    name: str,
    region: str,
) -> dict[str, Any]:
    """An endpoint's status, variants, config history, data capture, async config,
    autoscaling, hourly cost and the last log lines of `/aws/sagemaker/Endpoints/{name}`."""
    with aws_errors("sagemaker:DescribeEndpoint"):
        endpoint = sm.describe_endpoint(EndpointName=name)
    config_name = endpoint.get("EndpointConfigName", "")
    config: dict[str, Any] = {}
    if config_name:
        try:
            config = dict(sm.describe_endpoint_config(EndpointConfigName=config_name))
        except botocore.exceptions.ClientError:
            config = {}  # deleted since: the endpoint's own description still stands
    types = {v.get("VariantName"): v for v in config.get("ProductionVariants", [])}
    variants = []
    for variant in endpoint.get("ProductionVariants", []):
        configured = types.get(variant.get("VariantName"), {})
        variants.append(
            {
                "name": variant.get("VariantName"),
                "instance_type": configured.get("InstanceType"),
                "serverless": configured.get("ServerlessConfig")
                or variant.get("CurrentServerlessConfig"),
                "current_instances": variant.get("CurrentInstanceCount"),
                "desired_instances": variant.get("DesiredInstanceCount"),
                "weight": variant.get("CurrentWeight"),
                "model": configured.get("ModelName"),
                "autoscaling": None,
            }
        )
    history: list[str] | None = None
    try:
        tags = sm.list_tags(ResourceArn=endpoint["EndpointArn"]).get("Tags", [])
        history = _config_history([dict(t) for t in tags])
    except (botocore.exceptions.ClientError, KeyError):
        history = None
    _add_autoscaling(autoscaling, name, variants)
    priced = [
        {"InstanceType": v["instance_type"], "InstanceCount": v["current_instances"] or 0}
        for v in variants
    ]
    hourly = pricing.endpoint_hourly(region, priced)
    capture = endpoint.get("DataCaptureConfig") or config.get("DataCaptureConfig")
    group = f"/aws/sagemaker/Endpoints/{name}"
    return {
        "kind": "endpoint",
        "name": name,
        "status": endpoint.get("EndpointStatus"),
        "failure_reason": endpoint.get("FailureReason"),
        "created": endpoint.get("CreationTime"),
        "modified": endpoint.get("LastModifiedTime"),
        "config": config_name,
        "config_history": history,
        "variants": variants,
        "data_capture": dict(capture) if capture else None,
        "async": dict(config["AsyncInferenceConfig"])
        if config.get("AsyncInferenceConfig")
        else None,
        "hourly_cost": hourly,
        "monthly_cost": hourly * pricing.HOURS_PER_MONTH if hourly is not None else None,
        "logs_tail": last_log_lines(logs, group),
        "links": {
            "endpoint": console_link(region, "endpoint", name),
            "logs": logs_link(region, group),
        },
    }


def _add_autoscaling(autoscaling: Any, name: str, variants: list[dict[str, Any]]) -> None:
    ids = {f"endpoint/{name}/variant/{v['name']}": v for v in variants}
    if not ids:
        return
    with aws_errors("application-autoscaling:DescribeScalableTargets"):
        answer = autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker",
            ResourceIds=list(ids),
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        )
    for target in answer.get("ScalableTargets", []):
        variant = ids.get(target.get("ResourceId"))
        if variant is not None:
            variant["autoscaling"] = {
                "min": target.get("MinCapacity"),
                "max": target.get("MaxCapacity"),
            }


def render_endpoint(summary: dict[str, Any]) -> list[str]:
    lines = [f"endpoint {summary['name']}: {summary['status']}"]
    if summary.get("failure_reason"):
        lines.append(f"  reason:      {summary['failure_reason']}")
    lines.append(
        f"  created:     {_when(summary['created'])}  modified: {_when(summary['modified'])}"
    )
    lines.append(f"  config:      {summary['config']}")
    if summary["config_history"]:
        earlier = ", ".join(reversed(summary["config_history"]))
        lines.append(f"  earlier:     {earlier} (newest first)")
    for v in summary["variants"]:
        if v["serverless"]:
            what = "serverless " + _pairs(dict(v["serverless"]))
        else:
            what = (
                f"{v['instance_type']}  instances {v['current_instances']} "
                f"(desired {v['desired_instances']})"
            )
        scaling = v["autoscaling"]
        auto = f"  autoscaling {scaling['min']}-{scaling['max']}" if scaling else ""
        lines.append(f"  variant {v['name']}: {what}  weight {v['weight']}{auto}")
    capture = summary["data_capture"]
    if capture:
        state = "on" if capture.get("EnableCapture") else "off"
        percent = capture.get("CurrentSamplingPercentage", capture.get("InitialSamplingPercentage"))
        sampled = f" {percent}%" if percent is not None else ""
        lines.append(f"  data capture: {state}{sampled} -> {capture.get('DestinationS3Uri', '?')}")
    if summary["async"]:
        output = summary["async"].get("OutputConfig", {})
        lines.append(f"  async:       output {output.get('S3OutputPath', '?')}")
    if summary["hourly_cost"] is not None:
        lines.append(
            f"  cost:        {pricing.money(summary['hourly_cost'])}/h, "
            f"≈ {pricing.money(summary['monthly_cost'])}/month on-demand"
        )
    else:
        lines.append(f"  cost:        {pricing.NO_PRICE}")
    lines.append(f"  console:     {summary['links']['endpoint']}")
    lines.append(f"  logs:        {summary['links']['logs']}")
    lines.extend(_tail_lines(summary["logs_tail"]))
    return lines
