"""Every AWS call in the code is allowed by the role of every function that reaches it, on the right
resource; every state machine Task is allowed by its machine's role. Static: it covers what the local
cloud's IAM enforcement cannot (branches a run does not take, KMS use behind encrypted resources, the
`.sync` integrations' rules, conditions; docs/internals.md, "IAM in the local cloud").
"""

from __future__ import annotations

from typing import Any

import pytest
from driftline_local import iam, iam_static

TEMPLATE = iam_static.load()
FUNCTIONS = iam_static.function_dirs(TEMPLATE)
MACHINES = TEMPLATE.resources_of_type("AWS::StepFunctions::StateMachine")
KEY_ARN = TEMPLATE.arn(iam_static.KEY_LID)
SAGEMAKER_ROLE = TEMPLATE.arn("SageMakerExecutionRole")

# Actions AWS offers no resource type for (or, for List/Describe-all calls, only "*"): Service
# Authorization Reference, per service (https://docs.aws.amazon.com/service-authorization/latest/reference/).
STAR_ONLY = {
    "cloudwatch:PutMetricData",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetMetricData",
    "sagemaker:ListModelPackages",  # only an optional model-package type; the request names no package
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
}
# services whose resources the template names: the call must be allowed on one of them
KNOWN_TARGETS = {
    "dynamodb": "AWS::DynamoDB::Table",
    "sns": "AWS::SNS::Topic",
    "sqs": "AWS::SQS::Queue",
}
# Calls the function-level analysis cannot rule out but the function never makes (a branch chosen by a
# constant argument): (function, service, method) -> why.
NEVER_MADE = {
    ("RecordDeploymentFunction", "sagemaker", "delete_model"): (
        "deployment.delete_quietly deletes a model only for kind='model'; record_deployment passes 'endpoint_config'"
    ),
}
STATE_MACHINE_ACTIONS = {"states:StartExecution", "states:ListExecutions"}
PASSES_SAGEMAKER_ROLE = {
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateModel",
}


def _encrypted_with_key(lid: str) -> bool:
    properties = TEMPLATE.resource(lid).get("Properties", {})
    text = str(properties.get("BucketEncryption")) + str(properties.get("KmsMasterKeyId"))
    return iam_static.KEY_LID in text


def _needs(action: str) -> list[tuple[str, list[str | None], dict[str, str]]]:
    """(action, candidate resources - any one will do, condition context) a call's action implies."""
    service = action.split(":")[0]
    needs: list[tuple[str, list[str | None], dict[str, str]]] = []
    if service in KNOWN_TARGETS:
        kind = KNOWN_TARGETS[service]
        needs.append((action, [TEMPLATE.arn(lid) for lid in TEMPLATE.resources_of_type(kind)], {}))
        encrypted = any(_encrypted_with_key(lid) for lid in TEMPLATE.resources_of_type(kind))
        if action in ("sns:Publish", "sqs:SendMessage") and encrypted:
            # publishers to an encrypted topic / queue (SNS guide, "Data encryption"; SQS guide, "Key management")
            needs += [("kms:GenerateDataKey", [KEY_ARN], {}), ("kms:Decrypt", [KEY_ARN], {})]
    elif action in STATE_MACHINE_ACTIONS:
        needs.append((action, [TEMPLATE.arn(lid) for lid in MACHINES], {}))
    else:
        needs.append((action, [None], {}))
    if service == "s3" and any(_encrypted_with_key(b) for b in TEMPLATE.resources_of_type("AWS::S3::Bucket")):
        # SSE-KMS objects: reading decrypts, writing generates a data key (S3 guide, "Using SSE-KMS")
        if action in ("s3:GetObject", "s3:GetObjectVersion"):
            needs.append(("kms:Decrypt", [KEY_ARN], {}))
        elif action == "s3:PutObject":
            needs.append(("kms:GenerateDataKey", [KEY_ARN], {}))
    if action in PASSES_SAGEMAKER_ROLE:
        needs.append(("iam:PassRole", [SAGEMAKER_ROLE], {"iam:passedtoservice": "sagemaker.amazonaws.com"}))
    return needs


def _problems(documents: list[dict[str, Any]], action: str, candidates: list[str | None], context: dict) -> str:
    if not any(iam.decide(documents, action, c, context) == "Allow" for c in candidates):
        return f"{action} is not allowed on {candidates}"
    if candidates == [None] and action not in STAR_ONLY and not action.startswith("iam:"):
        allowing = [
            s
            for d in documents
            for s in (d["Statement"] if isinstance(d["Statement"], list) else [d["Statement"]])
            if s.get("Effect") == "Allow" and iam.statement_applies(s, action, None, context)
        ]
        if all("*" in iam._as_list(s.get("Resource", "*")) for s in allowing):
            return f"{action} is allowed only on Resource '*' (name the resource)"
    return ""


