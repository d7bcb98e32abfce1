"""Deploy a SAM template as a CloudFormation stack in the local cloud, like `sam deploy`.

1. *package*: every local `CodeUri`, `ContentUri` and `DefinitionUri` (relative to the template's
   directory) is zipped / copied into a staging bucket in the local S3 and the template is pointed at
   it, as `sam package` does;
2. *transform*: aws-sam-translator turns the SAM template into CloudFormation, offline (bundled
   managed-policy map, the stack's parameter values);
3. *create*: the CloudFormation template goes to moto's CloudFormation (`CreateStack` over the wire),
   so `describe-stacks` returns the Outputs;
4. *fill the gaps* moto's CloudFormation leaves:
   - state machines are created where the ASL interpreter runs them (moto creates them in its
     non-executing backend), from the packaged definition with `DefinitionSubstitutions` applied;
   - resource types moto skips are created through the service APIs after the stack, with their
     intrinsics resolved against the stack: `AWS::CloudWatch::Alarm`, `AWS::Scheduler::Schedule`
     (SAM `ScheduleV2`), `AWS::Lambda::EventInvokeConfig` (SAM `EventInvokeConfig`),
     `AWS::SNS::Subscription`; policies (`AWS::SQS::QueuePolicy`, `AWS::SNS::TopicPolicy`,
     `AWS::S3::BucketPolicy`) are accepted and not enforced;
   - a bucket's `NotificationConfiguration.EventBridgeConfiguration` and `VersioningConfiguration`
     (moto's CloudFormation applies only encryption and tags: an unversioned local bucket would
     really lose what AWS keeps, e.g. a version overwritten before it was quarantined);
   - a role's `ManagedPolicyArns` (moto's CloudFormation drops them; `iam.attach_managed_policies`);
   - each function's code location, layers and `DeadLetterConfig` go to `ctx.functions` for the
     Lambda runtime (moto's CloudFormation drops `Layers` and `DeadLetterConfig`).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from driftline_local.context import LocalCloudContext
from driftline_local.lambda_runtime import FunctionCode, active_runtime

log = logging.getLogger(__name__)

STAGING_BUCKET = "driftline-local-sam-artifacts"
_DEFERRED_TYPES = {
    "AWS::CloudWatch::Alarm",
    "AWS::Scheduler::Schedule",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::SNS::Subscription",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::S3::BucketPolicy",
}


@dataclass
class DeployedStack:
    name: str
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id -> physical id
    functions: dict[str, FunctionCode] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _client(ctx: LocalCloudContext, service: str) -> Any:
    return boto3.client(
        service,
        region_name=ctx.region,
        endpoint_url=ctx.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# --- package ------------------------------------------------------------------------------------
def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def _zip_dir(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


class _Packager:
    """Uploads local artifacts to the staging bucket; remembers which key came from which path."""

    def __init__(self, ctx: LocalCloudContext, base_dir: Path) -> None:
        self.s3 = _client(ctx, "s3")
        self.base_dir = base_dir
        self.local_paths: dict[str, Path] = {}  # s3 key -> local path
        self.s3.create_bucket(Bucket=STAGING_BUCKET)

    def upload(self, uri: str) -> str:
        path = (self.base_dir / uri).resolve()
        if not path.exists():
            raise FileNotFoundError(f"{uri} (resolved to {path}) does not exist")
        body = _zip_dir(path) if path.is_dir() else path.read_bytes()
        key = f"{hashlib.sha256(str(path).encode()).hexdigest()[:16]}/{path.name}"
        if path.is_dir():
            key += ".zip"
        self.s3.put_object(Bucket=STAGING_BUCKET, Key=key, Body=body)
        self.local_paths[key] = path
        return f"s3://{STAGING_BUCKET}/{key}"

    def local_path(self, location: dict[str, Any]) -> Path | None:
        if location.get("Bucket", location.get("S3Bucket")) != STAGING_BUCKET:
            return None
        return self.local_paths.get(location.get("Key", location.get("S3Key", "")))


def package(sam: dict[str, Any], packager: _Packager) -> dict[str, Any]:
    """`sam package`: local paths in the SAM template become staging-bucket S3 URIs."""
    sam = copy.deepcopy(sam)
    uri_props = {
        "AWS::Serverless::Function": "CodeUri",
        "AWS::Serverless::LayerVersion": "ContentUri",
        "AWS::Serverless::StateMachine": "DefinitionUri",
    }
    function_globals = sam.get("Globals", {}).get("Function", {})
    if _is_local(function_globals.get("CodeUri")):
        function_globals["CodeUri"] = packager.upload(function_globals["CodeUri"])
    for resource in sam.get("Resources", {}).values():
        prop = uri_props.get(resource.get("Type"))
        properties = resource.get("Properties", {})
        if prop and _is_local(properties.get(prop)):
            properties[prop] = packager.upload(properties[prop])
    return sam


# --- transform ----------------------------------------------------------------------------------
def load_template(path: Path) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return dict(yaml_parse(path.read_text(encoding="utf-8")))


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values = {name: spec["Default"] for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
    values.update(overrides)
    return values


def transform(sam: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """SAM → CloudFormation with aws-sam-translator, without calling AWS, in a short-lived child process
    (`sam_transform`: the translator's imports would otherwise stay in the local cloud's process). The
    translator's refusals (InvalidDocumentException) reach the caller as a RuntimeError with its message."""
    request = json.dumps({"sam": sam, "parameters": parameters, "region": region})
    done = subprocess.run(
        [sys.executable, "-m", "driftline_local.sam_transform"],
        input=request,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(f"SAM transform failed: {reason}")
    return dict(json.loads(done.stdout))


# --- moto gaps ----------------------------------------------------------------------------------
def _strip_deferred(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Take out the resources moto's CloudFormation can't create; they are applied afterwards."""
    resources = cfn["Resources"]
    deferred = {lid: r for lid, r in resources.items() if r["Type"] in _DEFERRED_TYPES}
    for lid in deferred:
        del resources[lid]
    for resource in resources.values():
        depends = resource.get("DependsOn")
        if isinstance(depends, str) and depends in deferred:
            del resource["DependsOn"]
        elif isinstance(depends, list):
            resource["DependsOn"] = [d for d in depends if d not in deferred]
    return deferred


def _function_codes(cfn: dict[str, Any], packager: _Packager) -> dict[str, dict[str, Any]]:
    """Per function logical id: its source dir, handler, layer dirs and DLQ (still an intrinsic)."""
    resources = cfn["Resources"]
    layer_dirs: dict[str, Path] = {}
    for lid, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::LayerVersion":
            path = packager.local_path(resource["Properties"].get("Content", {}))
            if path is not None:
                layer_dirs[lid] = path
    functions: dict[str, dict[str, Any]] = {}
    for lid, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        source = packager.local_path(properties.get("Code", {}))
        if source is None:
            continue
        layers = []
        for layer in properties.get("Layers", []):
            ref = layer.get("Ref") if isinstance(layer, dict) else None
            if ref in layer_dirs:
                layers.append(layer_dirs[ref])
        functions[lid] = {
            "source_dir": source,
            "handler": properties.get("Handler", "app.lambda_handler"),
            "layer_dirs": tuple(layers),
            "dead_letter": (properties.get("DeadLetterConfig") or {}).get("TargetArn"),
        }
    return functions


def _state_machine_from_cfn(
    cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Any:
    """Replacement for moto's StateMachine CloudFormation handler: create it where it executes,
    from the packaged definition, with `DefinitionSubstitutions` applied."""
    from moto.s3.models import s3_backends
    from moto.stepfunctions.responses import get_backend

    properties = cloudformation_json["Properties"]
    if "DefinitionS3Location" in properties:
        location = properties["DefinitionS3Location"]
        obj = s3_backends[account_id]["aws"].get_object(location["Bucket"], location["Key"])
        if obj is None:  # a delete marker: CloudFormation cannot read the definition either
            raise FileNotFoundError(
                f"{resource_name}: DefinitionS3Location s3://{location['Bucket']}/{location['Key']} is deleted"
            )
        definition = obj.value.decode("utf-8")
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    else:
        definition = properties.get("DefinitionString", "")
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(value))
    name = properties.get("StateMachineName", resource_name)
    tags = [{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])]
    backend = get_backend(account_id, region_name)
    return backend.create_state_machine(name, definition, properties.get("RoleArn", ""), tags=tags or None)


def _resolve_partition(cfn: dict[str, Any]) -> dict[str, Any]:
    """`{"Fn::Sub": "arn:${AWS::Partition}:..."}` managed policy ARNs as plain strings."""
    resolved = copy.deepcopy(cfn)
    for resource in resolved.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        arns = properties.get("ManagedPolicyArns")
        if isinstance(arns, list):
            properties["ManagedPolicyArns"] = [
                a["Fn::Sub"] if isinstance(a, dict) and isinstance(a.get("Fn::Sub"), str) else a for a in arns
            ]
    return resolved


def _resolve(value: Any, stack: Any) -> Any:
    from moto.cloudformation.parsing import clean_json

    return clean_json(copy.deepcopy(value), stack.resource_map)


def _apply_deferred(ctx: LocalCloudContext, stack: Any, deferred: dict[str, dict[str, Any]]) -> list[str]:
    warnings: list[str] = []
    for lid, resource in deferred.items():
        kind = resource["Type"]
        condition = resource.get("Condition")
        if condition and not stack.resource_map.lazy_condition_map[condition]:
            continue  # CloudFormation does not create a resource whose Condition is false
        properties = _resolve(resource.get("Properties", {}), stack)
        try:
            if kind == "AWS::CloudWatch::Alarm":
                _create_alarm(ctx, stack, lid, properties)
            elif kind == "AWS::Scheduler::Schedule":
                _create_schedule(ctx, stack, lid, properties)
            elif kind == "AWS::Lambda::EventInvokeConfig":
                config = {k: v for k, v in properties.items() if k not in ("FunctionName", "Qualifier")}
                _client(ctx, "lambda").put_function_event_invoke_config(
                    FunctionName=properties["FunctionName"], **config
                )
            elif kind == "AWS::SNS::Subscription":
                extra = {k: properties[k] for k in ("FilterPolicy", "RawMessageDelivery") if k in properties}
                _client(ctx, "sns").subscribe(
                    TopicArn=properties["TopicArn"],
                    Protocol=properties["Protocol"],
                    Endpoint=properties["Endpoint"],
                    Attributes={k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()},
                )
            # policies: accepted, not enforced (moto does not evaluate resource policies)
        except Exception as exc:  # report, keep deploying the rest
            warnings.append(f"{lid} ({kind}): {exc}")
            log.warning("could not create %s (%s): %s", lid, kind, exc)
    return warnings


def _create_alarm(ctx: LocalCloudContext, stack: Any, lid: str, properties: dict[str, Any]) -> None:
    properties.setdefault("AlarmName", f"{stack.name}-{lid}")
    for numeric in ("Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold"):
        if numeric in properties:
            properties[numeric] = float(properties[numeric]) if numeric == "Threshold" else int(properties[numeric])
    if "ActionsEnabled" in properties:
        properties["ActionsEnabled"] = str(properties["ActionsEnabled"]).lower() == "true"
    _client(ctx, "cloudwatch").put_metric_alarm(**properties)


def _create_schedule(ctx: LocalCloudContext, stack: Any, lid: str, properties: dict[str, Any]) -> None:
    properties.setdefault("Name", f"{stack.name}-{lid}"[:64])
    properties.setdefault("FlexibleTimeWindow", {"Mode": "OFF"})
    _client(ctx, "scheduler").create_schedule(**properties)


def _bucket_settings(ctx: LocalCloudContext, cfn: dict[str, Any], physical: dict[str, str]) -> None:
    s3 = _client(ctx, "s3")
    for lid, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        versioning = resource.get("Properties", {}).get("VersioningConfiguration") or {}
        if versioning.get("Status"):
            s3.put_bucket_versioning(Bucket=physical[lid], VersioningConfiguration={"Status": versioning["Status"]})
        config = resource.get("Properties", {}).get("NotificationConfiguration") or {}
        if "EventBridgeConfiguration" in config:
            enabled = config["EventBridgeConfiguration"].get("EventBridgeEnabled", True)
            if str(enabled).lower() == "true":
                s3.put_bucket_notification_configuration(
                    Bucket=physical[lid], NotificationConfiguration={"EventBridgeConfiguration": {}}
                )


def _refuse_unusable_log_group_keys(
    ctx: LocalCloudContext, sam: dict[str, Any], cfn: dict[str, Any], values: dict[str, Any], stack_name: str
) -> None:
    """CloudWatch Logs refuses a log group whose KMS key policy does not let it use the key, and the
    stack rolls back; moto creates it. Refuse it the same way (`kms_policy`)."""
    from driftline_local import iam_static, kms_policy

    template = iam_static.from_cfn(sam, cfn, values, ctx.region, ctx.account_id, stack_name)
    refusal = kms_policy.log_group_refusal(template)
    if refusal:
        raise StackRolledBack(f"stack {stack_name} is ROLLBACK_COMPLETE: {refusal}")


class StackRolledBack(RuntimeError):
    """The stack could not be created; AWS would have rolled it back (the reason names the resource)."""


# --- deploy -------------------------------------------------------------------------------------
def deploy(
    ctx: LocalCloudContext,
    template_path: Path,
    stack_name: str = "driftline",
    parameters: dict[str, str] | None = None,
) -> DeployedStack:
    """Deploy `template_path` (SAM) as stack `stack_name`; returns its outputs and resources."""
    template_path = Path(template_path).resolve()
    sam = load_template(template_path)
    values = parameter_values(sam, parameters or {})
    packager = _Packager(ctx, template_path.parent)
    cfn = transform(package(sam, packager), values, ctx.region)
    _refuse_unusable_log_group_keys(ctx, sam, cfn, values, stack_name)
    functions = _function_codes(cfn, packager)
    deployable = copy.deepcopy(cfn)
    deferred = _strip_deferred(deployable)

    cloudformation = _client(ctx, "cloudformation")
    declared = deployable.get("Parameters", {})
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(deployable),
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items() if k in declared],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    description = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if description["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name} is {description['StackStatus']}")
    physical = {  # moto lists a resource whose Condition is false without a logical id: skip it
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        if "LogicalResourceId" in r
    }

    from moto.cloudformation.models import cloudformation_backends

    from driftline_local import iam

    iam.attach_managed_policies(_resolve_partition(deployable), physical, ctx.account_id)

    backend = cloudformation_backends[ctx.account_id][ctx.region]
    stack = next(s for s in backend.stacks.values() if s.name == stack_name and s.status == "CREATE_COMPLETE")
    warnings = _apply_deferred(ctx, stack, deferred)
    _bucket_settings(ctx, cfn, physical)

    lambda_client = _client(ctx, "lambda")
    registered: dict[str, FunctionCode] = {}
    for lid, info in functions.items():
        if lid not in physical:
            continue  # its Condition is false: not created
        name = physical[lid]
        config = lambda_client.get_function_configuration(FunctionName=name)
        dead_letter = _resolve(info["dead_letter"], stack) if info["dead_letter"] else None
        code = FunctionCode(
            name=name,
            source_dir=info["source_dir"],
            handler=info["handler"],
            layer_dirs=info["layer_dirs"],
            environment=config.get("Environment", {}).get("Variables", {}),
            timeout=config.get("Timeout", 3),
            memory_size=config.get("MemorySize", 128),
            dead_letter_arn=dead_letter,
        )
        ctx.functions[name] = code
        registered[name] = code

    active_runtime().initialize_ahead(list(registered))

    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    return DeployedStack(stack_name, outputs, physical, registered, warnings)


def install(ctx: LocalCloudContext) -> None:
    """Make moto's CloudFormation create state machines where the interpreter executes them."""
    from moto.stepfunctions.models import StateMachine

    from driftline_local import event_log

    event_log.install()  # one line per event, no ERROR for a machine's expected failures

    if getattr(StateMachine, "_driftline_local", False):
        return
    StateMachine.create_from_cloudformation_json = classmethod(_state_machine_from_cfn)  # type: ignore[assignment]
    StateMachine._driftline_local = True  # type: ignore[attr-defined]
