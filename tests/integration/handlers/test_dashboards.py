"""A promoted model gets its CloudWatch dashboard, put with its production alarms, in a body CloudWatch accepts."""

from __future__ import annotations

import json

import boto3
import pytest
from driftline import dashboards
from driftline.settings import settings
from driftline_local import dashboard_limits

from .conftest import REGION, invoke, put_config
from .test_rollout_steps import CONFIG, ENDPOINT, MODEL, REQUEST, serving


@pytest.fixture
def strict_dashboards():
    """moto's CloudWatch with the local cloud's PutDashboard checks (CloudWatch's)."""
    dashboard_limits.install()
    yield


def test_promotion_puts_the_models_dashboard_with_its_alarms_and_metrics(stack, strict_dashboards, monkeypatch):
    # Given a model whose candidate now serves the endpoint alone
    monkeypatch.setenv("START_MONITORING_FUNCTION_ARN", f"arn:aws:lambda:{REGION}:123456789012:function:monitor")
    settings.cache_clear()
    put_config(stack, CONFIG)
    serving(variant="upload-20261128T060000", config="cand-config")

    # When the rollout records the deployment
    invoke("record_deployment", REQUEST | {"endpoint_name": ENDPOINT, "endpoint_config": "cand-config"})

    # Then the model's dashboard exists, names its alarms, and draws the metrics Driftline publishes
    name = dashboards.dashboard_name(MODEL, REGION)
    body = json.loads(boto3.client("cloudwatch", region_name=REGION).get_dashboard(DashboardName=name)["DashboardBody"])
    text = json.dumps(body)
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert any(arn.endswith(":alarm:driftline-bank-marketing-5xx") for arn in alarm_widget["properties"]["alarms"])
    assert any(arn.endswith(":alarm:driftline-bank-marketing-drift") for arn in alarm_widget["properties"]["alarms"])
    assert any(arn.endswith(":alarm:driftline-bank-marketing-quality") for arn in alarm_widget["properties"]["alarms"])
    for metric in (
        "Invocations",
        "Invocation5XXErrors",
        "ModelLatency",
        "FeatureDrift",
        "RunsFailed",
        "SpotSavingsPercent",
        "DriftRetrainsStarted",
        "Driftline/ModelQuality",
        "MissingLabelShare",
    ):
        assert metric in text
    assert f'EndpointName=\\"{ENDPOINT}\\"' in text
    [drift] = [w for w in body["widgets"] if w["properties"].get("title") == "Drift per feature vs threshold"]
    assert drift["properties"]["annotations"]["horizontal"][0]["value"] == 0.2


def test_dashboard_location_gives_name_and_console_url():
    where = dashboards.dashboard_location("bank-marketing", "eu-west-1")

    assert where["name"] == "driftline-bank-marketing-eu-west-1"
    assert where["url"] == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#dashboards/dashboard/driftline-bank-marketing-eu-west-1"
    )
