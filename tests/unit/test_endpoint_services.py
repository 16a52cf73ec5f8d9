"""Pure parts of the endpoint services: the config-history tag, deployment strategies, role
trust policies, and the instance types read from botocore's service model."""

from __future__ import annotations

import pytest

from easy_sm.errors import UsageError
from easy_sm.sagemaker import endpoint_config, endpoints, preflight


def test_config_history_is_read_oldest_first_from_the_tag() -> None:
    tags = [{"Key": "easy_sm:config-history", "Value": "ep-1 ep-2"}, {"Key": "x", "Value": "y"}]
    assert endpoints.endpoint_config_history(tags) == ["ep-1", "ep-2"]
    assert endpoints.endpoint_config_history({}) == []


def test_config_history_drops_the_oldest_names_to_fit_a_tag_value() -> None:
    names = [f"endpoint-{i:02d}-20240101-000000-abcd" for i in range(20)]
    value = endpoints.history_value(names)
    assert len(value) <= 256
    kept = value.split()
    assert kept == names[-len(kept) :] and len(kept) == 7


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ("canary", "is not a deployment strategy"),
        ("canary:0:60", "0 % is out of range"),
        ("linear:10:4000", "is above 3600"),
        ("linear:10:60\n", "is not a deployment strategy"),
    ],
)
def test_bad_strategies_are_usage_errors(strategy: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        endpoint_config.deployment_config(strategy)


def test_all_at_once_sends_no_deployment_config() -> None:
    assert endpoint_config.deployment_config("all-at-once") is None


@pytest.mark.parametrize(
    ("policy", "trusted"),
    [
        (
            {
                "Statement": {
                    "Effect": "Allow",
                    "Principal": {"Service": ["ec2.amazonaws.com", "sagemaker.amazonaws.com"]},
                    "Action": ["sts:AssumeRole"],
                }
            },
            True,
        ),
        (
            "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B"
            "%22Service%22%3A%22sagemaker.amazonaws.com%22%7D%2C%22Action%22%3A"
            "%22sts%3AAssumeRole%22%7D%5D%7D",
            True,
        ),
        (
            {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
            False,
        ),
    ],
)
def test_trust_policy_must_allow_sagemaker_to_assume_the_role(
    policy: object, trusted: bool
) -> None:
    assert preflight.trusts_sagemaker(policy) is trusted


def test_instance_types_come_from_botocores_service_model() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    assert "ml.m5.large" in preflight.instance_types(model, "training")
    assert "ml.c5.large" in preflight.instance_types(model, "endpoint")
    with pytest.raises(UsageError, match=r"did you mean ml\.m5\.large"):
        preflight.check_instance_type(model, "transform", "ml.m5.lrage")


# --- UpdateEndpoint with DeploymentConfig: a Stubber pins the exact requests ----------------


def _described(status: str, config: str, reason: str | None = None) -> dict[str, object]:
    from datetime import UTC, datetime

    answer: dict[str, object] = {
        "EndpointName": "ep",
        "EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": datetime(2024, 1, 1, tzinfo=UTC),
        "LastModifiedTime": datetime(2024, 1, 1, tzinfo=UTC),
    }
    if reason:
        answer["FailureReason"] = reason
    return answer


def test_an_alarm_rollback_of_a_canary_update_is_exit_6_naming_the_alarm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    import boto3
    from botocore.stub import Stubber

    from easy_sm.errors import JobFailedError
    from easy_sm.sagemaker import names, waiting

    monkeypatch.setattr(waiting, "sleep", lambda _s: None)
    monkeypatch.setattr(endpoints, "endpoint_config_name", lambda _name: "ep-new")
    role = "arn:aws:iam::123456789012:role/sm"
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-app:latest"
    model_data = "s3://bucket/model.tar.gz"
    model = names.model_name("my-app", image, model_data, role)
    deployment = endpoint_config.deployment_config("canary:10:300", ["ep-5xx"], 600)
    client = boto3.client("sagemaker", region_name="eu-west-1")
    with Stubber(client) as stubber:
        stubber.add_response("describe_endpoint", _described("InService", "ep-old"))
        stubber.add_response(
            "describe_model",
            {
                "ModelName": model,
                "ModelArn": f"arn:aws:sagemaker:eu-west-1:123456789012:model/{model}",
                "CreationTime": datetime(2024, 1, 1, tzinfo=UTC),
            },
        )
        stubber.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/n"},
        )
        stubber.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/ep"},
            {
                "EndpointName": "ep",
                "EndpointConfigName": "ep-new",
                "DeploymentConfig": {
                    "BlueGreenUpdatePolicy": {
                        "TrafficRoutingConfiguration": {
                            "Type": "CANARY",
                            "WaitIntervalInSeconds": 300,
                            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                        },
                        "TerminationWaitInSeconds": 600,
                    },
                    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "ep-5xx"}]},
                },
            },
        )
        stubber.add_response("describe_endpoint", _described("Updating", "ep-old"))
        stubber.add_response("describe_endpoint", _described("RollingBack", "ep-old"))
        stubber.add_response(
            "describe_endpoint",
            _described("InService", "ep-old", "Alarm ep-5xx is in ALARM: rolled back"),
        )
        with pytest.raises(JobFailedError) as caught:
            endpoints.deploy_endpoint(
                client,
                endpoint_name="ep",
                spec=endpoints.EndpointSpec(
                    variant=endpoints.instance_variant("ml.m5.large", 1), deployment=deployment
                ),
                image_uri=image,
                model_data=model_data,
                role_arn=role,
                model_prefix="my-app",
            )
        stubber.assert_no_pending_responses()
    assert caught.value.exit_code == 6
    assert caught.value.message == (
        "update of endpoint ep was rolled back (watched alarms: ep-5xx): "
        "Alarm ep-5xx is in ALARM: rolled back"
    )
    assert "it still serves config ep-old" in str(caught.value.hint)
