"""What AWS checks at deploy and run time, read from the template: key policy grants, IAM paths, quotas.

Each test evaluates the policy documents the way AWS does for the case at hand (principal, action,
resource or encryption context, conditions), with the stack's pseudo parameters filled in.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from typing import Any

import pytest
from moto.events.models import EventPattern

from .conftest import REPO

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "driftline",
    "AWS::URLSuffix": "amazonaws.com",
}
BUCKETS = {"DataBucket": "driftline-data-example", "ArtifactBucket": "driftline-artifacts-example"}
KEY = {"Fn::GetAtt": ["DriftlineKey", "Arn"]}
KEY_REFS = ({"Ref": "DriftlineKey"}, KEY, {"Fn::GetAtt": "DriftlineKey.Arn"})


# --- resolving the intrinsics these policies use -----------------------------------------------
def _sub(template: dict, text: str) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in PSEUDO:
            return PSEUDO[name]
        if name in BUCKETS:
            return BUCKETS[name]
        resource, _, attribute = name.partition(".")
        if resource in BUCKETS and attribute == "Arn":
            return f"arn:aws:s3:::{BUCKETS[resource]}"
        return f"<{name}>"  # not needed by these tests

    return re.sub(r"\$\{([^}]+)\}", value, text)


def resolve(template: dict, node: Any) -> Any:
    """Resolve !Sub, !Ref and !GetAtt ...Arn for the resources whose names the stack fixes."""
    if isinstance(node, list):
        return [resolve(template, v) for v in node]
    if not isinstance(node, dict):
        return node
    if "Fn::Sub" in node:
        return _sub(template, node["Fn::Sub"])
    if "Ref" in node:
        name = node["Ref"]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in BUCKETS:
            return BUCKETS[name]
        if name in template.get("Parameters", {}):
            return template["Parameters"][name].get("Default", f"<{name}>")
        resource = template["Resources"][name]
        if resource["Type"] == "AWS::SNS::Topic":
            return f"arn:aws:sns:us-east-1:123456789012:{resolve(template, resource['Properties']['TopicName'])}"
        if resource["Type"] == "AWS::Serverless::StateMachine":
            return f"arn:aws:states:us-east-1:123456789012:stateMachine:{resource['Properties']['Name']}"
        return f"<{name}>"  # not needed by these tests
    if "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        name, attribute = target if isinstance(target, list) else target.split(".", 1)
        if name in BUCKETS and attribute == "Arn":
            return f"arn:aws:s3:::{BUCKETS[name]}"
        resource = template["Resources"][name]
        if resource["Type"] == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:us-east-1:123456789012:{resolve(template, resource['Properties']['QueueName'])}"
        if resource["Type"] == "AWS::KMS::Key" and attribute == "Arn":
            return "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        return f"<{name}.{attribute}>"  # not needed by these tests
    return {k: resolve(template, v) for k, v in node.items()}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# --- a small IAM evaluator: enough for Allow/Deny with the condition operators used here -------
def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                return False
            patterns = [str(p) for p in _as_list(expected)]
            if operator in ("StringEquals", "ArnEquals"):
                ok = actual in patterns
            elif operator in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(actual, p) for p in patterns)
            elif operator == "Bool":
                ok = actual.lower() in [p.lower() for p in patterns]
            else:
                raise AssertionError(f"test does not evaluate {operator}")
            if not ok:
                return False
    return True


def _matches(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    actions = _as_list(statement.get("Action", []))
    if not any(fnmatch.fnmatch(action.lower(), a.lower()) for a in actions):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in _as_list(statement.get("Resource", "*"))):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def decide(statements: list[dict], action: str, resource: str, context: dict[str, str] | None = None) -> str:
    """'Allow', 'Deny' (explicit) or 'ImplicitDeny', as IAM evaluates one principal's policies."""
    matching = [s for s in statements if _matches(s, action, resource, context or {})]
    if any(s["Effect"] == "Deny" for s in matching):
        return "Deny"
    return "Allow" if matching else "ImplicitDeny"


def key_policy(template: dict) -> list[dict]:
    return resolve(template, template["Resources"]["DriftlineKey"]["Properties"]["KeyPolicy"]["Statement"])


def service_statements(template: dict, service: str) -> list[dict]:
    return [s for s in key_policy(template) if service in _as_list(s.get("Principal", {}).get("Service", []))]


def _uses_key(value: Any) -> bool:
    return any(value == ref for ref in KEY_REFS)


