"""TrainingPipeline runs the statistics job before preprocessing only when its plan has one (instance_count > 1)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from .sagemaker_testkit import wait_for

CHOICE = "Is preprocessing sharded?"


@pytest.mark.parametrize(
    ("statistics", "branch"), [(None, "Preprocess the data"), ({"any": "request"}, "Compute the data's statistics")]
)
def test_the_pipeline_computes_statistics_first_only_when_the_plan_has_a_statistics_job(aws, statistics, branch):
    # Given TrainingPipeline's own choice state, with each branch's first state stubbed
    definition = json.loads(
        (Path(__file__).resolve().parents[3] / "statemachines" / "training_pipeline.asl.json").read_text()
    )
    states = definition["States"]
    choice = states[CHOICE]
    targets = {c["Next"] for c in choice["Choices"]} | {choice["Default"]}
    machine = {
        "StartAt": CHOICE,
        "States": {CHOICE: choice}
        | {name: {"Type": "Pass", "Result": name, "ResultPath": "$.branch", "End": True} for name in targets},
    }
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"choice-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(machine),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]

    # When a run's plan has (or has not) a statistics request
    execution = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps({"plan": {"Payload": {"statistics": statistics}}})
    )
    described = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] != "RUNNING" and d
    )

    # Then the run takes the matching branch, and a settled plan always reaches the choice
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["branch"] == branch
    assert states["Are uploads still arriving?"]["Default"] == CHOICE
    assert states["Compute the data's statistics"]["Next"] == "Preprocess the data"
