"""strategy ab's Lambda steps on moto: the plan serves both variants at the configured split; the judge waits,
extends once when traffic is short, keeps production over a candidate that fails more, promotes one that does not."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import boto3
from driftline import state

from .conftest import REGION, invoke, put_config
from .test_rollout_steps import ENDPOINT, MODEL, REQUEST, RUN, serving

CONFIG = (
    "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
    "deployment:\n  strategy: ab\n  ab_seconds: 60\n  ab_min_requests: 100\n  ab_candidate_percent: 30\n"
    "  ab_metrics: [error_rate]\n"
)
PRODUCTION = "upload-20261101T000000"
CANDIDATE = "upload-20261128T060000"


def plan_ab(stack) -> dict:
    put_config(stack, CONFIG)
    serving()
    plan = invoke("plan_deployment", REQUEST)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    config = plan["canary_config"]
    model = plan["model"]
    sagemaker.create_model(
        ModelName=model["ModelName"],
        ExecutionRoleArn=model["ExecutionRoleArn"],
        PrimaryContainer=model["PrimaryContainer"],
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=config["EndpointConfigName"], ProductionVariants=config["ProductionVariants"]
    )
    sagemaker.delete_endpoint(EndpointName=ENDPOINT)
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config["EndpointConfigName"])
    return plan


def traffic(variant: str, requests: int, errors: int) -> None:
    dimensions = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}]
    now = datetime.now(UTC)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": now, "Value": requests},
            {"MetricName": "Invocation5XXErrors", "Dimensions": dimensions, "Timestamp": now, "Value": errors},
        ],
    )


def decide(plan: dict, started_at: float | None, extended: bool = False) -> dict:
    return invoke("watch_canary", {"ab": plan["ab"], "started_at": started_at, "extended": extended})


def test_ab_plans_both_variants_at_the_configured_split(stack):
    plan = plan_ab(stack)

    assert plan["strategy"] == "ab"
    weights = {v["VariantName"]: v["InitialVariantWeight"] for v in plan["canary_config"]["ProductionVariants"]}
    assert weights == {PRODUCTION: 0.7, CANDIDATE: 0.3}
    assert plan["ab"]["metrics"] == ["error_rate"] and plan["ab"]["min_requests"] == 100


def test_judge_waits_while_the_ab_test_runs(stack):
    plan = plan_ab(stack)

    answer = decide(plan, None)

    assert answer["action"] == "wait" and answer["extended"] is False


def test_short_traffic_extends_once_then_keeps_production(stack):
    plan = plan_ab(stack)
    traffic(PRODUCTION, 300, 0)
    traffic(CANDIDATE, 40, 0)

    first = decide(plan, time.time() - 61)
    second = decide(plan, time.time() - 121, extended=True)

    assert first["action"] == "wait" and first["extended"] is True
    assert second["action"] == "keep" and second["error"]["Error"] == "ProductionKeptByABTest"
    assert "after the extension" in second["error"]["Cause"]


def test_candidate_failing_more_is_kept_out_with_its_p_value_recorded(stack):
    plan = plan_ab(stack)
    traffic(PRODUCTION, 700, 7)
    traffic(CANDIDATE, 300, 30)

    answer = decide(plan, time.time() - 61)

    assert answer["action"] == "keep" and answer["failed_step"] == "A/B test"
    test = state.get_run(MODEL, RUN)["ab_test"]["tests"]["error_rate"]
    assert test["significant"] is True and float(test["p_value"]) < 1e-6


def test_candidate_not_worse_is_promoted_and_paged(stack):
    plan = plan_ab(stack)
    traffic(PRODUCTION, 700, 7)
    traffic(CANDIDATE, 300, 3)

    answer = decide(plan, time.time() - 61)

    assert answer["action"] == "promote" and answer["ab"]["decision"] == "promote"
    pages = stack.pages()
    assert any("A/B test promotes candidate" in p.get("Subject", "") for p in pages)
