"""The stack's dashboard body is one CloudWatch accepts, and its functions' dashboard permission is scoped."""

from __future__ import annotations

import re

from driftline_local import dashboard_limits


def _substituted(text: str) -> str:
    """${...} of Fn::Sub replaced by plausible values (names and ARNs are plain strings in the body)."""
    return re.sub(r"\$\{[^}]+\}", "x-value", text)


def _body(template) -> tuple[str, dict]:
    body, variables = template["Resources"]["StackDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return body, variables


def test_stack_dashboard_body_is_valid_for_cloudwatch_with_and_without_page_forwarding(template):
    body, variables = _body(template)
    forwarded = {name: value["Fn::If"][1]["Fn::Sub"] for name, value in variables.items()}

    assert (
        dashboard_limits.refusal(
            _substituted(body.replace("${ForwardPagesErrors}", "").replace("${ForwardPagesThrottles}", ""))
        )
        is None
    )
    for name, text in forwarded.items():
        body = body.replace("${" + name + "}", text)
    assert dashboard_limits.refusal(_substituted(body)) is None


def test_stack_dashboard_shows_failed_events_dead_letters_and_every_functions_errors(template):
    body, variables = _body(template)
    functions = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    body += "".join(value["Fn::If"][1]["Fn::Sub"] for value in variables.values())

    assert "ApproximateNumberOfMessagesVisible" in body and "${FailedEventsQueue.QueueName}" in body
    assert ":alarm:driftline-failed-events" in body and ":alarm:driftline-pipeline-failures" in body
    for lid in functions:
        name = template["Resources"][lid]["Properties"].get("FunctionName", {}).get("Fn::Sub", "${" + lid + "}")
        assert f'"Errors", "FunctionName", "{name}"' in body, lid


def test_dashboard_permission_is_put_only_on_driftline_dashboards(template):
    for lid, resource in template["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                action = statement.get("Action", [])
                actions = action if isinstance(action, list) else [action]
                if any("Dashboard" in action for action in actions):
                    assert actions == ["cloudwatch:PutDashboard"], lid
                    resource_arn = statement["Resource"]["Fn::Sub"]
                    assert resource_arn == "arn:${AWS::Partition}:cloudwatch::${AWS::AccountId}:dashboard/driftline-*"
