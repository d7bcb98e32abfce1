"""DriftlineKey's policy lets every AWS service that uses the key in its own name do so (log groups,
alarms and EventBridge into the encrypted topic and queue) and delegates to IAM for the rest: what
CloudFormation, CloudWatch Logs, SNS and SQS would refuse on AWS and moto never checks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from driftline_local import iam_static, kms_policy, stack

TEMPLATE = iam_static.load()


def test_every_service_that_uses_the_key_is_allowed_by_its_policy() -> None:
    assert kms_policy.problems(TEMPLATE) == []


def test_the_check_covers_every_service_that_uses_the_key() -> None:
    principals = {use.principal for use in kms_policy.uses(TEMPLATE)}
    assert {
        f"service:logs.{TEMPLATE.region}.amazonaws.com",
        "service:cloudwatch.amazonaws.com",
        "service:events.amazonaws.com",
        f"aws:arn:aws:iam::{TEMPLATE.account}:root",
    } <= principals
    protected = {TEMPLATE.cfn["Resources"][use.resource]["Type"] for use in kms_policy.uses(TEMPLATE)}
    assert {"AWS::Logs::LogGroup", "AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::DynamoDB::Table"} <= (
        protected
    )


def _without_statements(granting: str) -> iam_static.Template:
    reduced = iam_static.load()
    policy = reduced.cfn["Resources"][iam_static.KEY_LID]["Properties"]["KeyPolicy"]
    policy["Statement"] = [s for s in policy["Statement"] if granting not in str(s.get("Principal"))]
    return reduced


def test_a_key_policy_without_the_logs_grant_is_refused_as_cloudwatch_logs_refuses_it() -> None:
    reduced = _without_statements("logs.")
    problems = kms_policy.problems(reduced)
    assert problems and all("logs.us-east-1.amazonaws.com" in p for p in problems)
    refusal = kms_policy.log_group_refusal(reduced)
    assert refusal is not None
    assert "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:" in refusal


def test_a_key_policy_without_the_alarm_grant_fails_for_the_on_call_topic() -> None:
    problems = kms_policy.problems(_without_statements("cloudwatch.amazonaws.com"))
    assert problems and all("cloudwatch.amazonaws.com" in p and "OnCallTopic" in p for p in problems)


def test_a_log_group_outside_the_granted_names_is_refused() -> None:
    reduced = iam_static.load()
    group = next(iter(reduced.resources_of_type("AWS::Logs::LogGroup")))
    reduced.cfn["Resources"][group]["Properties"]["LogGroupName"] = "/somewhere/else"
    assert any(group in p for p in kms_policy.problems(reduced))


def test_the_local_deploy_rolls_back_a_stack_whose_log_groups_cannot_use_the_key() -> None:
    ctx = SimpleNamespace(region=TEMPLATE.region, account_id=TEMPLATE.account)
    stack._refuse_unusable_log_group_keys(ctx, TEMPLATE.sam, TEMPLATE.cfn, {}, "driftline")  # type: ignore[arg-type]
    reduced = _without_statements("logs.")
    with pytest.raises(stack.StackRolledBack, match="is not allowed to be used with Arn 'arn:aws:logs:"):
        stack._refuse_unusable_log_group_keys(ctx, reduced.sam, reduced.cfn, {}, "driftline")  # type: ignore[arg-type]
