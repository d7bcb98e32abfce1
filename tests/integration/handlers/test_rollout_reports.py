"""The rollout's last steps (promote, roll back) rewrite the run's report.html so it shows how the rollout ended,
reading the rollout from their own execution (`$$.Execution.Id`: they cannot be given CANARY_ROLLOUT_ARN)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from driftline.settings import settings

from .conftest import REGION, invoke, put_config
from .test_rollout_steps import CONFIG, ENDPOINT, MODEL, REQUEST, RUN, serving

KEY = f"{MODEL}/runs/{RUN}/report.html"


@pytest.fixture
def rollout_execution(stack) -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="driftline-canary-rollout",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine, name=RUN, input="{}")["executionArn"]


def _report(stack) -> str | None:
    try:
        body = boto3.client("s3", region_name=REGION).get_object(Bucket=stack.artifact_bucket, Key=KEY)["Body"]
    except ClientError:
        return None
    return body.read().decode()


def test_a_finished_rollback_rewrites_the_runs_report_from_its_own_execution(stack, rollout_execution):
    # Given a rollout that failed before it planned anything
    request = {
        "model": MODEL,
        "run_id": RUN,
        "execution": RUN,
        "execution_arn": rollout_execution,
        "plan": None,
        "failed_step": "Plan the rollout",
        "error": {"Error": "States.TaskFailed", "Cause": "boom"},
    }

    # When the rollback finishes
    assert invoke("roll_back", request)["done"] is True

    # Then the run's report is there, its rollout read from the execution the step named
    html = _report(stack)
    assert html is not None and "<html" in html
    assert "CANARY_ROLLOUT_ARN" not in html


def test_a_promotion_rewrites_the_runs_report_from_its_own_execution(stack, rollout_execution, monkeypatch):
    # Given a candidate that now serves the endpoint alone
    monkeypatch.setenv("START_MONITORING_FUNCTION_ARN", f"arn:aws:lambda:{REGION}:123456789012:function:monitor")
    settings.cache_clear()
    put_config(stack, CONFIG)
    serving(variant="upload-20261128T060000", config="cand-config")

    # When the rollout records the deployment
    event = REQUEST | {"endpoint_name": ENDPOINT, "endpoint_config": "cand-config", "execution_arn": rollout_execution}
    invoke("record_deployment", event)

    # Then the run's report is there, its rollout read from the execution the step named
    html = _report(stack)
    assert html is not None and "<html" in html
    assert "CANARY_ROLLOUT_ARN" not in html
