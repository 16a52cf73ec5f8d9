"""The price table and the estimates made from it: a price is never invented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from easy_sm.sagemaker import pricing

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_price_table_names_its_date_source_and_currency() -> None:
    table = pricing.price_table()
    datetime.strptime(table["date"], "%Y-%m-%d")
    assert table["source"].startswith("https://aws.amazon.com/sagemaker/pricing")
    assert table["currency"] == "USD"
    for region, components in table["prices"].items():
        assert set(components) <= set(pricing.COMPONENTS), region
        for prices in components.values():
            for instance_type, price in prices.items():
                assert instance_type.startswith("ml."), instance_type
                assert isinstance(price, float | int) and price > 0


def test_a_known_instance_has_its_published_price() -> None:
    assert pricing.hourly_price("us-east-1", "training", "ml.m5.large") == 0.115
    assert pricing.hourly_price("eu-west-1", "training", "ml.m5.xlarge") == 0.257
    # a type listed for one region or component is not borrowed for another
    assert pricing.hourly_price("eu-west-1", "training", "ml.m5.large") is None
    assert pricing.hourly_price("eu-west-1", "processing", "ml.g4dn.xlarge") is None


def test_every_region_names_where_its_prices_come_from() -> None:
    table = pricing.price_table()
    assert set(table["region_sources"]) == set(table["prices"])


@pytest.mark.parametrize(
    ("region", "component", "instance_type"),
    [
        ("us-east-1", "training", "ml.m5.huge"),  # no such instance type
        ("us-east-1", "hosting", "ml.m5d.large"),  # real, but not in the table
        ("xx-nowhere-1", "training", "ml.m5.large"),  # known type, unknown region
        ("us-east-1", "training", "m5.large"),  # an EC2 type is not an ML instance
        ("us-east-1", "training", ""),
    ],
)
def test_a_price_is_never_invented_for_an_unknown_instance_or_region(
    region: str, component: str, instance_type: str
) -> None:
    assert pricing.hourly_price(region, component, instance_type) is None
    described = {
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 3},
        "BillableTimeInSeconds": 3600,
    }
    cost = pricing.job_cost("training", described, region)
    assert cost["estimated_cost"] is None
    line = pricing.cost_line(cost)
    assert "no price known" in line
    assert "$" not in line


def test_processing_and_transform_bill_the_time_between_start_and_end() -> None:
    processing = {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2}
        },
        "ProcessingStartTime": T0,
        "ProcessingEndTime": T0 + timedelta(minutes=30),
    }
    cost = pricing.job_cost("processing", processing, "us-east-1")
    assert cost["billable_seconds"] == 1800
    assert cost["estimated_cost"] == pytest.approx(0.23)
    transform = {
        "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        "TransformStartTime": T0,
        "TransformEndTime": T0 + timedelta(hours=2),
    }
    assert pricing.job_cost("transform", transform, "us-east-1")["estimated_cost"] == (
        pytest.approx(0.46)
    )


def test_unknown_billable_time_says_so_rather_than_zero() -> None:
    described = {"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}
    line = pricing.cost_line(pricing.job_cost("training", described, "us-east-1"))
    assert line == "cost: billable time unknown on 1 × ml.m5.large, $0.1150/h on-demand"


def test_an_endpoint_with_an_unpriced_or_serverless_variant_has_no_hourly_price() -> None:
    priced = {"InstanceType": "ml.m5.large", "InstanceCount": 2}
    assert pricing.endpoint_hourly("us-east-1", [priced]) == pytest.approx(0.23)
    assert pricing.endpoint_hourly("us-east-1", [priced, {"InstanceType": "ml.x.y"}]) is None
    assert pricing.endpoint_hourly("us-east-1", [{"InstanceType": None}]) is None
