"""What a job or an endpoint costs, estimated from the price table shipped in the package
(`easy_sm/data/prices.json`: on-demand USD per instance-hour, with its date and source).

An instance type or region missing from the table has no price: the estimate then says
"no price known" — a price is never guessed or borrowed from another region or instance."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

# component of the price table for each kind of job / resource
COMPONENTS = ("training", "processing", "transform", "hosting")
HOURS_PER_MONTH = 730  # AWS's own figure for monthly estimates
NO_PRICE = "no price known"


@cache
def price_table() -> dict[str, Any]:
    """The parsed `prices.json` (date, source, currency, prices[region][component][type])."""
    text = resources.files("easy_sm").joinpath("data/prices.json").read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def hourly_price(region: str, component: str, instance_type: str) -> float | None:
    """The on-demand price per instance-hour, or None when the table does not list it."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown price component {component!r}")
    region_prices = price_table()["prices"].get(region, {})
    price = region_prices.get(component, {}).get(instance_type)
    return float(price) if isinstance(price, (int, float)) else None


def money(amount: float) -> str:
    """`$0.0123` for small amounts, `$12.35` otherwise."""
    return f"${amount:.4f}" if amount < 1 else f"${amount:,.2f}"


def _seconds_between(start: object, end: object) -> int | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return max(int((end - start).total_seconds()), 0)
    return None


def job_usage(kind: str, described: dict[str, Any]) -> dict[str, Any]:
    """Instance type, count, billable seconds (and for spot training the seconds trained) of a
    described training / processing / transform job. Seconds are None when unknown."""
    if kind == "training":
        resources_ = described.get("ResourceConfig", {})
        billable = described.get("BillableTimeInSeconds")
        trained = described.get("TrainingTimeInSeconds")
        if billable is None:
            billable = trained
        if billable is None:
            billable = _seconds_between(
                described.get("TrainingStartTime"), described.get("TrainingEndTime")
            )
        return {
            "component": "training",
            "instance_type": resources_.get("InstanceType"),
            "instance_count": int(resources_.get("InstanceCount") or 1),
            "billable_seconds": billable,
            "training_seconds": trained,
            "spot": bool(described.get("EnableManagedSpotTraining")),
        }
    if kind == "processing":
        cluster = described.get("ProcessingResources", {}).get("ClusterConfig", {})
        seconds = _seconds_between(
            described.get("ProcessingStartTime"), described.get("ProcessingEndTime")
        )
        return {
            "component": "processing",
            "instance_type": cluster.get("InstanceType"),
            "instance_count": int(cluster.get("InstanceCount") or 1),
            "billable_seconds": seconds,
            "training_seconds": None,
            "spot": False,
        }
    resources_ = described.get("TransformResources", {})
    seconds = _seconds_between(
        described.get("TransformStartTime"), described.get("TransformEndTime")
    )
    return {
        "component": "transform",
        "instance_type": resources_.get("InstanceType"),
        "instance_count": int(resources_.get("InstanceCount") or 1),
        "billable_seconds": seconds,
        "training_seconds": None,
        "spot": False,
    }


def job_cost(kind: str, described: dict[str, Any], region: str) -> dict[str, Any]:
    """`job_usage` plus `hourly_price` and `estimated_cost` (None when no price is known), and
    for spot training the `spot_saving` fraction (billable against trained seconds)."""
    usage = job_usage(kind, described)
    instance_type = usage["instance_type"]
    price = hourly_price(region, usage["component"], instance_type) if instance_type else None
    seconds = usage["billable_seconds"]
    cost = None
    if price is not None and seconds is not None:
        cost = price * usage["instance_count"] * seconds / 3600
    saving = None
    trained = usage["training_seconds"]
    if usage["spot"] and seconds is not None and trained:
        saving = max(0.0, 1 - seconds / trained)
    return {
        **usage,
        "region": region,
        "hourly_price": price,
        "estimated_cost": cost,
        "spot_saving": saving,
    }


