"""DriftlineOperatorPolicy allows every AWS call the `driftline` operator commands can make, on the resources
they address. Static, like test_iam_static: `iam_static.operator_calls()` walks local/driftline_local/ops and
the layer code those commands run in-process on the operator's own credentials (operations, rollback,
run_report, ...), and lists every call whose client it cannot name (docs/internals.md, "The operator policy").
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from driftline import naming
from driftline.dashboards import dashboard_name
from driftline_local import iam, iam_static

TEMPLATE = iam_static.load()
POLICY = "DriftlineOperatorPolicy"
R, A = TEMPLATE.region, TEMPLATE.account
KEY_ARN = TEMPLATE.arn(iam_static.KEY_LID)

# A run of a model, named as the code names it (layers/common/driftline/naming.py)
MODEL = "churn"
RUN = naming.run_id(MODEL, "manual", datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
MACHINES = TEMPLATE.resources_of_type("AWS::StepFunctions::StateMachine")
TRAINING_LOGS = f"arn:aws:logs:{R}:{A}:log-group:/aws/sagemaker/TrainingJobs"  # ops/watch.py TRAINING_LOG_GROUP

# Actions whose resource is "*" for want of a resource type (Service Authorization Reference, per service:
# https://docs.aws.amazon.com/service-authorization/latest/reference/), as test_iam_static has them.
STAR_ONLY = {
    "cloudwatch:GetMetricData",  # list_amazoncloudwatch: no resource type
    "sagemaker:ListModelPackages",  # list_amazonsagemaker: only an optional model-package type; a list names none
}
# Actions that need no permission: STS API Reference, GetCallerIdentity ("No permissions are required to
# perform this operation"; https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
NO_PERMISSION = {"sts:GetCallerIdentity"}
# Calls the analysis reaches but the operator commands never make: (service, method) -> why.
NEVER_MADE = {
    ("sagemaker", "delete_endpoint"): (
        "rollback._restore_traffic deletes the endpoint only when the plan's production has no variant (a first "
        "deployment); operations.rollback always passes the target config's ProductionVariants[0].VariantName"
    ),
}
# Actions the policy still lacks, each waiting on a change outside this test's reach: action -> why. A test below
# fails once the policy has one (then remove it here).
AWAITING: dict[str, str] = {}
# Actions the policy grants that no operator command calls: action -> why they stay.
KEPT_UNUSED: dict[str, str] = {}
# Calls the analysis cannot resolve, reviewed: (file, code) -> why it needs no permission of its own.
UNRESOLVED_REVIEWED = {
    ("local/driftline_local/ops/session.py", "self.session.client(service, endpoint_url=self.endpoint_url)"): (
        "Driftline.client, the client factory: every caller names the service as a literal (`ops.client('s3')`), "
        "and the analysis resolves the calls at those call sites"
    ),
}


def _sagemaker(noun: str, name: str) -> str:
    return f"arn:aws:sagemaker:{R}:{A}:{noun}/{name.lower()}"


def _addressed(action: str) -> list[str] | None:
    """Every resource the operator code addresses with `action` (all must be allowed); None: not known here."""
    service, name = action.split(":")
    executions = [m.replace(":stateMachine:", ":execution:") + f":{RUN}" for m in map(TEMPLATE.arn, MACHINES)]
    if action == "cloudformation:DescribeStacks":
        return [f"arn:aws:cloudformation:{R}:{A}:stack/{TEMPLATE.stack}/0a1b2c3d-0000-0000-0000-000000000000"]
    if service == "dynamodb":
        return [TEMPLATE.arn("StateTable")]
    if action == "sns:Publish":
        return [TEMPLATE.arn("OnCallTopic")]
    if action in ("states:StartExecution", "states:ListExecutions"):
        return [TEMPLATE.arn(m) for m in MACHINES]  # retrain: the pipeline; promote: the rollout; watch: both
    if service == "states":
        return executions
    if service == "sagemaker":
        for suffix, noun, resource in (
            ("TrainingJob", "training-job", naming.job_name(RUN, "train")),
            ("ProcessingJob", "processing-job", naming.job_name(RUN, "evaluate")),
            ("EndpointConfig", "endpoint-config", naming.job_name(RUN, "config")),
            ("EndpointWeightsAndCapacities", "endpoint", naming.endpoint_name(MODEL)),
            ("Endpoint", "endpoint", naming.endpoint_name(MODEL)),
            ("ModelPackage", "model-package", f"{naming.model_package_group(MODEL)}/1"),
            ("Model", "model", naming.job_name(RUN, "model")),
        ):
            if name.endswith(suffix):
                return [_sagemaker(noun, resource)]
    # DescribeAlarms too: resource type alarm; only composite alarms need it on "*" (CloudWatch API Reference,
    # DescribeAlarms), and Driftline's alarms are metric alarms (alarms.py)
    if action in ("cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:DescribeAlarms"):
        return [f"arn:aws:cloudwatch:{R}:{A}:alarm:{naming.alarm_name(MODEL, 'latency')}"]
    if action == "cloudwatch:PutDashboard":
        return [f"arn:aws:cloudwatch::{A}:dashboard/{dashboard_name(MODEL, R)}"]
    if action == "cloudwatch:GetDashboard":  # status: the stack's dashboard and each model's
        stack_dashboard = TEMPLATE.resolve(TEMPLATE.resource("StackDashboard")["Properties"]["DashboardName"])
        return [f"arn:aws:cloudwatch::{A}:dashboard/{n}" for n in (dashboard_name(MODEL, R), stack_dashboard)]
    if action == "logs:DescribeLogStreams":  # resource type log-group
        return [TRAINING_LOGS]
    if action == "logs:GetLogEvents":  # resource type log-stream
        return [f"{TRAINING_LOGS}:log-stream:{naming.job_name(RUN, 'train')}/algo-1-1764590400"]
    return None


def _needs(action: str, call: iam_static.Call | None = None) -> list[tuple[str, str | None, dict[str, str]]]:
    """(action, resource, condition context) triples `action` implies: the action on each addressed resource
    (an S3 call's key or list prefix where the code spells it), and KMS for the encrypted table, topic and
    buckets (SNS guide "Data encryption"; S3 guide "Using SSE-KMS")."""
    resources: list[str | None] = list(_addressed(action) or [None])
    needs: list[tuple[str, str | None, dict[str, str]]] = [(action, r, {}) for r in resources]
    if call is not None and call.bucket and call.key and action.startswith("s3:"):
        bucket = TEMPLATE.arn(call.bucket)
        if action == "s3:ListBucket":
            needs = [(action, bucket, {"s3:prefix": call.key})]
        else:
            needs = [(action, f"{bucket}/{call.key}", {})]
    if action in ("s3:GetObject", "s3:GetObjectVersion"):
        needs.append(("kms:Decrypt", KEY_ARN, {}))
    if action in ("s3:PutObject", "sns:Publish"):
        needs.append(("kms:GenerateDataKey", KEY_ARN, {}))
    if action.startswith("dynamodb:"):  # a table encrypted with a customer managed key
        needs.append(("kms:Decrypt", KEY_ARN, {}))
    if action == "cloudwatch:PutMetricAlarm":  # alarms.put_production_alarms passes Tags: a tagged alarm
        needs += [("cloudwatch:TagResource", r, {}) for r in _addressed(action) or [None]]
    return needs


def _problem(documents: list[dict[str, Any]], action: str, resource: str | None, context: dict[str, str]) -> str:
    if iam.decide(documents, action, resource, context) != "Allow":
        where = f"{resource} {context}" if context else resource or "any resource"
        return f"{action} is not allowed on {where}"
    allowing = [
        s
        for d in documents
        for s in (d["Statement"] if isinstance(d["Statement"], list) else [d["Statement"]])
        if s.get("Effect") == "Allow" and iam.statement_applies(s, action, resource, context)
    ]
    on_star_only = all("*" in iam._as_list(s.get("Resource", "*")) for s in allowing)
    if on_star_only and action not in STAR_ONLY:
        return f"{action} is allowed only on Resource '*' (name the resource)"
    return ""


def _documents(template: iam_static.Template) -> list[dict[str, Any]]:
    return [template.resolve(template.cfn["Resources"][POLICY]["Properties"]["PolicyDocument"])]


def missing(documents: list[dict[str, Any]]) -> list[str]:
    calls, _ = iam_static.operator_calls()
    problems = []
    for call in calls:
        if (call.service, call.method) in NEVER_MADE:
            continue
        for action in call.actions():
            if action in NO_PERMISSION or action in AWAITING:
                continue
            for needed, resource, context in _needs(action, call):
                problem = _problem(documents, needed, resource, context)
                if problem:
                    problems.append(f"{problem} ({call.service}.{call.method}() at {call.where})")
    return sorted(set(problems))


def test_the_operator_policy_allows_every_call_the_operator_commands_make() -> None:
    problems = missing(_documents(TEMPLATE))
    assert not problems, f"{POLICY} lacks:\n" + "\n".join(problems)


@pytest.mark.parametrize("action", sorted(AWAITING))
def test_an_awaited_action_is_still_missing_and_still_needed(action: str) -> None:
    """AWAITING lists real gaps, visibly: each is an action a call needs that the policy does not allow."""
    calls, _ = iam_static.operator_calls()
    assert action in {a for c in calls for a in c.actions()}, f"{action} is no longer needed"
    assert iam.decide(_documents(TEMPLATE), action, None, {}) != "Allow", f"{action} is allowed now: drop it here"


def test_every_call_the_analysis_cannot_resolve_is_listed_and_reviewed() -> None:
    _, unresolved = iam_static.operator_calls()
    unreviewed = [u for u in unresolved if (u.where.rsplit(":", 1)[0], u.code) not in UNRESOLVED_REVIEWED]
    assert not unreviewed, "calls whose client the analysis cannot name (review each, add it with a reason):\n" + (
        "\n".join(f"{u.where}: {u.code} ({u.reason})" for u in unreviewed)
    )
    listed = {(u.where.rsplit(":", 1)[0], u.code) for u in unresolved}
    assert set(UNRESOLVED_REVIEWED) <= listed, "a reviewed call is gone: remove it from UNRESOLVED_REVIEWED"


def test_every_never_made_call_is_still_found() -> None:
    """NEVER_MADE excuses a call the analysis finds: once the code drops it, the excuse goes too."""
    calls, _ = iam_static.operator_calls()
    assert set(NEVER_MADE) <= {(c.service, c.method) for c in calls}


def test_the_analysis_finds_the_calls_it_must() -> None:
    """Guards the analysis: a `Driftline` session's clients and table, a property (`ops.stack`), a client passed
    as an argument, a module's own method (`self.ops.client`), and the layer code behind act commands and report."""
    calls, _ = iam_static.operator_calls()
    found = {(c.service, c.method, c.where.rsplit(":", 1)[0]) for c in calls}
    ops = "local/driftline_local/ops"
    layer = "layers/common/driftline"
    assert {
        ("cloudformation", "describe_stacks", f"{ops}/session.py"),  # ops.stack -> Driftline._describe_stack
        ("dynamodb", "table.query", f"{ops}/session.py"),  # ops.table() in Driftline.model_items
        ("sagemaker", "describe_training_job", f"{ops}/watch.py"),  # self.ops.client("sagemaker")
        ("logs", "get_log_events", f"{ops}/watch.py"),
        ("s3", "head_object", f"{ops}/quarantine.py"),  # _exists(s3, ...): a client passed on
        ("sts", "get_caller_identity", f"{layer}/operations.py"),  # act_common.bind_layer -> operations.caller
        ("sagemaker", "update_endpoint", f"{layer}/rollback.py"),  # rollback -> rollback.roll_back
        ("cloudwatch", "get_metric_data", f"{layer}/run_report/collect.py"),  # report -> run_report.collect
    } <= found
    # S3 keys as the code spells them: a module constant kept, a leading value one path segment, an unknown
    # start left unresolved
    keys = {(c.method, c.bucket, c.key) for c in calls if c.service == "s3" and c.key}
    assert {
        ("list_objects_v2", "DataBucket", "quarantine/x/"),
        ("list_objects_v2", "ArtifactBucket", "x/monitoring/"),
        ("get_object", "ArtifactBucket", "x/runs/x/evaluation/evaluation.json"),
    } <= keys
    assert not any(key.startswith("x.") for _, _, key in keys)  # f"{key}{REASON_SUFFIX}": its start is unknown


def test_a_removed_permission_is_found() -> None:
    """The same check on a copy of the policy without its TrainingLogs statement."""
    reduced = copy.deepcopy(TEMPLATE)
    statements = reduced.cfn["Resources"][POLICY]["Properties"]["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != "TrainingLogs"]
    problems = missing(_documents(reduced))
    assert any(p.startswith("logs:GetLogEvents is not allowed") for p in problems), problems


@pytest.mark.parametrize("action", sorted(STAR_ONLY))
def test_star_only_actions_are_made(action: str) -> None:
    """An entry in STAR_ONLY excuses a '*': it stays only while the operator code makes that call."""
    calls, _ = iam_static.operator_calls()
    assert action in {a for c in calls for a in c.actions()}


def test_the_operator_policy_grants_no_action_the_operator_commands_do_not_need() -> None:
    """Least privilege the other way round: every action the policy names is one a call needs."""
    calls, _ = iam_static.operator_calls()
    needed = {n for c in calls for a in c.actions() for n, _, _ in _needs(a, c)}
    granted = {
        action
        for document in _documents(TEMPLATE)
        for statement in document["Statement"]
        for action in iam._as_list(statement.get("Action"))
    }
    extra = granted - needed - set(KEPT_UNUSED)
    assert not extra, f"{POLICY} grants actions no operator command needs: {sorted(extra)}"
    assert set(KEPT_UNUSED) <= granted - needed, "a KEPT_UNUSED action is needed now, or gone: update KEPT_UNUSED"


def test_calls_on_a_client_the_analysis_cannot_name_are_reported(tmp_path) -> None:
    """The analysis never drops a call silently: a client kept on an attribute, or made from a variable, is
    reported; one bound through `ops.client("...")` is resolved."""
    source = tmp_path / "fake.py"
    source.write_text(
        "def f(ops, name):\n"
        "    ops.sfn.describe_execution(executionArn='x')\n"
        "    ops.client(name).list_executions(stateMachineArn='y')\n"
        "    logs = ops.client('logs')\n"
        "    logs.get_log_events(logGroupName='g', logStreamName='s')\n",
        encoding="utf-8",
    )
    module = iam_static._parse("driftline_local.ops.fake", source)
    finder = iam_static._OperatorCallFinder(module, {}, {})
    calls = finder.calls(module.functions["f"])
    assert [(c.service, c.method) for c in calls] == [("logs", "get_log_events")]
    assert {u.code.split("(")[0] for u in finder.unresolved} == {"ops.sfn.describe_execution", "ops.client"}
