"""The local cloud logs one readable line per event and no ERROR or stack trace for a machine's expected failures."""

from __future__ import annotations

import json
import logging
import uuid

from .waiting import eventually

# A candidate's alarm fired: the Task fails, its Catch goes to the rollback, the machine ends FAILED on purpose.
DEFINITION = {
    "StartAt": "Check the candidate",
    "States": {
        "Check the candidate": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "no-such-bucket-for-this-test", "Key": "k"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Rolled back"}],
            "End": True,
        },
        "Rolled back": {"Type": "Fail", "Error": "CandidateRolledBack", "Cause": "candidate-5xx fired"},
    },
}


def _role(aws) -> str:
    name = f"quiet-{uuid.uuid4().hex[:8]}"
    trust = {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = aws("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )["Role"]["Arn"]
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    aws("iam").put_role_policy(
        RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]})
    )
    return arn


def test_a_rollback_that_ends_the_machine_failed_logs_no_error(aws, caplog):
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"quiet-{uuid.uuid4().hex[:8]}", definition=json.dumps(DEFINITION), roleArn=_role(aws)
    )["stateMachineArn"]
    caplog.set_level(logging.WARNING)

    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    eventually(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING", timeout=60)
    assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("moto.stepfunctions")]
    assert noisy == [], [r.getMessage()[:200] for r in noisy]
    assert not any(r.exc_info for r in caplog.records)


def test_a_page_is_one_readable_line(aws, caplog):
    sns = aws("sns")
    topic = sns.create_topic(Name=f"quiet-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="oncall@example.com")
    caplog.set_level(logging.INFO, logger="driftline_local.events")

    sns.publish(
        TopicArn=topic,
        Subject="[Driftline] churn: run failed at 'Train the model'",
        Message="What happened: ...",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "page"}},
    )

    lines = [r.getMessage() for r in caplog.records if r.name == "driftline_local.events"]
    assert lines == ["page (page) to oncall@example.com: [Driftline] churn: run failed at 'Train the model'"]
