"""Application Auto Scaling for endpoint variants: a scalable target on
`sagemaker:variant:DesiredInstanceCount` and one target-tracking policy.

Provisioned endpoints track `SageMakerVariantInvocationsPerInstance`; asynchronous endpoints
track the backlog (`ApproximateBacklogSizePerInstance`), as AWS documents for scale-to-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from easy_sm.errors import UsageError
from easy_sm.sagemaker.session import aws_errors, translate_client_error

# (no boto3-stubs extra for application-autoscaling is installed: the client is untyped)
ApplicationAutoScalingClient = Any

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
INVOCATIONS_METRIC = "SageMakerVariantInvocationsPerInstance"
BACKLOG_METRIC = "ApproximateBacklogSizePerInstance"
POLICY_SUFFIX = "-easy-sm-target-tracking"
FROM_ZERO_SUFFIX = "-easy-sm-scale-from-zero"


@dataclass(frozen=True)
class ScalingSpec:
    """What `deploy --min-instances/--max-instances ...` asks for."""

    min_instances: int
    max_instances: int
    target: float = 70.0  # invocations per instance per minute, or backlog per instance
    scale_in_cooldown: int = 300
    scale_out_cooldown: int = 60
    backlog: bool = False  # async endpoints scale on their queue

    def validate(self, *, allow_zero: bool = False) -> ScalingSpec:
        lowest = 0 if allow_zero else 1
        if self.min_instances < lowest:
            raise UsageError(
                f"--min-instances {self.min_instances} is below {lowest}",
                "scale-to-zero needs an async endpoint (easy_sm deploy-async)"
                if not allow_zero
                else "use 0 or more",
            )
        if self.max_instances < max(self.min_instances, 1):
            raise UsageError(
                f"--max-instances {self.max_instances} is below --min-instances "
                f"{self.min_instances} (or 1)",
                "give a --max-instances at least as large as --min-instances",
            )
        if self.target <= 0:
            raise UsageError("--target-invocations must be above 0")
        if self.scale_in_cooldown < 0 or self.scale_out_cooldown < 0:
            raise UsageError("cooldowns must be 0 or more seconds")
        return self


def scaling_spec(
    min_instances: int | None,
    max_instances: int | None,
    target: float | None,
    scale_in_cooldown: int | None,
    scale_out_cooldown: int | None,
    *,
    backlog: bool = False,
) -> ScalingSpec | None:
    """The ScalingSpec the flags ask for, or None when no autoscaling flag was given."""
    given = (target, scale_in_cooldown, scale_out_cooldown)
    if min_instances is None and max_instances is None:
        if any(v is not None for v in given):
            raise UsageError(
                "autoscaling flags need --min-instances and --max-instances",
                "e.g. --min-instances 1 --max-instances 4 --target-invocations 100",
            )
        return None
    if min_instances is None or max_instances is None:
        raise UsageError(
            "--min-instances and --max-instances go together", "give both, e.g. 1 and 4"
        )
    spec = ScalingSpec(
        min_instances,
        max_instances,
        target if target is not None else (5.0 if backlog else 70.0),
        300 if scale_in_cooldown is None else scale_in_cooldown,
        60 if scale_out_cooldown is None else scale_out_cooldown,
        backlog,
    )
    return spec.validate(allow_zero=backlog)


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def policy_name(endpoint: str) -> str:
    return f"{endpoint}{POLICY_SUFFIX}"


def scalable_target(
    aas: ApplicationAutoScalingClient, endpoint: str, variant: str
) -> dict[str, Any] | None:
    """The variant's scalable target, or None."""
    with aws_errors("application-autoscaling:DescribeScalableTargets"):
        found = aas.describe_scalable_targets(
            ServiceNamespace=NAMESPACE,
            ResourceIds=[resource_id(endpoint, variant)],
            ScalableDimension=DIMENSION,
        )["ScalableTargets"]
    return dict(found[0]) if found else None


def all_scalable_targets(aas: ApplicationAutoScalingClient) -> dict[str, dict[str, Any]]:
    """Every SageMaker variant target of the account/region, by endpoint name (one call a page)."""
    targets: dict[str, dict[str, Any]] = {}
    pages = aas.get_paginator("describe_scalable_targets").paginate(ServiceNamespace=NAMESPACE)
    with aws_errors("application-autoscaling:DescribeScalableTargets"):
        for page in pages:
            for target in page.get("ScalableTargets", []):
                parts = target["ResourceId"].split("/")
                if len(parts) == 4 and parts[0] == "endpoint":
                    targets.setdefault(parts[1], dict(target))
    return targets


def scaling_policies(
    aas: ApplicationAutoScalingClient, endpoint: str, variant: str
) -> list[dict[str, Any]]:
    with aws_errors("application-autoscaling:DescribeScalingPolicies"):
        return [
            dict(p)
            for p in aas.describe_scaling_policies(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(endpoint, variant),
                ScalableDimension=DIMENSION,
            )["ScalingPolicies"]
        ]


def _metric(endpoint: str, variant: str, spec: ScalingSpec) -> dict[str, Any]:
    if spec.backlog:
        return {
            "CustomizedMetricSpecification": {
                "MetricName": BACKLOG_METRIC,
                "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint}],
                "Statistic": "Average",
            }
        }
    return {"PredefinedMetricSpecification": {"PredefinedMetricType": INVOCATIONS_METRIC}}


