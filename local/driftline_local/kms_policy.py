"""Does a customer managed key's policy let every AWS service that uses it on the stack's behalf do so?

IAM policies cover what a role does with the key (tests/template/test_iam_static.py). What only the
key policy can allow, and what moto never checks, is a *service* using the key in its own name:

- a log group (`KmsKeyId`): `logs.<region>.amazonaws.com` with encryption context `aws:logs:arn` = the
  group's ARN needs kms:Encrypt*, Decrypt*, ReEncrypt*, GenerateDataKey*, Describe* (CloudWatch Logs
  guide, "Encrypt log data in CloudWatch Logs using AWS KMS");
- an SNS topic an alarm notifies: `cloudwatch.amazonaws.com` needs kms:Decrypt, kms:GenerateDataKey*
  (SNS guide, "Enable compatibility between event sources from AWS services and encrypted topics");
- an SNS topic or SQS queue an EventBridge rule targets or dead-letters into: `events.amazonaws.com`
  needs kms:Decrypt, kms:GenerateDataKey (EventBridge guide, "Event bus targets");
- S3 buckets, the DynamoDB table, SageMaker volumes and outputs, every use by the stack's roles: the
  calling principal through IAM, which works only while the key policy allows the account root
  (`arn:aws:iam::<account>:root`, KMS guide, "Default key policy").

Each check evaluates the key policy with the request context the service sends (`aws:SourceAccount`,
`aws:SourceArn`, the encryption context); condition keys it cannot know are not evaluated.
`problems()` lists what AWS would refuse; `stack.deploy` refuses a log group as CloudWatch Logs does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftline_local import iam
from driftline_local.iam_static import Template

LOGS_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey")
PUBLISH_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
RUNTIME_ALARM = "driftline-example-drift"  # alarms the code creates are named driftline-<model>-<what>


@dataclass(frozen=True)
class Use:
    key_lid: str
    resource: str  # logical id of what the key protects
    principal: str  # "service:<name>" or "aws:<arn>"
    actions: tuple[str, ...]
    context: tuple[tuple[str, str], ...]
    why: str


def _key_lid(template: Template, value: Any) -> str | None:
    """The logical id of the template key a `KmsKeyId`-like value names (Ref, GetAtt .Arn, alias)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"]) if str(value["Ref"]) in template.cfn["Resources"] else None
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def _refers_to(value: Any, lid: str) -> bool:
    if isinstance(value, dict):
        if value.get("Ref") == lid:
            return True
        target = value.get("Fn::GetAtt")
        if target is not None and (target[0] if isinstance(target, list) else str(target).split(".")[0]) == lid:
            return True
        return any(_refers_to(v, lid) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, lid) for v in value)
    return False