def _function_cases() -> list[Any]:
    return [pytest.param(lid, id=lid) for lid in sorted(FUNCTIONS)]


@pytest.mark.parametrize("lid", _function_cases())
def test_every_call_a_function_makes_is_allowed_by_its_role(lid: str) -> None:
    documents = TEMPLATE.role_documents(TEMPLATE.role_of(lid))
    problems = []
    for call in iam_static.handler_calls(FUNCTIONS[lid]):
        if (lid, call.service, call.method) in NEVER_MADE:
            continue
        for action in call.actions():
            for needed, candidates, context in _needs(action):
                problem = _problems(documents, needed, candidates, context)
                if problem:
                    problems.append(f"{call.where} {call.service}.{call.method}(): {problem}")
    assert not problems, f"{lid}'s role lacks:\n" + "\n".join(sorted(set(problems)))


@pytest.mark.parametrize("lid", MACHINES)
def test_every_task_of_a_state_machine_is_allowed_by_its_role(lid: str) -> None:
    documents = TEMPLATE.role_documents(TEMPLATE.role_of(lid))
    problems = []
    for need in iam_static.asl_requirements(TEMPLATE, lid):
        context = dict(need.context)
        problem = _problems(documents, need.action, [need.resource], context)
        if problem:
            problems.append(f"{need.why!r}: {problem}")
    assert not problems, f"{lid}'s role lacks:\n" + "\n".join(sorted(set(problems)))


def test_the_analysis_finds_the_calls_it_must() -> None:
    """Guards the analysis itself: calls through a bound client, a table factory, a paginator, the
    transfer manager and powertools' idempotency store are all seen."""
    upload = {(c.service, c.method) for c in iam_static.handler_calls("on_data_uploaded")}
    assert {("s3", "copy"), ("stepfunctions", "start_execution"), ("dynamodb", "put_item")} <= upload
    assert ("dynamodb", "table.get_item") in upload
    watch = {(c.service, c.method) for c in iam_static.handler_calls("watch_canary")}
    assert ("cloudwatch", "describe_alarms") in watch
    # a subpackage's calls, reached through an import inside a function (run_report -> run_report.collect)
    report = {(c.service, c.method) for c in iam_static.handler_calls("report_run")}
    assert {("stepfunctions", "get_execution_history"), ("sagemaker", "describe_processing_job")} <= report
    pipeline = {n.action for n in iam_static.asl_requirements(TEMPLATE, "TrainingPipeline")}
    assert {"lambda:InvokeFunction", "sagemaker:CreateProcessingJob", "events:PutRule", "iam:PassRole"} <= pipeline


def test_a_removed_permission_is_found() -> None:
    """The same check on a copy of the template without the upload function's StartExecution."""
    reduced = iam_static.load()
    policies = reduced.cfn["Resources"][reduced.role_of("OnDataUploadedFunction")]["Properties"]["Policies"]
    for policy in policies:
        statements = policy["PolicyDocument"]["Statement"]
        policy["PolicyDocument"]["Statement"] = [
            s for s in statements if "states:StartExecution" not in iam._as_list(s.get("Action"))
        ]
    documents = reduced.role_documents(reduced.role_of("OnDataUploadedFunction"))
    assert _problems(documents, "states:StartExecution", [TEMPLATE.arn(lid) for lid in MACHINES], {})


def _small_template(statements: list[Any], function_condition: str | None) -> iam_static.Template:
    function: dict[str, Any] = {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "functions/f/"}}
    if function_condition:
        function["Condition"] = function_condition
    cfn = {
        "Conditions": {"Off": {"Fn::Equals": ["a", "b"]}, "On": {"Fn::Equals": ["a", "a"]}},
        "Resources": {
            "Policy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": statements}},
            }
        },
    }
    return iam_static.Template({"Resources": {"F": function}}, cfn, {})


def test_no_value_removes_the_list_item_or_key_holding_it() -> None:
    allow = {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}
    optional = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}
    statements = [allow, {"Fn::If": ["Off", optional, {"Ref": "AWS::NoValue"}]}]
    small = _small_template(statements, None)
    document = small.resolve(small.resource("Policy")["Properties"]["PolicyDocument"])
    assert document["Statement"] == [allow]
    assert iam.decide([document], "sns:Publish", None, {}) == "Allow"
    assert small.resolve({"A": 1, "B": {"Fn::If": ["Off", 2, {"Ref": "AWS::NoValue"}]}}) == {"A": 1}


def test_a_function_whose_condition_is_false_has_no_role_to_check() -> None:
    assert iam_static.function_dirs(_small_template([], "Off")) == {}
    assert iam_static.function_dirs(_small_template([], "On")) == {"F": "f"}