# --- defect: the key policy must let every service that encrypts with the key use it --------------
def _encrypted_log_groups(template: dict) -> list[str]:
    return [
        resolve(template, r["Properties"]["LogGroupName"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup" and _uses_key(r["Properties"].get("KmsKeyId"))
    ]


def test_cloudwatch_logs_may_use_the_key_for_every_encrypted_log_group(template):
    groups = _encrypted_log_groups(template)
    statements = service_statements(template, "logs.us-east-1.amazonaws.com")

    assert groups
    for group in groups:
        context = {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"}
        for action in ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey"):
            assert decide(statements, action, "*", context) == "Allow", (group, action)


def test_cloudwatch_logs_may_not_use_the_key_for_other_log_groups(template):
    statements = service_statements(template, "logs.us-east-1.amazonaws.com")
    foreign = {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:/other/app"}

    assert decide(statements, "kms:Decrypt", "*", foreign) == "ImplicitDeny"


def test_alarms_may_publish_to_every_encrypted_topic_they_notify(template):
    resources = template["Resources"]
    pairs = [
        (resolve(template, r["Properties"]["AlarmName"]), topic)
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        for action in r["Properties"].get("AlarmActions", [])
        if isinstance(action, dict)
        and (topic := action.get("Ref")) in resources
        and _uses_key(resources[topic]["Properties"].get("KmsMasterKeyId"))
    ]
    statements = service_statements(template, "cloudwatch.amazonaws.com")

    assert pairs
    for alarm, topic in pairs:
        context = {
            "aws:SourceAccount": "123456789012",
            "aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}",
            "kms:EncryptionContext:aws:sns:topicArn": resolve(template, {"Ref": topic}),
        }
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert decide(statements, action, "*", context) == "Allow", (alarm, topic, action)
        other_account = context | {
            "aws:SourceAccount": "999999999999",
            "aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:999999999999:alarm:{alarm}",
        }
        assert decide(statements, "kms:GenerateDataKey", "*", other_account) == "ImplicitDeny"


def _event_rule_dead_letter_queues(template: dict) -> set[str]:
    queues = set()
    for resource in template["Resources"].values():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            arn = event.get("Properties", {}).get("DeadLetterConfig", {}).get("Arn")
            if event["Type"] == "EventBridgeRule" and isinstance(arn, dict):
                target = arn["Fn::GetAtt"]
                queues.add(target[0] if isinstance(target, list) else target.split(".")[0])
    return queues


def test_eventbridge_may_dead_letter_into_every_encrypted_queue(template):
    resources = template["Resources"]
    queues = [
        q
        for q in _event_rule_dead_letter_queues(template)
        if _uses_key(resources[q]["Properties"].get("KmsMasterKeyId"))
    ]
    statements = service_statements(template, "events.amazonaws.com")

    assert queues
    for queue in queues:
        context = {"kms:EncryptionContext:aws:sqs:arn": resolve(template, {"Fn::GetAtt": [queue, "Arn"]})}
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert decide(statements, action, "*", context) == "Allow", (queue, action)
    other_queue = {"kms:EncryptionContext:aws:sqs:arn": "arn:aws:sqs:us-east-1:123456789012:someone-else"}
    assert decide(statements, "kms:Decrypt", "*", other_queue) == "ImplicitDeny"


CONFINING_KEYS = ("aws:SourceAccount", "aws:SourceArn", "kms:ViaService", "kms:CallerAccount", "kms:EncryptionContext:")


def test_every_service_principal_in_the_key_policy_is_confined_by_a_condition(template):
    for statement in key_policy(template):
        if "Service" not in statement.get("Principal", {}):
            continue
        keys = [key for tests in statement.get("Condition", {}).values() for key in tests]

        assert any(key.startswith(CONFINING_KEYS) for key in keys), statement.get("Sid")


# --- defect: reserved concurrency must not exceed what a new account has -------------------------
def _translate(template_path, parameters: dict[str, str]) -> dict:
    import boto3
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.yaml_helper import yaml_parse

    sam = yaml_parse(template_path.read_text())
    uris = {
        "AWS::Serverless::Function": "CodeUri",
        "AWS::Serverless::LayerVersion": "ContentUri",
        "AWS::Serverless::StateMachine": "DefinitionUri",
    }
    for name, resource in sam["Resources"].items():  # as `sam package` leaves it
        if resource["Type"] in uris:
            resource["Properties"][uris[resource["Type"]]] = f"s3://packaged/{name}.zip"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name="us-east-1"))
    policies = get_bundled_managed_policy_map("aws") or {}
    return translator.translate(sam, parameter_values=parameters, get_managed_policy_map=lambda: policies)


class _NoValue:
    pass


def _evaluate(cfn: dict, parameters: dict[str, str], node: Any) -> Any:
    """CloudFormation's own evaluation of Conditions, Fn::If and Ref for one property value."""
    if isinstance(node, list):
        return [_evaluate(cfn, parameters, v) for v in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        name = node["Ref"]
        if name == "AWS::NoValue":
            return _NoValue
        if name in cfn.get("Parameters", {}):
            value = parameters.get(name, cfn["Parameters"][name].get("Default"))
            return value.split(",") if cfn["Parameters"][name]["Type"] == "CommaDelimitedList" else value
        return node
    if "Fn::Join" in node:
        separator, values = node["Fn::Join"]
        return separator.join(str(v) for v in _evaluate(cfn, parameters, values))
    if "Fn::If" in node:
        condition, when_true, when_false = node["Fn::If"]
        chosen = when_true if _condition(cfn, parameters, condition) else when_false
        return _evaluate(cfn, parameters, chosen)
    return {k: v for k, v in ((k, _evaluate(cfn, parameters, v)) for k, v in node.items()) if v is not _NoValue}


def _condition(cfn: dict, parameters: dict[str, str], name_or_node: Any) -> bool:
    node = cfn["Conditions"][name_or_node] if isinstance(name_or_node, str) else name_or_node
    if "Condition" in node:
        return _condition(cfn, parameters, node["Condition"])
    if "Fn::Equals" in node:
        left, right = (_evaluate(cfn, parameters, v) for v in node["Fn::Equals"])
        return str(left) == str(right)
    if "Fn::Not" in node:
        return not _condition(cfn, parameters, node["Fn::Not"][0])
    if "Fn::And" in node:
        return all(_condition(cfn, parameters, c) for c in node["Fn::And"])
    if "Fn::Or" in node:
        return any(_condition(cfn, parameters, c) for c in node["Fn::Or"])
    raise AssertionError(f"test does not evaluate condition {node}")


IMAGES = {"TrainingImageUri": "xgboost:3.2-0", "ProcessingImageUri": "sklearn:1.4-2"}


def _reserved_concurrency(parameters: dict[str, str]) -> dict[str, Any]:
    values = IMAGES | parameters
    cfn = _translate(REPO / "template.yaml", values)
    functions = {n: r for n, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    return {
        name: _evaluate(cfn, values, copy.deepcopy(resource["Properties"])).get("ReservedConcurrentExecutions")
        for name, resource in functions.items()
    }


def test_no_function_reserves_concurrency_by_default():
    reserved = _reserved_concurrency({})

    assert len(reserved) >= 16
    assert all(value is None for value in reserved.values()), reserved


def test_reserved_concurrency_parameter_reserves_it_for_every_function():
    reserved = _reserved_concurrency({"ReservedConcurrency": "5"})

    assert {str(v) for v in reserved.values()} == {"5"}, reserved


# --- issue 11 item 9: declared log groups, retained data, jobs that cannot rewrite their code ---
def test_every_function_logs_to_a_declared_encrypted_log_group_with_retention(template):
    resources = template["Resources"]
    functions = [n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    groups = set()
    for name in functions:
        log_group = resources[name]["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
        assert isinstance(log_group, dict) and "Ref" in log_group, f"{name} has no declared log group"
        group = resources[log_group["Ref"]]
        assert group["Type"] == "AWS::Logs::LogGroup", name
        retention = group["Properties"]["RetentionInDays"]
        assert retention == {"Ref": "LogRetentionInDays"} or retention > 0, name
        assert _uses_key(group["Properties"]["KmsKeyId"]), name
        groups.add(resolve(template, group["Properties"]["LogGroupName"]))

    assert len(groups) == len(functions)  # one group per function


@pytest.mark.parametrize("name", ["DataBucket", "StateTable", "DriftlineKey"])
def test_data_state_and_key_survive_stack_deletion_and_replacement(template, name):
    resource = template["Resources"][name]

    assert resource.get("DeletionPolicy") == "Retain"
    assert resource.get("UpdateReplacePolicy") == "Retain"


def _sagemaker_statements(template: dict) -> list[dict]:
    role = template["Resources"]["SageMakerExecutionRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    return resolve(template, [s for s in statements if "Effect" in s])  # Fn::If ones: see the VPC test


ARTIFACTS = "arn:aws:s3:::driftline-artifacts-example"


@pytest.mark.parametrize(
    "key",
    [
        "code/jobs/sourcedir.tar.gz",
        "code/jobs/src/train.py",
        "code/jobs/src/runs/evil.py",  # looks like a run path to a careless wildcard
        "code/jobs/src/churn/monitoring/x.py",
    ],
)
@pytest.mark.parametrize("action", ["s3:PutObject", "s3:DeleteObject"])
def test_sagemaker_jobs_cannot_rewrite_the_code_every_job_and_endpoint_runs(template, key, action):
    assert decide(_sagemaker_statements(template), action, f"{ARTIFACTS}/{key}") != "Allow"


@pytest.mark.parametrize(
    "key",
    [
        "churn/runs/churn-data-20240101/train/train.csv",
        "churn/runs/churn-data-20240101/model/churn-train/output/model.tar.gz",
        "churn/runs/churn-data-20240101/checkpoints/checkpoint-10.json",
        "churn/datacapture/driftline-churn/AllTraffic/2024/01/01/00/capture.jsonl",
        "churn/monitoring/churn-monitor-1/constraint_violations.json",
        "code/runs/code-data-1/model/model.tar.gz",  # a model may be called "code"
    ],
)
def test_sagemaker_jobs_write_their_outputs(template, key):
    assert decide(_sagemaker_statements(template), "s3:PutObject", f"{ARTIFACTS}/{key}") == "Allow"


def test_sagemaker_jobs_read_the_code_and_the_uploads(template):
    statements = _sagemaker_statements(template)

    assert decide(statements, "s3:GetObject", f"{ARTIFACTS}/code/jobs/sourcedir.tar.gz") == "Allow"
    assert decide(statements, "s3:GetObject", "arn:aws:s3:::driftline-data-example/incoming/churn/a.csv") == "Allow"
    assert decide(statements, "s3:GetObject", "arn:aws:s3:::driftline-data-example/models/churn/model.yaml") != "Allow"


def test_sagemaker_may_attach_the_key_to_volumes_outputs_and_endpoints(template):
    statements = _sagemaker_statements(template)
    key = resolve(template, KEY)

    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:DescribeKey"):
        assert decide(statements, action, key) == "Allow", action
    assert decide(statements, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "true"}) == "Allow"
    assert decide(statements, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "false"}) != "Allow"


def test_functions_know_the_key_for_sagemaker_requests(template):
    assert _uses_key(template["Globals"]["Function"]["Environment"]["Variables"]["KMS_KEY_ARN"])


# --- issue 11 item 8: every object under models/ reaches the config handler ---------------------
@pytest.mark.parametrize(
    "key",
    [
        "models/churn/model.yaml",
        "models/churn/model.yml",
        "models/churn/v2/model.yaml",
        "models/model.yaml",
        "models/churn/",
    ],
)
def test_every_object_under_models_reaches_the_config_handler(template, key):
    event = json.loads((REPO / "events" / "config_uploaded.json").read_text())
    event["detail"]["object"]["key"] = key
    event["detail"]["bucket"]["name"] = BUCKETS["DataBucket"]
    pattern = resolve(
        template,
        template["Resources"]["OnConfigUploadedFunction"]["Properties"]["Events"]["ConfigUploaded"]["Properties"][
            "Pattern"
        ],
    )

    assert EventPattern(None, pattern).matches_event(event)


SAGEMAKER_CREATES = {
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateEndpoint",
    "sagemaker:UpdateEndpoint",
}


def _inline_statements(template: dict, resource: dict) -> list[dict]:
    properties = resource["Properties"]
    statements = [s for p in properties.get("Policies", []) if isinstance(p, dict) for s in p.get("Statement", [])]
    statements += [
        s
        for p in properties.get("Policies", [])
        if isinstance(p, dict) and "PolicyDocument" in p
        for s in p["PolicyDocument"]["Statement"]
    ]
    return resolve(template, [s for s in statements if "Action" in s])


def test_every_caller_that_starts_sagemaker_work_may_attach_the_key(template):
    key = resolve(template, KEY)
    callers = [
        name
        for name, r in template["Resources"].items()
        if r["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
        and SAGEMAKER_CREATES & {a for s in _inline_statements(template, r) for a in _as_list(s["Action"])}
    ]

    assert len(callers) >= 5
    for name in callers:
        statements = _inline_statements(template, template["Resources"][name])
        assert decide(statements, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "true"}) == "Allow", name
        assert decide(statements, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "false"}) != "Allow", name


def _sagemaker_role_statements(parameters: dict[str, str]) -> list[dict]:
    values = IMAGES | parameters
    cfn = _translate(REPO / "template.yaml", values)
    role = _evaluate(cfn, values, cfn["Resources"]["SageMakerExecutionRole"]["Properties"])
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def test_jobs_may_create_network_interfaces_only_when_given_subnets():
    without = _sagemaker_role_statements({})
    with_vpc = _sagemaker_role_statements({"JobSubnetIds": "subnet-0a1b2c3d", "JobSecurityGroupIds": "sg-0a1b2c3d"})

    for action in ("ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission"):
        assert decide(without, action, "*") == "Deny", action
        assert decide(with_vpc, action, "*") == "Allow", action


def test_a_ref_to_a_parameter_resolves_to_its_default(template):
    assert resolve(template, {"Ref": "LogRetentionInDays"}) == 90
    assert resolve(template, {"Ref": "TrainingImageUri"}) == "<TrainingImageUri>"


# --- the operators' policy: what `driftline retrain/rollback/promote/.../watch` needs, on named resources ----
# List actions whose request names no resource (Service Authorization Reference, "Actions, resources, and condition
# keys for Amazon SageMaker": https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html,
# lists only an optional model-package type for ListModelPackages; the request filters by group, naming no package).
# Actions without a resource type (Service Authorization Reference): a list request or a metric query names
# no resource, so "*" is the only Resource they can have.
OPERATOR_STAR_ONLY = {"sagemaker:ListModelPackages", "cloudwatch:GetMetricData"}
CANARY = "arn:aws:states:us-east-1:123456789012:stateMachine:driftline-canary-rollout"


def operator_statements(template: dict) -> list[dict]:
    policy = template["Resources"]["DriftlineOperatorPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    return resolve(template, policy["Properties"]["PolicyDocument"]["Statement"])


def test_the_operator_policy_is_an_output(template):
    assert template["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "DriftlineOperatorPolicy"}


def test_the_operator_policy_names_its_resources(template):
    for statement in operator_statements(template):
        if "*" in _as_list(statement["Resource"]):
            assert set(_as_list(statement["Action"])) <= OPERATOR_STAR_ONLY, statement


@pytest.mark.parametrize(
    ("action", "resource", "context", "decision"),
    [
        ("s3:GetObject", "arn:aws:s3:::driftline-data-example/quarantine/churn/a.csv", {}, "Allow"),
        ("s3:PutObject", "arn:aws:s3:::driftline-data-example/incoming/churn/a.csv", {}, "Allow"),
        ("s3:PutObject", "arn:aws:s3:::driftline-data-example/models/churn/model.yaml", {}, "ImplicitDeny"),
        ("s3:ListBucket", "arn:aws:s3:::driftline-data-example", {"s3:prefix": "quarantine/churn/"}, "Allow"),
        ("s3:ListBucket", "arn:aws:s3:::driftline-data-example", {"s3:prefix": "models/"}, "ImplicitDeny"),
        ("s3:GetObject", "arn:aws:s3:::driftline-artifacts-example/churn/runs/r1/report.html", {}, "Allow"),
        ("s3:GetObject", "arn:aws:s3:::driftline-artifacts-example/code/train.py", {}, "ImplicitDeny"),
        ("states:StartExecution", CANARY, {}, "Allow"),
        ("states:GetExecutionHistory", CANARY.replace(":stateMachine:", ":execution:") + ":run-1", {}, "Allow"),
        (
            "sagemaker:UpdateEndpointWeightsAndCapacities",
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/driftline-churn",
            {},
            "Allow",
        ),
        (
            "sagemaker:UpdateEndpoint",
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/other-team",
            {},
            "ImplicitDeny",
        ),
        (
            "sagemaker:UpdateModelPackage",
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-churn/3",
            {},
            "Allow",
        ),
        (
            "cloudwatch:PutDashboard",
            "arn:aws:cloudwatch::123456789012:dashboard/driftline-churn-us-east-1",
            {},
            "Allow",
        ),
        (
            "logs:GetLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:log-stream:x",
            {},
            "Allow",
        ),
        (
            "logs:FilterLogEvents",
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:log-stream:x",
            {},
            "ImplicitDeny",
        ),
        ("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", {}, "Allow"),
        ("sns:Publish", "arn:aws:sns:us-east-1:123456789012:driftline-on-call", {}, "Allow"),
    ],
)
def test_the_operator_policy_allows_what_the_cli_does_and_no_more(template, action, resource, context, decision):
    assert decide(operator_statements(template), action, resource, context) == decision


def test_the_key_policy_lets_the_operator_policy_grant_the_key(template):
    """KMS allows a principal's IAM policy to grant the key only if the key policy delegates to the account."""
    root = "arn:aws:iam::123456789012:root"
    delegating = [s for s in key_policy(template) if s.get("Principal", {}).get("AWS") == root]
    assert decide(delegating, "kms:Decrypt", "*") == "Allow"
    assert decide(delegating, "kms:GenerateDataKey", "*") == "Allow"