def cost_line(cost: dict[str, Any]) -> str:
    """One line: `cost: 1234 billable s on 2 × ml.m5.large ≈ $0.0789 on-demand (eu-west-1)`."""
    seconds = cost["billable_seconds"]
    used = f"{seconds} billable s" if seconds is not None else "billable time unknown"
    where = f"{cost['instance_count']} × {cost['instance_type'] or 'unknown instance'}"
    if cost["estimated_cost"] is not None:
        estimate = f"≈ {money(cost['estimated_cost'])} on-demand"
    elif cost["hourly_price"] is not None:
        estimate = f"{money(cost['hourly_price'])}/h on-demand"
    else:
        what = cost["instance_type"] or "an unreported instance type"
        estimate = f"{NO_PRICE} for {what} in {cost['region']}"
    line = f"cost: {used} on {where}, {estimate}"
    if cost["spot_saving"] is not None:
        line += (
            f"; spot saved {cost['spot_saving']:.0%} "
            f"({seconds} s billed of {cost['training_seconds']} s trained)"
        )
    return line


def endpoint_hourly(region: str, variants: list[dict[str, Any]]) -> float | None:
    """The hourly price of an endpoint's instance variants (type × current count), or None when
    a variant's price is not known (serverless variants cost per request, not per hour)."""
    total = 0.0
    for variant in variants:
        instance_type = variant.get("InstanceType")
        if not instance_type:
            return None
        price = hourly_price(region, "hosting", str(instance_type))
        if price is None:
            return None
        total += price * int(variant.get("InstanceCount") or 0)
    return total


def _invocations(cloudwatch: Any, endpoint: str, variant: str, hours: int, now: datetime) -> float:
    from datetime import timedelta

    from easy_sm.sagemaker.session import aws_errors

    with aws_errors("cloudwatch:GetMetricStatistics"):
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            Dimensions=[
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": variant},
            ],
            StartTime=now - timedelta(hours=hours),
            EndTime=now,
            Period=3600,
            Statistics=["Sum"],
        )
    return float(sum(point.get("Sum", 0) for point in answer.get("Datapoints", [])))


def endpoint_costs(
    sm: Any,
    cloudwatch: Any,
    endpoints: list[dict[str, Any]],
    region: str,
    idle_hours: int,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """For each InService endpoint: its hourly and monthly on-demand estimate (None when a
    variant has no known price) and the invocations in the last `idle_hours` (CloudWatch
    `Invocations`): `idle` when there were none."""
    from datetime import UTC

    from easy_sm.sagemaker.session import aws_errors

    now = now or datetime.now(UTC)
    found = []
    for listed in endpoints:
        if listed.get("EndpointStatus") != "InService":
            continue
        name = str(listed["EndpointName"])
        with aws_errors("sagemaker:DescribeEndpoint"):
            endpoint = sm.describe_endpoint(EndpointName=name)
        with aws_errors("sagemaker:DescribeEndpointConfig"):
            config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        types = {v["VariantName"]: v.get("InstanceType") for v in config["ProductionVariants"]}
        variants = [
            {
                "VariantName": v["VariantName"],
                "InstanceType": types.get(v["VariantName"]),
                "InstanceCount": v.get("CurrentInstanceCount") or 0,
            }
            for v in endpoint.get("ProductionVariants", [])
        ]
        hourly = endpoint_hourly(region, variants)
        invocations = sum(
            _invocations(cloudwatch, name, v["VariantName"], idle_hours, now) for v in variants
        )
        found.append(
            {
                "name": name,
                "variants": [
                    {
                        "name": v["VariantName"],
                        "instance_type": v["InstanceType"],
                        "instances": v["InstanceCount"],
                    }
                    for v in variants
                ],
                "hourly_cost": hourly,
                "monthly_cost": hourly * HOURS_PER_MONTH if hourly is not None else None,
                "invocations": invocations,
                "idle_hours": idle_hours,
                "idle": invocations == 0,
            }
        )
    return found


def endpoint_cost_line(cost: dict[str, Any]) -> str:
    """`name  $0.2300/h  ≈ $167.90/month  idle: no invocations in 24 h` (or `N invocations`)."""
    if cost["hourly_cost"] is None:
        price = NO_PRICE
    else:
        price = f"{money(cost['hourly_cost'])}/h  ≈ {money(cost['monthly_cost'])}/month"
    if cost["idle"]:
        usage = f"idle: no invocations in {cost['idle_hours']} h"
    else:
        usage = f"{cost['invocations']:.0f} invocations in {cost['idle_hours']} h"
    return f"{cost['name']}  {price}  {usage}"
