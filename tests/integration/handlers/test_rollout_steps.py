"""CanaryRollout's Lambda steps on moto: the lock, the plan per strategy, and the watch's verdicts."""

from __future__ import annotations

import time

import boto3
import pytest
from driftline import state
from driftline.errors import RolloutInProgress

from .conftest import REGION, invoke, put_config

MODEL = "bank-marketing"
RUN = "bank-marketing-upload-20261128T060000"
ENDPOINT = "driftline-bank-marketing"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
REQUEST = {
    "model": MODEL,
    "run_id": RUN,
    "model_data_url": "s3://driftline-artifacts-example/m/model.tar.gz",
    "model_package_arn": None,
    "execution": RUN,
}


def serving(variant: str = "upload-20261101T000000", config: str = "prod-config") -> None:
    """Given an endpoint that serves one production variant."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(
        ModelName="prod-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "img", "ModelDataUrl": "s3://b/m.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": "prod-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=config)


def watch(**overrides) -> dict:
    event = {
        "model": MODEL,
        "run_id": RUN,
        "strategy": "canary",
        "endpoint_name": ENDPOINT,
        "expected_config": "prod-config",
        "candidate_variant": "upload-20261128T060000",
        "production_variant": "upload-20261101T000000",
        "alarms": ["driftline-bank-marketing-candidate-5xx"],
        "steps": [10, 50, 100],
        "step_index": 0,
        "bake_seconds": 60,
        "alarm_poll_seconds": 5,
        "started_at": None,
    } | overrides
    return invoke("watch_canary", event)


def test_first_deployment_plans_to_create_the_endpoint(stack):
    put_config(stack, CONFIG)

    plan = invoke("plan_deployment", REQUEST)

    assert plan["strategy"] == "first" and plan["production"] is None and plan["alarms"] == []
    assert [v["VariantName"] for v in plan["endpoint_config"]["ProductionVariants"]] == ["upload-20261128T060000"]


def test_later_deployment_plans_a_canary_beside_production_with_fresh_candidate_alarms(stack):
    put_config(stack, CONFIG)
    serving()

    plan = invoke("plan_deployment", REQUEST)

    assert plan["strategy"] == "canary"
    weights = {v["VariantName"]: v["InitialVariantWeight"] for v in plan["canary_config"]["ProductionVariants"]}
    assert weights == {"upload-20261101T000000": 0.9, "upload-20261128T060000": 0.1}
    alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNames=plan["alarms"])["MetricAlarms"]
    assert {a["AlarmName"] for a in alarms} == {
        "driftline-bank-marketing-candidate-5xx",
        "driftline-bank-marketing-candidate-model-errors",
        "driftline-bank-marketing-candidate-latency",
    }
    assert all(a["StateValue"] == "OK" for a in alarms)
    assert {d["Value"] for a in alarms for d in a["Dimensions"]} == {ENDPOINT, "upload-20261128T060000"}


def test_guardrails_strategy_plans_sagemakers_blue_green_canary_with_auto_rollback(stack):
    put_config(stack, CONFIG + "deployment:\n  strategy: guardrails\n  bake_seconds: 120\n")
    serving()

    plan = invoke("plan_deployment", REQUEST)

    policy = plan["deployment_config"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert policy == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 120,
    }
    rollback_alarms = plan["deployment_config"]["AutoRollbackConfiguration"]["Alarms"]
    assert {a["AlarmName"] for a in rollback_alarms} == set(plan["alarms"])


def test_second_rollout_of_the_same_model_is_refused_while_one_runs(stack):
    put_config(stack, CONFIG)
    state.acquire_rollout_lock(MODEL, "bank-marketing-upload-20261128T050000")

    with pytest.raises(RolloutInProgress, match="already being rolled out by bank-marketing-upload-20261128T050000"):
        invoke("plan_deployment", REQUEST)


def test_watch_keeps_baking_while_alarms_are_quiet(stack):
    serving()

    verdict = watch()

    assert verdict["action"] == "wait" and verdict["wait_seconds"] == 5 and verdict["started_at"] > 0


def test_watch_shifts_to_the_next_step_once_baked(stack):
    serving()

    verdict = watch(started_at=time.time() - 61)

    assert verdict["action"] == "shift" and verdict["percent"] == 50
    assert verdict["weights"] == [
        {"VariantName": "upload-20261101T000000", "DesiredWeight": 0.5},
        {"VariantName": "upload-20261128T060000", "DesiredWeight": 0.5},
    ]


def test_watch_finalizes_after_the_last_step(stack):
    serving()

    assert watch(step_index=2, started_at=time.time() - 61)["action"] == "finalize"


def test_watch_rolls_back_when_a_candidate_alarm_fires(stack):
    serving()
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="driftline-bank-marketing-candidate-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.01,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(
        AlarmName="driftline-bank-marketing-candidate-5xx",
        StateValue="ALARM",
        StateReason="Threshold Crossed: 1 datapoint [0.5] was greater than 0.01",
    )

    verdict = watch(step_index=1)

    assert verdict["action"] == "rollback"
    assert verdict["failed_step"] == "50% of traffic on the candidate"
    assert verdict["alarm"]["name"] == "driftline-bank-marketing-candidate-5xx"
    assert "0.5" in verdict["alarm"]["reason"]


def test_watch_rolls_back_when_the_endpoint_update_did_not_take_effect(stack):
    serving()

    verdict = watch(expected_config="canary-config")

    assert verdict["action"] == "rollback" and verdict["error"]["Error"] == "EndpointUpdateFailed"


def test_guardrails_watch_promotes_when_sagemaker_kept_the_candidate(stack):
    serving(config="candidate-config")

    assert watch(strategy="guardrails", expected_config="candidate-config")["action"] == "promote"
