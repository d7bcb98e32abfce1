"""PutDashboard in the local cloud accepts Driftline's dashboards and refuses what CloudWatch refuses, its way."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from driftline import dashboards

ARNS = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:driftline-bank-marketing-5xx"]


def _model_body() -> dict:
    return dashboards.model_dashboard_body("bank-marketing", "driftline-bank-marketing", "us-east-1", ARNS, 0.2)


def test_a_models_dashboard_is_accepted_and_kept(aws):
    cloudwatch = aws("cloudwatch")
    cloudwatch.put_dashboard(
        DashboardName="driftline-bank-marketing-us-east-1", DashboardBody=json.dumps(_model_body())
    )

    kept = cloudwatch.get_dashboard(DashboardName="driftline-bank-marketing-us-east-1")
    assert json.loads(kept["DashboardBody"]) == _model_body()


def _refusal(aws, body, name="driftline-bad") -> dict:
    with pytest.raises(ClientError) as error:
        aws("cloudwatch").put_dashboard(
            DashboardName=name, DashboardBody=body if isinstance(body, str) else json.dumps(body)
        )
    return error.value.response["Error"]


@pytest.mark.parametrize("body", ["{not json", "[]", '"text"'], ids=["not JSON", "array", "string"])
def test_a_body_that_is_not_a_json_object_is_refused(aws, body):
    error = _refusal(aws, body)

    assert error["Code"] == "InvalidParameterInput"
    assert error["Message"] == "The field DashboardBody must be a valid JSON object"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda b: b.pop("widgets"), "", "Should have required property 'widgets'"),
        (lambda b: b["widgets"][2].update(width=25), "/widgets/2/width", "Should be <= 24"),
        (lambda b: b["widgets"][2].update(height=0), "/widgets/2/height", "Should be >= 1"),
        (
            lambda b: b["widgets"][2]["properties"].pop("region"),
            "/widgets/2/properties",
            "Should have required property 'region'",
        ),
        (
            lambda b: b["widgets"][1]["properties"].pop("alarms"),
            "/widgets/1/properties",
            "Should have required property 'alarms'",
        ),
        (
            lambda b: b["widgets"][0]["properties"].pop("markdown"),
            "/widgets/0/properties",
            "Should have required property 'markdown'",
        ),
        (
            # inserted first, so the path does not depend on how many metrics the widget draws
            lambda b: b["widgets"][8]["properties"]["metrics"].insert(
                0, ["Driftline", "RunsFailed", {"Model": "x"}, "y"]
            ),
            "/widgets/8/properties/metrics/0/2",
            'Invalid metric field type, only "String" type is allowed',
        ),
    ],
    ids=[
        "no widgets",
        "too wide",
        "no height",
        "metric without region",
        "alarm widget without alarms",
        "text without markdown",
        "dimension as an object",
    ],
)
def test_a_body_cloudwatch_would_refuse_is_refused_with_its_validation_errors(aws, change, path, message):
    body = _model_body()
    change(body)

    error = _refusal(aws, body)

    assert error["Code"] == "InvalidParameterInput"
    head, _, listed = error["Message"].partition("\n")
    assert head == "The dashboard body is invalid, there are 1 validation errors:"
    assert json.loads(listed) == [{"dataPath": path, "message": message}]


def test_a_dashboard_name_with_other_characters_is_refused(aws):
    error = _refusal(aws, _model_body(), name="driftline/bank marketing")

    assert error["Code"] == "InvalidParameterInput"
