"""Per-endpoint CloudWatch alarms, named `driftline-<model>-<what>`, created and updated by the rollout.

Candidate alarms watch the candidate variant while it bakes; production alarms watch the variant that
serves once it is promoted. SageMaker publishes Invocation4XXErrors/Invocation5XXErrors as 0/1 per
request, so their Average is the error rate; ModelLatency is in microseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftline import aws, naming
from driftline.observability import logger

if TYPE_CHECKING:  # the rollout steps that put alarms have loaded it; watching a bake (firing) needs no config
    from driftline.sagemaker_requests import RunContext

PERIOD_SECONDS = 60  # SageMaker endpoint metrics have one-minute resolution

# what -> (metric, statistic, description)
_ENDPOINT_ALARMS = {
    "5xx": ("Invocation5XXErrors", "Server errors (5xx, the container failed) as a share of requests"),
    "model-errors": ("Invocation4XXErrors", "Requests the model rejected (4xx) as a share of requests"),
    "latency": ("ModelLatency", "Average time the model takes to answer, in microseconds"),
}


def candidate_alarms(model: str) -> list[str]:
    return [naming.alarm_name(model, f"candidate-{what}") for what in _ENDPOINT_ALARMS]


def production_alarms(model: str) -> list[str]:
    return [naming.alarm_name(model, what) for what in _ENDPOINT_ALARMS]


def put_candidate_alarms(ctx: RunContext, endpoint: str, variant: str) -> list[str]:
    """(Re)point the candidate alarms at this candidate, starting from OK: an old candidate's ALARM does not count."""
    names = []
    for what in _ENDPOINT_ALARMS:
        name = naming.alarm_name(ctx.model, f"candidate-{what}")
        _put(ctx, name, what, endpoint, variant, f"candidate {variant} during its rollout")
        # PutMetricAlarm keeps an existing alarm's state; reset it for the new candidate.
        aws.client("cloudwatch").set_alarm_state(
            AlarmName=name, StateValue="OK", StateReason=f"watching new candidate {variant}"
        )
        names.append(name)
    return names


def put_production_alarms(ctx: RunContext, endpoint: str, variant: str) -> list[str]:
    """Point the production alarms at the variant now serving, and put the model's dashboard beside them."""
    names = []
    for what in _ENDPOINT_ALARMS:
        name = naming.alarm_name(ctx.model, what)
        _put(ctx, name, what, endpoint, variant, f"production variant {variant}")
        names.append(name)
    _put_dashboard(ctx, endpoint)
    _put_quality_alarm(ctx)
    return names


def _put_quality_alarm(ctx: RunContext) -> str:
    """`driftline-<model>-quality` on the quality job's findings, evaluated once per monitoring schedule.

    Not among `production_alarms`: it judges labelled predictions, not the serving variant, and retrains
    (on_alarm) instead of rolling back.
    """
    from driftline.monitoring import interval_seconds
    from driftline.quality import put_quality_alarm

    return put_quality_alarm(ctx.config, interval_seconds(ctx.config.monitoring.schedule))


def _put_dashboard(ctx: RunContext, endpoint: str) -> None:
    """The dashboard is for people: a refused or throttled PutDashboard is logged, never fails the promotion."""
    from botocore.exceptions import ClientError

    from driftline.dashboards import put_model_dashboard  # dashboards reads the alarm names from here

    try:
        put_model_dashboard(ctx, endpoint)
    except ClientError as error:
        logger.warning(
            "model dashboard not updated",
            extra={"model": ctx.model, "error": error.response.get("Error", {}).get("Code"), "why": str(error)},
        )


def _put(ctx: RunContext, name: str, what: str, endpoint: str, variant: str, whom: str) -> None:
    deployment = ctx.config.deployment
    metric, description = _ENDPOINT_ALARMS[what]
    threshold = deployment.max_latency_ms * 1000 if what == "latency" else deployment.max_error_rate
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        AlarmDescription=f"Driftline {ctx.model}: {description}, {whom}. See docs/runbook.md, '{name}'.",
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        Statistic="Average",
        Period=PERIOD_SECONDS,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=float(threshold),
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",  # no traffic is not a failure
        Tags=[{"Key": "driftline:model", "Value": ctx.model}],
    )


def firing(names: list[str]) -> list[dict[str, Any]]:
    """The alarms among `names` that are in ALARM, with their reason."""
    if not names:
        return []
    found = []
    paginator = aws.client("cloudwatch").get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            if alarm["StateValue"] == "ALARM":
                found.append(
                    {
                        "name": alarm["AlarmName"],
                        "reason": alarm.get("StateReason"),
                        "since": str(alarm.get("StateUpdatedTimestamp")),
                    }
                )
    return found
