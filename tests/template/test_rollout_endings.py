"""CanaryRollout's endings after a rollback, on moto's ASL interpreter: an alarm or an error ends
CandidateRolledBack, a failed shadow test CandidateFailedShadowTest, an A/B test that kept production
ProductionKeptByABTest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

ASL = Path(__file__).resolve().parents[2] / "statemachines" / "canary_rollout.asl.json"
ENDINGS = [
    "Was it an alarm or an error?",
    "Which error stopped it?",
    "Candidate rolled back",
    "Candidate failed its shadow test",
    "Production kept by the A/B test",
]


@pytest.fixture
def endings(monkeypatch):
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    states = json.loads(ASL.read_text())["States"]
    with mock_aws():
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="endings",
            definition=json.dumps({"StartAt": ENDINGS[0], "States": {name: states[name] for name in ENDINGS}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]

        def end(failure: dict) -> str:
            execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"failure": failure}))["executionArn"]
            while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                time.sleep(0.05)
            return str(described.get("error"))

        yield end


@pytest.mark.parametrize(
    ("error", "ending"),
    [
        (None, "CandidateRolledBack"),  # an alarm: the watch's error is null
        ({"Error": "EndpointFailed", "Cause": "endpoint status Failed"}, "CandidateRolledBack"),
        ({"Error": "ShadowTestFailed", "Cause": "..."}, "CandidateFailedShadowTest"),
        ({"Error": "ProductionKeptByABTest", "Cause": "..."}, "ProductionKeptByABTest"),
    ],
)
def test_rollout_ends_with_the_reason_it_was_stopped(endings, error, ending):
    assert endings({"failed_step": "x", "alarm": None, "error": error, "shadow": None, "ab": None}) == ending