def uses(template: Template) -> list[Use]:
    """Every use of a template key by an AWS service, and the account delegation IAM needs."""
    found: list[Use] = []
    resources = template.cfn["Resources"]
    account_root = f"aws:arn:aws:iam::{template.account}:root"
    region, account = template.region, template.account
    for lid, resource in resources.items():
        if not template.exists(lid):
            continue
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Logs::LogGroup" and _key_lid(template, properties.get("KmsKeyId")):
            key = _key_lid(template, properties["KmsKeyId"])
            group_arn = f"arn:aws:logs:{region}:{account}:log-group:{template.name(lid)}"
            found.append(
                Use(
                    str(key),
                    lid,
                    f"service:logs.{region}.amazonaws.com",
                    LOGS_ACTIONS,
                    (("kms:encryptioncontext:aws:logs:arn", group_arn), ("aws:sourceaccount", account)),
                    f"log group {template.name(lid)}",
                )
            )
        elif kind in ("AWS::SNS::Topic", "AWS::SQS::Queue"):
            key = _key_lid(template, properties.get("KmsMasterKeyId"))
            if key is None:
                continue
            found.append(Use(key, lid, account_root, PUBLISH_ACTIONS, (), "IAM principals publish"))
            found += _service_senders(template, lid, key)
        elif kind == "AWS::S3::Bucket":
            rules = (properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", [])
            for rule in rules:
                default = rule.get("ServerSideEncryptionByDefault", {})
                key = _key_lid(template, default.get("KMSMasterKeyID"))
                if key:
                    found.append(Use(key, lid, account_root, ("kms:Decrypt", "kms:GenerateDataKey"), (), "S3 SSE-KMS"))
        elif kind == "AWS::DynamoDB::Table":
            key = _key_lid(template, (properties.get("SSESpecification") or {}).get("KMSMasterKeyId"))
            if key:
                actions = ("kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant")
                found.append(Use(key, lid, account_root, actions, (), "DynamoDB SSE"))
    for key in template.resources_of_type("AWS::KMS::Key"):
        # SageMaker jobs and endpoints get the key through request fields (KMS_KEY_ARN); the roles' IAM
        # policies grant it, which works only while the key policy delegates to IAM.
        if any(_refers_to(r.get("Properties", {}), key) for r in resources.values() if r["Type"] == "AWS::IAM::Role"):
            found.append(Use(key, key, account_root, ("kms:Decrypt", "kms:GenerateDataKey"), (), "roles' IAM grants"))
    return found


def _service_senders(template: Template, target_lid: str, key: str) -> list[Use]:
    """Alarms notifying, and EventBridge rules targeting or dead-lettering into, `target_lid`."""
    region, account = template.region, template.account
    target_arn = template.arn(target_lid)
    kind = template.cfn["Resources"][target_lid]["Type"]
    context_key = (
        "kms:encryptioncontext:aws:sns:topicarn" if kind == "AWS::SNS::Topic" else "kms:encryptioncontext:aws:sqs:arn"
    )
    senders: list[Use] = []
    for lid, resource in template.cfn["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and any(
            _refers_to(properties.get(k), target_lid) for k in ("AlarmActions", "OKActions", "InsufficientDataActions")
        ):
            name = template.resolve(properties.get("AlarmName")) or f"driftline-{lid}"
            senders.append(_alarm_use(template, key, target_lid, str(name), target_arn, context_key))
        if resource["Type"] == "AWS::Events::Rule" and _refers_to(properties.get("Targets"), target_lid):
            rule_arn = f"arn:aws:events:{region}:{account}:rule/{template.name(lid)}"
            context = ((context_key, target_arn), ("aws:sourceaccount", account), ("aws:sourcearn", rule_arn))
            senders.append(
                Use(key, target_lid, "service:events.amazonaws.com", PUBLISH_ACTIONS, context, f"rule {lid} delivers")
            )
    if kind == "AWS::SNS::Topic" and any(
        r["Type"] == "AWS::CloudWatch::Alarm" for r in template.cfn["Resources"].values()
    ):
        # the code creates alarms on the same topic at run time (driftline.alarms, driftline.monitoring)
        senders.append(_alarm_use(template, key, target_lid, RUNTIME_ALARM, target_arn, context_key))
    return senders


def _alarm_use(template: Template, key: str, target_lid: str, alarm: str, target_arn: str, context_key: str) -> Use:
    alarm_arn = f"arn:aws:cloudwatch:{template.region}:{template.account}:alarm:{alarm}"
    context = ((context_key, target_arn), ("aws:sourceaccount", template.account), ("aws:sourcearn", alarm_arn))
    return Use(key, target_lid, "service:cloudwatch.amazonaws.com", PUBLISH_ACTIONS, context, f"alarm {alarm} notifies")


def _principal_matches(statement: dict[str, Any], principal: str) -> bool:
    declared = statement.get("Principal")
    if declared == "*" or (isinstance(declared, dict) and declared.get("AWS") == "*"):
        return True
    if not isinstance(declared, dict):
        return False
    kind, _, name = principal.partition(":")
    values = iam._as_list(declared.get("Service" if kind == "service" else "AWS"))
    if kind == "aws":
        account = name.split(":")[4]
        values = [f"arn:aws:iam::{v}:root" if v == account else v for v in values]
    return name in values


def allowed(policy: dict[str, Any], use: Use, action: str) -> bool:
    context = dict(use.context)
    allow = False
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not _principal_matches(statement, use.principal):
            continue
        if not iam.statement_applies(statement, action, "*", context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allow = allow or statement.get("Effect") == "Allow"
    return allow


def problems(template: Template) -> list[str]:
    """What AWS would refuse: one line per (use, action) the key policy does not allow."""
    found = []
    for use in uses(template):
        policy = template.resolve(template.cfn["Resources"][use.key_lid]["Properties"].get("KeyPolicy") or {})
        for action in use.actions:
            if not allowed(policy, use, action):
                found.append(
                    f"{use.key_lid} does not allow {use.principal.partition(':')[2]} {action} "
                    f"for {use.resource} ({use.why})"
                )
    return sorted(set(found))


def log_group_refusal(template: Template) -> str | None:
    """CloudWatch Logs' own error for the first log group whose key it may not use, as CreateLogGroup
    (and so CloudFormation) reports it."""
    for use in uses(template):
        if not use.principal.startswith("service:logs."):
            continue
        policy = template.resolve(template.cfn["Resources"][use.key_lid]["Properties"].get("KeyPolicy") or {})
        if not all(allowed(policy, use, action) for action in use.actions):
            group_arn = dict(use.context)["kms:encryptioncontext:aws:logs:arn"]
            return (
                f"{use.resource}: AccessDeniedException: The specified KMS key does not exist or is not allowed "
                f"to be used with Arn '{group_arn}'"
            )
    return None
