"""A drift alarm retrains its own model unless that model has a run going; another model's run,
even one whose name starts with this model's name, does not count."""

from __future__ import annotations

import boto3

from .conftest import REGION, invoke, put_config, sample

CONFIG = "name: {model}\nproblem_type: binary_classification\ntarget: y\n"


def drift_alarm(model: str) -> dict:
    event = sample("alarm_drift.json")
    event["detail"]["alarmName"] = f"driftline-{model}-drift"
    event["detail"]["state"]["value"] = "ALARM"
    return event


def running(stack, name: str) -> None:
    boto3.client("stepfunctions", region_name=REGION).start_execution(
        stateMachineArn=stack.pipeline_arn, name=name, input="{}"
    )


def test_a_running_run_of_a_model_whose_name_extends_this_one_does_not_block_its_retrain(stack):
    # Given churn-v2 is training, and churn drifts
    put_config(stack, CONFIG.format(model="churn"), model="churn")
    running(stack, "churn-v2-upload-20261128T065900")

    # When churn's drift alarm fires
    outcome = invoke("on_alarm", drift_alarm("churn"))

    # Then churn retrains
    assert outcome["retrain"]["started"] is True
    assert outcome["retrain"]["run_id"].startswith("churn-drift-")


def test_a_running_run_of_the_same_model_still_blocks_a_second_one(stack):
    put_config(stack, CONFIG.format(model="churn-v2"), model="churn-v2")
    running(stack, "churn-v2-upload-20261128T065900")

    outcome = invoke("on_alarm", drift_alarm("churn-v2"))

    assert outcome["retrain"]["started"] is False
    assert "churn-v2-upload-20261128T065900" in outcome["retrain"]["why"]


def test_a_running_run_of_a_shorter_model_name_does_not_block_the_longer_one(stack):
    put_config(stack, CONFIG.format(model="churn-v2"), model="churn-v2")
    running(stack, "churn-upload-20261128T065900")

    outcome = invoke("on_alarm", drift_alarm("churn-v2"))

    assert outcome["retrain"]["started"] is True
