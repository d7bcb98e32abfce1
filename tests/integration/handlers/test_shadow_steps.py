"""shadow-canary's Lambda steps on moto: the plan puts the candidate in as a shadow, the judge waits, then passes or
fails it on the shadow variant's metrics and on its captured answers beside production's."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
from driftline import naming, state

from .conftest import REGION, invoke, put_config
from .test_rollout_steps import ENDPOINT, MODEL, REQUEST, RUN, serving

CONFIG = (
    "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
    "deployment:\n  strategy: shadow-canary\n  shadow_seconds: 60\n  shadow_min_requests: 20\n"
)
PRODUCTION = "upload-20261101T000000"
CANDIDATE = "upload-20261128T060000"


def plan_shadow(stack) -> dict:
    put_config(stack, CONFIG)
    serving()
    return invoke("plan_deployment", REQUEST)


def shadow_live(plan: dict) -> None:
    """The endpoint serves the shadow config (moto keeps no shadow variant; the judge reads the config name)."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    shadow = plan["shadow_config"]
    sagemaker.create_endpoint_config(
        EndpointConfigName=shadow["EndpointConfigName"], ProductionVariants=shadow["ProductionVariants"]
    )
    sagemaker.delete_endpoint(EndpointName=ENDPOINT)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=shadow["EndpointConfigName"])


def shadow_metrics(requests: int, errors: int, latency_us: float) -> None:
    """What SageMaker publishes for the shadow variant (AWS/SageMaker, its own VariantName)."""
    dimensions = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": CANDIDATE}]
    now = datetime.now(UTC)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": now, "Value": requests},
            {"MetricName": "Invocation5XXErrors", "Dimensions": dimensions, "Timestamp": now, "Value": errors},
            {
                "MetricName": "ModelLatency",
                "Dimensions": dimensions,
                "Timestamp": now,
                "StatisticValues": {
                    "SampleCount": requests,
                    "Sum": latency_us * requests,
                    "Minimum": latency_us,
                    "Maximum": latency_us,
                },
            },
        ],
    )


def captured(stack, variant: str, answers: list[str]) -> None:
    lines = [
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": f"{i},1"},
                    "endpointOutput": {
                        "observedContentType": "application/json",
                        "mode": "OUTPUT",
                        "data": json.dumps({"predictions": [{"label": label, "score": 0.5}]}),
                        "encoding": "JSON",
                    },
                },
                "eventMetadata": {"eventId": f"{variant}-{i}"},
            }
        )
        for i, label in enumerate(answers)
    ]
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.artifact_bucket,
        Key=f"{MODEL}/datacapture/{ENDPOINT}/{variant}/2026/12/01/20/00-00-000-x.jsonl",
        Body="\n".join(lines).encode(),
    )


def judge(plan: dict, started_at: float | None) -> dict:
    return invoke("watch_canary", {"judge": plan["shadow"], "started_at": started_at})


def test_shadow_canary_plans_the_candidate_as_the_shadow_of_production_then_a_canary(stack):
    plan = plan_shadow(stack)

    assert plan["strategy"] == "shadow-canary"
    shadow = plan["shadow_config"]
    assert shadow["EndpointConfigName"] == naming.job_name(RUN, "shadow")
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in shadow["ProductionVariants"]] == [(PRODUCTION, 1.0)]
    assert [v["VariantName"] for v in shadow["ShadowProductionVariants"]] == [CANDIDATE]
    assert shadow["DataCaptureConfig"]["EnableCapture"] is True
    assert {v["VariantName"] for v in plan["canary_config"]["ProductionVariants"]} == {PRODUCTION, CANDIDATE}
    assert plan["shadow"]["shadow_seconds"] == 60 and plan["shadow"]["min_requests"] == 20


def test_judge_waits_while_the_shadow_test_runs(stack):
    plan = plan_shadow(stack)
    shadow_live(plan)

    verdict = judge(plan, None)

    assert verdict["action"] == "wait" and verdict["started_at"] > 0 and verdict["wait_seconds"] >= 1


def test_failing_shadow_is_stopped_with_its_reasons_recorded_on_the_run(stack):
    plan = plan_shadow(stack)
    shadow_live(plan)
    shadow_metrics(requests=40, errors=40, latency_us=5_000)

    verdict = judge(plan, time.time() - 61)

    assert verdict["action"] == "fail" and verdict["failed_step"] == "Shadow test"
    assert verdict["error"]["Error"] == "ShadowTestFailed"
    assert "40 of 40 mirrored requests failed" in verdict["error"]["Cause"]
    run = state.get_run(MODEL, RUN)
    assert run["shadow_test"]["outcome"] == "failed" and run["shadow_test"]["errors"] == 40


def test_healthy_agreeing_shadow_passes(stack):
    plan = plan_shadow(stack)
    shadow_live(plan)
    shadow_metrics(requests=40, errors=0, latency_us=5_000)
    captured(stack, PRODUCTION, ["yes", "no"] * 20)
    captured(stack, CANDIDATE, ["yes", "no"] * 20)

    verdict = judge(plan, time.time() - 61)

    assert verdict["action"] == "pass", verdict
    assert verdict["shadow"]["compared"] == 40 and verdict["shadow"]["disagreement"] == 0.0
    assert round(verdict["shadow"]["latency_ms"]) == 5


def test_shadow_that_disagrees_with_production_fails(stack):
    plan = plan_shadow(stack)
    shadow_live(plan)
    shadow_metrics(requests=40, errors=0, latency_us=5_000)
    captured(stack, PRODUCTION, ["yes", "no"] * 20)
    captured(stack, CANDIDATE, ["yes"] * 40)

    verdict = judge(plan, time.time() - 61)

    assert (
        verdict["action"] == "fail" and "differs from production's on 50.0% of 40 requests" in verdict["error"]["Cause"]
    )