def register(
    aas: ApplicationAutoScalingClient,
    endpoint: str,
    variant: str,
    spec: ScalingSpec,
    cloudwatch: Any = None,
) -> str:
    """Register (or update) the scalable target and put the target-tracking policy; return the
    policy's name. With --min-instances 0 on an async endpoint, also what AWS documents for
    scaling out of zero (the backlog-per-instance metric has no instance to come from): a step
    policy adding one instance, triggered by an alarm on `HasBacklogWithoutCapacity`."""
    rid = resource_id(endpoint, variant)
    with aws_errors("application-autoscaling:RegisterScalableTarget"):
        aas.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
            MinCapacity=spec.min_instances,
            MaxCapacity=spec.max_instances,
        )
    name = policy_name(endpoint)
    with aws_errors("application-autoscaling:PutScalingPolicy"):
        aas.put_scaling_policy(
            PolicyName=name,
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": spec.target,
                **_metric(endpoint, variant, spec),
                "ScaleInCooldown": spec.scale_in_cooldown,
                "ScaleOutCooldown": spec.scale_out_cooldown,
            },
        )
    if spec.backlog and spec.min_instances == 0 and cloudwatch is not None:
        _scale_from_zero(aas, cloudwatch, endpoint, rid, spec)
    return name


def _scale_from_zero(
    aas: ApplicationAutoScalingClient,
    cloudwatch: Any,
    endpoint: str,
    rid: str,
    spec: ScalingSpec,
) -> None:
    with aws_errors("application-autoscaling:PutScalingPolicy"):
        arn = aas.put_scaling_policy(
            PolicyName=f"{endpoint}{FROM_ZERO_SUFFIX}",
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity",
                "MetricAggregationType": "Average",
                "Cooldown": spec.scale_out_cooldown,
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        )["PolicyARN"]
    put_backlog_alarm(cloudwatch, endpoint, arn)


def put_backlog_alarm(cloudwatch: Any, endpoint: str, policy_arn: str) -> None:
    """The alarm that runs the scale-from-zero policy while requests wait with no instance."""
    with aws_errors("cloudwatch:PutMetricAlarm"):
        cloudwatch.put_metric_alarm(
            AlarmName=alarm_name(endpoint),
            MetricName="HasBacklogWithoutCapacity",
            Namespace="AWS/SageMaker",
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=2,
            DatapointsToAlarm=2,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="missing",
            AlarmActions=[policy_arn],
        )


def alarm_name(endpoint: str) -> str:
    return f"{endpoint}-easy-sm-has-backlog"


def delete_alarm(cloudwatch: Any, endpoint: str) -> bool:
    """Delete the scale-from-zero alarm if there is one; True if it was there."""
    with aws_errors("cloudwatch:DescribeAlarms"):
        found = cloudwatch.describe_alarms(AlarmNames=[alarm_name(endpoint)])["MetricAlarms"]
    if not found:
        return False
    with aws_errors("cloudwatch:DeleteAlarms"):
        cloudwatch.delete_alarms(AlarmNames=[alarm_name(endpoint)])
    return True


@dataclass(frozen=True)
class SavedScaling:
    """A target and its policies as they were, to put back after an endpoint update."""

    target: dict[str, Any]
    policies: list[dict[str, Any]]


def deregister(
    aas: ApplicationAutoScalingClient, endpoint: str, variant: str
) -> SavedScaling | None:
    """Delete the variant's policies and deregister its target; return what was there (None
    when the variant was not autoscaled)."""
    target = scalable_target(aas, endpoint, variant)
    if target is None:
        return None
    policies = scaling_policies(aas, endpoint, variant)
    rid = resource_id(endpoint, variant)
    for policy in policies:
        with aws_errors("application-autoscaling:DeleteScalingPolicy"):
            aas.delete_scaling_policy(
                PolicyName=policy["PolicyName"],
                ServiceNamespace=NAMESPACE,
                ResourceId=rid,
                ScalableDimension=DIMENSION,
            )
    try:
        aas.deregister_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )
    except botocore.exceptions.ClientError as exc:
        if "No scalable target" not in str(exc):
            raise translate_client_error(
                exc, "application-autoscaling:DeregisterScalableTarget"
            ) from exc
    return SavedScaling(target, policies)


def restore(
    aas: ApplicationAutoScalingClient,
    saved: SavedScaling,
    cloudwatch: Any = None,
    endpoint: str = "",
) -> None:
    """Register a target and its policies again, as `deregister` found them (pointing the
    scale-from-zero alarm at the policy's new ARN)."""
    target = saved.target
    with aws_errors("application-autoscaling:RegisterScalableTarget"):
        aas.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=target["ResourceId"],
            ScalableDimension=DIMENSION,
            MinCapacity=target["MinCapacity"],
            MaxCapacity=target["MaxCapacity"],
        )
    keys = (
        "TargetTrackingScalingPolicyConfiguration",
        "StepScalingPolicyConfiguration",
    )
    for policy in saved.policies:
        body = {k: policy[k] for k in keys if k in policy}
        with aws_errors("application-autoscaling:PutScalingPolicy"):
            arn = aas.put_scaling_policy(
                PolicyName=policy["PolicyName"],
                ServiceNamespace=NAMESPACE,
                ResourceId=target["ResourceId"],
                ScalableDimension=DIMENSION,
                PolicyType=policy["PolicyType"],
                **body,
            )["PolicyARN"]
        if cloudwatch is not None and str(policy["PolicyName"]).endswith(FROM_ZERO_SUFFIX):
            put_backlog_alarm(cloudwatch, endpoint, arn)
