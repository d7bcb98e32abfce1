"""One CloudWatch dashboard per model, `driftline-<model>-<region>`, put with its production alarms.

It shows what on-call looks at first: the model's alarms, requests and errors per endpoint variant,
latency, per-feature drift against its threshold, runs and spot savings. Every metric on it is one
Driftline or SageMaker really publishes:
- `AWS/SageMaker` Invocations, Invocation4XXErrors, Invocation5XXErrors, ModelLatency by
  EndpointName and VariantName (a SEARCH expression, so candidates beside production show up too);
- `Driftline/Monitoring` FeatureDrift by Model and Feature, DriftedFeatures by Model (monitoring.py);
- `Driftline/ModelQuality` AUC/Accuracy/F1 or RMSE/MAE and MissingLabelShare by Model (quality.py);
- `Driftline` (powertools EMF, dimensions Model and service) RunsSucceeded/RunsFailed/RunsRejected/
  RunsRolledBack, DriftRetrainsStarted, SpotSavingsPercent, SpotInterruptions.
The body follows CloudWatch's "Dashboard Body Structure and Syntax" (API reference). Dashboards are
global: their ARN has no region (`arn:<partition>:cloudwatch::<account>:dashboard/<name>`), so the name
carries the region: two stacks in two regions of one account never overwrite each other's dashboard.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from driftline import aws, naming
from driftline.alarms import production_alarms
from driftline.sagemaker_requests import RunContext
from driftline.settings import settings

PREFIX = "driftline-"
SERVICE = "driftline"  # powertools' service dimension on every EMF metric (observability.py)
PERIOD = 60
WIDTH = 24  # the dashboard grid is 24 units wide


def dashboard_name(model: str, region: str | None = None) -> str:
    return f"{PREFIX}{model}-{region or settings().region}"


def dashboard_location(model: str, region: str | None = None) -> dict[str, str]:
    """Where a person finds a model's dashboard: its name and console URL (for `driftline status --dashboard`)."""
    region = region or settings().region
    name = dashboard_name(model, region)
    return {
        "name": name,
        "url": f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/"
        + quote(name),
    }


def put_model_dashboard(ctx: RunContext, endpoint: str) -> str:
    """Create or replace the model's dashboard (PutDashboard replaces the whole body); returns its name."""
    name = dashboard_name(ctx.model, settings().region)
    body = model_dashboard_body(
        ctx.model, endpoint, settings().region, _alarm_arns(ctx.model), ctx.config.monitoring.drift_threshold
    )
    aws.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    return name


def _alarm_arns(model: str) -> list[str]:
    """The model's production, drift and quality alarms' ARNs, from the account and partition of the on-call topic."""
    partition, _, region, account = settings().on_call_topic_arn.split(":")[1:5]
    names = [*production_alarms(model), naming.alarm_name(model, "drift"), naming.alarm_name(model, "quality")]
    return [f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}" for name in names]


def model_dashboard_body(
    model: str, endpoint: str, region: str, alarm_arns: list[str], drift_threshold: float
) -> dict[str, Any]:
    def sagemaker(metric: str, stat: str) -> list[Any]:
        search = (
            f'SEARCH(\'{{AWS/SageMaker,EndpointName,VariantName}} MetricName="{metric}" '
            f"EndpointName=\"{endpoint}\"', '{stat}', {PERIOD})"
        )
        return [[{"expression": search, "id": f"e_{metric.lower()}"}]]

    def driftline(*metrics: str, stat: str = "Sum") -> list[list[Any]]:
        return [["Driftline", m, "Model", model, "service", SERVICE, {"stat": stat, "label": m}] for m in metrics]

    drift = (
        f'SEARCH(\'{{Driftline/Monitoring,Feature,Model}} MetricName="FeatureDrift" Model="{model}"\', '
        f"'Maximum', 300)"
    )
    # The live metrics against delayed labels (counts left out: they would flatten the scores' scale).
    quality = (
        f'SEARCH(\'{{Driftline/ModelQuality,Model}} Model="{model}" '
        f'MetricName=("AUC" OR "Accuracy" OR "F1" OR "RMSE" OR "MAE" OR "MissingLabelShare")\', '
        f"'Average', 300)"
    )
    widgets = [
        _text(
            0,
            f"# {model}\nEndpoint `{endpoint}`. Put by Driftline with the production alarms on every rollout; "
            "edits in the console are replaced. Runbook: docs/runbook.md.",
            height=2,
        ),
        _alarm(2, f"{model}: alarms", alarm_arns),
        _metric(4, 0, "Invocations per variant", sagemaker("Invocations", "Sum"), region, stat="Sum"),
        _metric(4, 12, "Server errors (5xx share) per variant", sagemaker("Invocation5XXErrors", "Average"), region),
        _metric(10, 0, "Model errors (4xx share) per variant", sagemaker("Invocation4XXErrors", "Average"), region),
        _metric(10, 12, "Model latency (microseconds) per variant", sagemaker("ModelLatency", "Average"), region),
        _metric(
            16,
            0,
            "Drift per feature vs threshold",
            [[{"expression": drift, "id": "e_drift"}]],
            region,
            stat="Maximum",
            period=300,
            threshold=("drift threshold", drift_threshold),
        ),
        _metric(
            16,
            12,
            "Drifted features",
            [["Driftline/Monitoring", "DriftedFeatures", "Model", model, {"stat": "Maximum"}]],
            region,
            stat="Maximum",
            period=300,
        ),
        _metric(
            22,
            0,
            "Runs",
            driftline(
                "RunsStarted", "RunsSucceeded", "RunsFailed", "RunsRejected", "RunsRolledBack", "DriftRetrainsStarted"
            ),
            region,
            stat="Sum",
            period=3600,
        ),
        _metric(
            22,
            12,
            "Spot training: savings (%) and interruptions",
            driftline("SpotSavingsPercent", stat="Average") + driftline("SpotInterruptions"),
            region,
            stat="Average",
            period=3600,
        ),
        _metric(
            28,
            0,
            "Model quality against delayed labels",
            [[{"expression": quality, "id": "e_quality"}]],
            region,
            period=300,
        ),
    ]
    return {"start": "-PT12H", "periodOverride": "inherit", "widgets": widgets}


def _text(y: int, markdown: str, height: int = 2) -> dict[str, Any]:
    return {"type": "text", "x": 0, "y": y, "width": WIDTH, "height": height, "properties": {"markdown": markdown}}


def _alarm(y: int, title: str, arns: list[str]) -> dict[str, Any]:
    return {
        "type": "alarm",
        "x": 0,
        "y": y,
        "width": WIDTH,
        "height": 2,
        "properties": {"title": title, "alarms": arns, "sortBy": "stateUpdatedTimestamp"},
    }


def _metric(
    y: int,
    x: int,
    title: str,
    metrics: list[Any],
    region: str,
    *,
    stat: str = "Average",
    period: int = PERIOD,
    threshold: tuple[str, float] | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": title,
        "view": "timeSeries",
        "stacked": False,
        "region": region,
        "stat": stat,
        "period": period,
        "metrics": metrics,
    }
    if threshold:
        properties["annotations"] = {"horizontal": [{"label": threshold[0], "value": threshold[1]}]}
    return {"type": "metric", "x": x, "y": y, "width": WIDTH // 2, "height": 6, "properties": properties}
