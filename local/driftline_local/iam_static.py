"""What the template's roles must allow, read from the code and the ASL rather than from a run.

The local cloud enforces IAM on the calls a run makes (`iam`), but a run only makes the calls its
branch takes, and some permissions are never exercised locally (KMS use behind encrypted resources,
the `.sync` integrations' EventBridge rules, `iam:PassRole` conditions). This module finds every AWS
call statically:

- `template_roles()`: the SAM template transformed as the local deploy does it (`stack.transform`),
  intrinsics resolved against made-up physical names, giving each function's and state machine's
  role and its policy documents;
- `code_calls()`: every boto3 call in `layers/common/driftline` and `functions/*/app.py` (ast:
  `aws.client("s3").get_object(...)`, a name bound to a client or to `aws.table(...)`, paginators, the
  transfer manager's `copy`/`upload_file`/`download_file`, powertools' DynamoDB idempotency store), the
  functions reachable from each handler (a call graph over module functions), and the IAM actions each
  call needs (`iam.iam_action` plus what the call implies);
- `operator_calls()`: the same for the `driftline` operator commands (`driftline_local/ops` and the layer code
  they run in-process on the operator's credentials), checked against DriftlineOperatorPolicy; calls that look
  like AWS calls on something the analysis cannot name are returned as `Unresolved`, never dropped;
- `asl_requirements()`: each Task state's needs per the Step Functions guide ("IAM policies for
  integrated services"): `lambda:InvokeFunction` on the function, `.sync` jobs' Describe/Stop and
  `events:PutTargets/PutRule/DescribeRule` on the managed rule, `iam:PassRole` on the job's role.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from driftline_local.context import ACCOUNT_ID, REGION, REPO_ROOT

STACK = "driftline"
KEY_LID = "DriftlineKey"
_NO_VALUE = object()  # `Ref AWS::NoValue` where CloudFormation removes what holds it


# --- the template, transformed and resolved ------------------------------------------------------
class _FakePackager:
    """`stack.package` without S3: local paths become made-up S3 URIs."""

    def upload(self, uri: str) -> str:
        return f"s3://driftline-static/{uri.strip('/')}"


@dataclass
class Template:
    sam: dict[str, Any]
    cfn: dict[str, Any]
    parameters: dict[str, Any]
    region: str = REGION
    account: str = ACCOUNT_ID
    stack: str = STACK

    # --- names ---------------------------------------------------------------------------------
    def resource(self, lid: str) -> dict[str, Any]:
        return dict(self.cfn["Resources"][lid])

    def name(self, lid: str) -> str:
        resource = self.cfn["Resources"][lid]
        properties = resource.get("Properties", {})
        for key in (
            "BucketName",
            "TableName",
            "TopicName",
            "QueueName",
            "FunctionName",
            "StateMachineName",
            "RoleName",
            "LogGroupName",
            "Name",
        ):
            value = properties.get(key)
            if isinstance(value, dict):  # e.g. !Sub "${AWS::StackName}-on-call"
                value = self.resolve(value)
            if isinstance(value, str) and value:
                return value
        return f"{self.stack}-{lid.lower()}"

    def ref(self, lid: str) -> str:
        if lid in self.parameters:
            value = self.parameters[lid]
            return ",".join(value) if isinstance(value, list) else str(value)
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if lid in pseudo:
            return pseudo[lid]
        kind = self.cfn["Resources"][lid]["Type"]
        name = self.name(lid)
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account}:{name}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"
        if kind == "AWS::KMS::Key":
            return f"{lid.lower()}-0000-key-id"
        return name

    def arn(self, lid: str) -> str:
        kind = self.cfn["Resources"][lid]["Type"]
        name = self.name(lid)
        r, a = self.region, self.account
        return {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{r}:{a}:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{r}:{a}:{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{r}:{a}:key/{self.ref(lid)}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{r}:{a}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{r}:{a}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{a}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{r}:{a}:log-group:{name}:*",
            "AWS::Events::Rule": f"arn:aws:events:{r}:{a}:rule/{name}",
        }.get(kind, f"arn:aws:unknown:{r}:{a}:{name}")

    def getatt(self, lid: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(lid)
        if attribute in ("TopicName", "QueueName", "Name", "StateMachineName"):
            return self.name(lid)
        if attribute == "KeyId":
            return self.ref(lid)
        return f"{self.name(lid)}.{attribute}"

    # --- intrinsics ----------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.cfn.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        """`value` with its intrinsics resolved; `Ref AWS::NoValue` removes the list item or key holding it."""
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), *_ = value.items()
            if key == "Ref" and arg == "AWS::NoValue":
                return _NO_VALUE
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                lid, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.getatt(lid, attribute)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key == "Fn::Join":
                return str(arg[0]).join(str(v) for v in _flatten(self.resolve(arg[1])))
            if key == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in arg)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Select":
                return _flatten(self.resolve(arg[1]))[int(self.resolve(arg[0]))]
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in variables:
                return str(variables[token])
            if "." in token:
                lid, attribute = token.split(".", 1)
                return self.getatt(lid, attribute)
            return self.ref(token)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # --- roles ---------------------------------------------------------------------------------
    def exists(self, lid: str) -> bool:
        condition = self.cfn["Resources"][lid].get("Condition")
        return condition is None or self.condition(condition)

    def role_documents(self, role_lid: str) -> list[dict[str, Any]]:
        """Inline policies, attached managed policies and `AWS::IAM::Policy` resources naming the role."""
        role = self.cfn["Resources"][role_lid]["Properties"]
        documents = [self.resolve(p["PolicyDocument"]) for p in role.get("Policies", [])]
        for arn in self.resolve(role.get("ManagedPolicyArns", [])):
            documents.append(_aws_managed_policy(str(arn)))
        for lid, resource in self.cfn["Resources"].items():
            if resource["Type"] != "AWS::IAM::Policy" or not self.exists(lid):
                continue
            roles = resource["Properties"].get("Roles", [])
            if any(r == {"Ref": role_lid} for r in roles):
                documents.append(self.resolve(resource["Properties"]["PolicyDocument"]))
        return documents

    def role_of(self, lid: str) -> str:
        """The logical id of a function's or state machine's role."""
        properties = self.cfn["Resources"][lid]["Properties"]
        role = properties.get("Role") or properties.get("RoleArn")
        assert isinstance(role, dict) and "Fn::GetAtt" in role, f"{lid}: role {role!r} is not a template role"
        target = role["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])

    def resources_of_type(self, kind: str) -> list[str]:
        return [lid for lid, r in self.cfn["Resources"].items() if r["Type"] == kind and self.exists(lid)]


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for v in value for item in _flatten(v)]
    return [value]


@cache
def _aws_managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data))


def _aws_managed_policy(arn: str) -> dict[str, Any]:
    data = _aws_managed_policies().get(arn.rsplit("/", 1)[-1])
    assert data is not None, f"managed policy {arn} is unknown"
    return dict(data["Document"])


def from_cfn(
    sam: dict[str, Any], cfn: dict[str, Any], values: dict[str, Any], region: str, account: str, stack: str
) -> Template:
    """A transformed template as `stack.deploy` has it (parameter values as given to the stack)."""
    typed: dict[str, Any] = {}
    for name, spec in cfn.get("Parameters", {}).items():
        value = values.get(name, spec.get("Default", ""))
        typed[name] = [v for v in str(value).split(",") if v] if spec.get("Type") == "CommaDelimitedList" else value
    return Template(sam, cfn, typed, region, account, stack)


def load(template_path: Path | None = None, overrides: dict[str, str] | None = None) -> Template:
    """The SAM template transformed by the translator the local deploy uses."""
    from driftline_local import stack

    template_path = template_path or REPO_ROOT / "template.yaml"
    sam = stack.load_template(template_path)
    required = {k: "placeholder" for k, spec in sam.get("Parameters", {}).items() if "Default" not in spec}
    values = stack.parameter_values(sam, {**required, **(overrides or {})})
    cfn = stack.transform(stack.package(sam, _FakePackager()), values, REGION)  # type: ignore[arg-type]
    return from_cfn(sam, cfn, values, REGION, ACCOUNT_ID, STACK)


# --- what the code calls ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    service: str  # boto3 service name
    method: str  # client method (snake case), or "table.<method>" for a DynamoDB Table
    where: str  # path:line
    versioned: bool = False  # the calling function passes a VersionId
    bucket: str | None = None  # S3 (operator calls): the bucket's logical id, when the code names the stack's bucket
    key: str | None = None  # S3: a key (or list prefix) as the code builds it, each formatted value written `x`

    def operations(self) -> list[str]:
        """Botocore operation names this call makes."""
        if self.service == "dynamodb" and self.method.startswith("table."):
            method = self.method.removeprefix("table.")
            return [{"batch_writer": "BatchWriteItem"}.get(method, _operation("dynamodb", method))]
        transfer = {
            "copy": ["HeadObject", "CopyObject"],
            "upload_file": ["PutObject"],
            "upload_fileobj": ["PutObject"],
            "download_file": ["HeadObject", "GetObject"],
            "download_fileobj": ["HeadObject", "GetObject"],
        }
        if self.service == "s3" and self.method in transfer:
            return transfer[self.method]
        return [_operation(self.service, self.method)]

    def actions(self) -> list[str]:
        from driftline_local.iam import iam_action

        actions = []
        for operation in self.operations():
            action = iam_action(self.service, operation)
            actions.append(action)
            if self.service == "s3" and operation in ("CopyObject", "GetObject", "HeadObject"):
                if operation == "CopyObject":
                    actions.append("s3:GetObject")  # the copy reads its source
                if self.versioned:
                    actions.append("s3:GetObjectVersion")
        return list(dict.fromkeys(actions))


@cache
def _operations(service: str) -> dict[str, str]:
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def _operation(service: str, method: str) -> str:
    operation = _operations(service).get(method)
    assert operation is not None, f"{service} has no operation for {method}()"
    return operation


NOT_CALLS = {"get_paginator", "exceptions", "meta", "can_paginate", "generate_presigned_url", "close", "get_waiter"}
# library code that calls AWS on the handler's behalf (third-party: not parsed)
LIBRARY_CALLS = {
    # powertools' DynamoDBPersistenceLayer (aws_lambda_powertools/utilities/idempotency/persistence/dynamodb.py)
    ("aws_lambda_powertools.utilities.idempotency", "DynamoDBPersistenceLayer"): [
        ("dynamodb", "put_item"),
        ("dynamodb", "get_item"),
        ("dynamodb", "update_item"),
        ("dynamodb", "delete_item"),
    ],
}


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module
    functions: dict[str, ast.AST] = field(default_factory=dict)  # top-level functions and classes
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # local name -> (module, attr)


def _parse(name: str, path: Path) -> _Module:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    module = _Module(name, path, tree)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            module.functions[node.name] = node
    # imports anywhere in the module: a function's own `from driftline.run_report.collect import ...` too
    for walked in ast.walk(tree):
        if isinstance(walked, ast.ImportFrom) and walked.module and walked.module.split(".")[0] in _OUR_PACKAGES:
            for alias in walked.names:
                target = f"{walked.module}.{alias.name}"
                if walked.module in _PACKAGES_OF_MODULES:  # `from driftline import aws`: a module
                    module.imports[alias.asname or alias.name] = (target, None)
                else:
                    module.imports[alias.asname or alias.name] = (walked.module, alias.name)
        elif isinstance(walked, ast.ImportFrom) and walked.module:
            for alias in walked.names:
                module.imports[alias.asname or alias.name] = (walked.module, alias.name)
        elif isinstance(walked, ast.Import) and name.startswith("driftline_local."):
            for alias in walked.names:  # `import boto3`, `import re`: modules, never a client
                module.imports[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
    if name.startswith("driftline_local."):  # the operator code's methods: `Driftline.client`, `RunWatcher.look`
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        module.functions[f"{node.name}.{item.name}"] = item
    return module


_OUR_PACKAGES = {"driftline", "driftline_local"}
_PACKAGES_OF_MODULES = {"driftline", "driftline_local.ops"}


@cache
def _modules() -> dict[str, _Module]:
    modules = {}
    layer = REPO_ROOT / "layers" / "common"
    for path in sorted((layer / "driftline").rglob("*.py")):  # subpackages too (driftline.run_report)
        parts = path.relative_to(layer).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = _parse(name, path)
    for path in sorted((REPO_ROOT / "functions").glob("*/app.py")):
        name = f"functions.{path.parent.name}.app"
        modules[name] = _parse(name, path)
    for path in sorted((REPO_ROOT / "local" / "driftline_local" / "ops").glob("*.py")):  # the operator commands
        name = "driftline_local.ops" if path.stem == "__init__" else f"driftline_local.ops.{path.stem}"
        modules[name] = _parse(name, path)
    return modules


class _CallFinder:
    """Client calls inside one function (nested functions and lambdas included)."""

    def __init__(self, module: _Module, factories: dict[tuple[str, str], str]) -> None:
        self.module = module
        self.factories = factories  # (module, function) -> service it returns a client of

    def service_of(self, node: ast.AST, bound: dict[str, Any]) -> Any:
        if isinstance(node, ast.Name):
            return bound.get(node.id)
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "aws":
            if func.attr == "client" and node.args and isinstance(node.args[0], ast.Constant):
                return str(node.args[0].value)
            if func.attr == "table":
                return "dynamodb:table"
        if isinstance(func, ast.Attribute) and func.attr == "get_paginator":
            service = self.service_of(func.value, bound)
            if isinstance(service, str) and node.args and isinstance(node.args[0], ast.Constant):
                return ("paginator", service, str(node.args[0].value))
        target = self._function_target(func)
        if target in self.factories:
            return self.factories[target]
        return None

    def _function_target(self, func: ast.AST) -> tuple[str, str] | None:
        if isinstance(func, ast.Name):
            if func.id in self.module.functions:
                return (self.module.name, func.id)
            imported = self.module.imports.get(func.id)
            if imported and imported[1]:
                return (imported[0], imported[1])
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            imported = self.module.imports.get(func.value.id)
            if imported and imported[1] is None:
                return (imported[0], func.attr)
        return None

    def calls(self, function: ast.AST) -> list[Call]:
        bound: dict[str, Any] = {}
        nodes = list(ast.walk(function))
        versioned = any(isinstance(n, ast.Constant) and n.value == "VersionId" for n in nodes)
        for node in nodes:  # bindings first: `s3 = aws.client("s3")` anywhere in the function
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                service = self.service_of(node.value, bound)
                if service is not None:
                    bound[node.targets[0].id] = service
        found: list[Call] = []
        for node in nodes:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            where = f"{self.module.path.relative_to(REPO_ROOT)}:{node.lineno}"
            method = node.func.attr
            service = self.service_of(node.func.value, bound)
            if isinstance(service, tuple) and method == "paginate":
                found.append(Call(service[1], service[2], where, versioned))
            elif service == "dynamodb:table":
                found.append(Call("dynamodb", f"table.{method}", where, versioned))
            elif isinstance(service, str) and method not in NOT_CALLS:
                found.append(Call(service, method, where, versioned))
        return found

    def references(self, function: ast.AST) -> set[tuple[str, str]]:
        """Module functions this one calls or passes on (an over-approximation of what it runs)."""
        targets = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Name | ast.Attribute):
                target = self._function_target(node)
                if target and target[0] in _modules() and target[1] in _modules()[target[0]].functions:
                    targets.add(target)
                if target and target in LIBRARY_CALLS:
                    targets.add(target)
        return targets


def _factories() -> dict[tuple[str, str], str]:
    """Module functions that return a client (`def _table(): return aws.table(...)`)."""
    factories: dict[tuple[str, str], str] = {}
    for _ in range(2):  # a factory of a factory
        for module in _modules().values():
            finder = _CallFinder(module, factories)
            for name, node in module.functions.items():
                if not isinstance(node, ast.FunctionDef):
                    continue
                returns = [n for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
                services = {finder.service_of(r.value, {}) for r in returns}  # type: ignore[arg-type]
                if len(services) == 1 and isinstance(next(iter(services)), str):
                    factories[(module.name, name)] = str(next(iter(services)))
    return factories


def handler_calls(function_dir: str) -> list[Call]:
    """Every AWS call reachable from `functions/<function_dir>/app.py`'s handler (and its init phase)."""
    modules = _modules()
    factories = _factories()
    start = f"functions.{function_dir}.app"
    app = modules[start]
    init_finder = _CallFinder(app, factories)
    calls = init_finder.calls(ast.Module(body=[n for n in app.tree.body], type_ignores=[]))
    todo = sorted(init_finder.references(app.tree))
    return calls + _reachable_calls(modules, todo, lambda target, _node: _CallFinder(modules[target[0]], factories))


def _reachable_calls(
    modules: dict[str, _Module],
    todo: list[tuple[str, str]],
    finder_for: Callable[[tuple[str, str], ast.AST], _CallFinder | None],
) -> list[Call]:
    """The AWS calls of every function reachable from `todo` ((module, function) pairs, taken from its end):
    a library function's from LIBRARY_CALLS, any other's through `finder_for(target, node)` (None: the
    function is not read, nor what it references)."""
    seen: set[tuple[str, str]] = set()
    calls: list[Call] = []
    while todo:
        target = todo.pop()
        if target in seen:
            continue
        seen.add(target)
        if target in LIBRARY_CALLS:
            where = f"{target[0]}.{target[1]} (library)"
            calls += [Call(service, method, where) for service, method in LIBRARY_CALLS[target]]
            continue
        node = modules[target[0]].functions[target[1]]
        finder = finder_for(target, node)
        if finder is None:
            continue
        calls += finder.calls(node)
        todo += sorted(finder.references(node) - seen)
    return calls


def function_dirs(template: Template) -> dict[str, str]:
    """Function logical id -> its folder under functions/ (functions whose Condition is false do not exist)."""
    dirs = {}
    for lid, resource in template.sam["Resources"].items():
        if resource.get("Condition") and not template.condition(resource["Condition"]):
            continue
        if resource.get("Type") == "AWS::Serverless::Function":
            uri = str(resource["Properties"].get("CodeUri", "")).strip("/")
            if uri.startswith("functions/"):
                dirs[lid] = uri.removeprefix("functions/")
    return dirs


# --- what the operator commands call ----------------------------------------------------------------
# `driftline status/runs/run/quarantine/watch/report/retrain/rollback/promote/pause/resume/init` run on the
# caller's own credentials: local/driftline_local/ops/*.py and the layer code they call in-process.
OPERATOR_PACKAGE = "driftline_local.ops"
# services whose method names mark a call on a client this analysis could not name (`x.describe_stacks()`)
_SERVICES_SEEN = (
    "s3",
    "dynamodb",
    "stepfunctions",
    "sagemaker",
    "logs",
    "cloudwatch",
    "sns",
    "sqs",
    "sts",
    "cloudformation",
    "events",
    "lambda",
    "kms",
)
_TABLE_METHODS = {"query", "scan", "get_item", "put_item", "update_item", "delete_item", "batch_writer"}
_TRANSFER_METHODS = {"copy", "upload_file", "upload_fileobj", "download_file", "download_fileobj"}


@dataclass(frozen=True)
class Unresolved:
    """A call that looks like an AWS call but whose service (or client) the analysis cannot name."""

    where: str
    code: str
    reason: str


@cache
def _operation_methods() -> frozenset[str]:
    names: set[str] = set(_TABLE_METHODS | _TRANSFER_METHODS | {"paginate", "get_paginator"})
    for service in _SERVICES_SEEN:
        names |= set(_operations(service))
    return frozenset(names)


def _is_operator(module: _Module) -> bool:
    return module.name.split(".")[0] == "driftline_local"


class _OperatorCallFinder(_CallFinder):
    """`_CallFinder` plus the operator code's ways to a client: `ops.client("s3")` (a `Driftline` session's
    clients), `ops.table()` / `resource.Table(name)`, clients passed as arguments, and methods called on an
    object (`ops.require_model`, `self.look`); calls that look like AWS calls on anything else are reported."""

    def __init__(self, module: _Module, factories: dict[tuple[str, str], str], parameters: dict[str, str]) -> None:
        super().__init__(module, factories)
        self.parameters = parameters  # this function's parameters bound to a client by its callers
        self.unresolved: list[Unresolved] = []

    def service_of(self, node: ast.AST, bound: dict[str, Any]) -> Any:
        service = super().service_of(node, bound)
        if service is not None or not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            return service
        func, args = node.func, node.args
        receiver_is_import = isinstance(func.value, ast.Name) and func.value.id in self.module.imports
        if _is_operator(self.module) and func.attr == "client" and args and isinstance(args[0], ast.Constant):
            return str(args[0].value)  # ops.client("s3"), session.client("cloudformation", ...)
        if _is_operator(self.module) and func.attr == "table" and not args and not receiver_is_import:
            return "dynamodb:table"  # Driftline.table(): the stack's state table
        if func.attr == "Table" and len(args) == 1 and not receiver_is_import:
            return "dynamodb:table"  # a boto3 DynamoDB resource's Table
        return None

    def calls(self, function: ast.AST) -> list[Call]:
        found = self._calls_with(function, dict(self.parameters))
        return found

    def _calls_with(self, function: ast.AST, bound: dict[str, Any]) -> list[Call]:
        nodes = list(ast.walk(function))
        versioned = any(isinstance(n, ast.Constant) and n.value == "VersionId" for n in nodes)
        for _ in range(2):  # `sfn = ops.client(...)`, then `paginator = sfn.get_paginator(...)`
            for node in nodes:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    service = self.service_of(node.value, bound)
                    if service is not None:
                        bound[node.targets[0].id] = service
        found: list[Call] = []
        path = self.module.path
        for node in nodes:
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            where = f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}:{node.lineno}"
            method = node.func.attr
            service = self.service_of(node.func.value, bound)
            if isinstance(service, tuple) and method == "paginate":
                found.append(Call(service[1], service[2], where, versioned, *self._s3_target(node, function)))
            elif service == "dynamodb:table":
                found.append(Call("dynamodb", f"table.{method}", where, versioned))
            elif isinstance(service, str) and method not in NOT_CALLS:
                target = self._s3_target(node, function) if service == "s3" and method != "copy" else (None, None)
                found.append(Call(service, method, where, versioned, *target))
            elif (
                method == "client"
                and _is_operator(self.module)
                and not (node.args and isinstance(node.args[0], ast.Constant))
            ):
                self.unresolved.append(Unresolved(where, ast.unparse(node), "a client whose service is not a literal"))
            elif (
                service is None
                and method in _operation_methods()
                and not self._is_import(node.func.value)
                and not self._is_plain_global(node.func.value)
            ):
                self.unresolved.append(
                    Unresolved(where, ast.unparse(node), f"{method}() on an object not known to be a client")
                )
        return found

    def _s3_target(self, call: ast.Call, function: ast.AST) -> tuple[str | None, str | None]:
        """(bucket logical id, key or prefix with formatted values as `x`) of an S3 call, where the code says."""
        arguments = {k.arg: k.value for k in call.keywords if k.arg}
        if isinstance(call.func, ast.Attribute) and call.func.attr in _TRANSFER_METHODS and len(call.args) >= 3:
            arguments |= {"Bucket": call.args[1], "Key": call.args[2]}  # upload_file(Filename, Bucket, Key)
        bucket = self._text(arguments.get("Bucket"), function)
        lid = "ArtifactBucket" if "artifact_bucket" in bucket else "DataBucket" if "data_bucket" in bucket else None
        key_node = arguments.get("Key", arguments.get("Prefix"))
        key = _pattern(key_node, self.module) if isinstance(key_node, ast.JoinedStr | ast.Constant) else None
        return (lid, key) if lid and key else (None, None)

    def _text(self, node: ast.AST | None, function: ast.AST) -> str:
        """The source of an expression, through one local assignment or a module function's return."""
        if isinstance(node, ast.Name):
            for child in ast.walk(function):
                if isinstance(child, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == node.id for t in child.targets
                ):
                    return ast.unparse(child.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.module.functions:
            returns = [n for n in ast.walk(self.module.functions[node.func.id]) if isinstance(n, ast.Return)]
            return " ".join(ast.unparse(r.value) for r in returns if r.value is not None)
        return ast.unparse(node) if node is not None else ""

    def _is_plain_global(self, node: ast.AST) -> bool:
        """A module-level name bound to something other than a client (`ROUND_LINE = re.compile(...)`)."""
        if not isinstance(node, ast.Name):
            return False
        values = [
            n.value
            for n in self.module.tree.body
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id for t in n.targets)
        ]
        return bool(values) and all(self.service_of(v, {}) is None for v in values)

    def _is_import(self, node: ast.AST) -> bool:
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.module.imports

    def references(self, function: ast.AST) -> set[tuple[str, str]]:
        targets = super().references(function)
        if not _is_operator(self.module):
            return targets
        methods = _operator_methods()
        for node in ast.walk(function):
            # `ops.require_model(...)`, `self.look()`, `ops.stack` (a property): any operator class's method of
            # that name (an over-approximation: a name two classes share reaches both)
            if isinstance(node, ast.Attribute) and not self._is_import(node.value):
                targets |= set(methods.get(node.attr, ()))
        return targets

    def callees(self, function: ast.AST, bound: dict[str, Any]) -> Iterator[tuple[tuple[str, str], dict[str, str]]]:
        """(callee, {its parameter: service}) for each call passing a client on (`_exists(s3, bucket, key)`)."""
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            target = self._function_target(node.func)
            callee = _modules().get(target[0]) if target else None
            definition = callee.functions.get(target[1]) if callee and target else None
            if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef) or target is None:
                continue
            names = [a.arg for a in definition.args.posonlyargs + definition.args.args]
            passed: dict[str, str] = {}
            for position, argument in enumerate(node.args):
                service = self.service_of(argument, bound)
                if isinstance(service, str) and position < len(names):
                    passed[names[position]] = service
            for keyword in node.keywords:
                service = self.service_of(keyword.value, bound)
                if isinstance(service, str) and keyword.arg:
                    passed[keyword.arg] = service
            if passed:
                yield target, passed


def _pattern(node: ast.JoinedStr | ast.Constant, module: _Module) -> str | None:
    """A key as the code writes it: literals and module-level string constants kept, anything else `x` (a leading
    `x/` is one path segment, e.g. the model); None when the literals do not fix where the key starts."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    constants = {
        t.id: n.value.value
        for n in module.tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif (
            isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name) and value.value.id in constants
        ):
            parts.append(constants[value.value.id])
        else:
            parts.append("\0")
    if not any(c.isalnum() for part in parts if part != "\0" for c in part):
        return None
    if parts[0] == "\0" and not (len(parts) > 1 and parts[1].startswith("/")):
        return None  # the key's start is a value the code computes (`f"{key}.reason.json"`): its prefix is unknown
    return "".join(parts).replace("\0", "x")


@cache
def _operator_methods() -> dict[str, list[tuple[str, str]]]:
    """Method name -> the operator classes' methods of that name (dunders left out)."""
    methods: dict[str, list[tuple[str, str]]] = {}
    for module in _modules().values():
        if not _is_operator(module):
            continue
        for qualified in module.functions:
            if "." in qualified and not qualified.split(".", 1)[1].startswith("__"):
                methods.setdefault(qualified.split(".", 1)[1], []).append((module.name, qualified))
    return methods


@cache
def _operator_parameters() -> dict[tuple[str, str], dict[str, str]]:
    """Functions' parameters that their callers bind to a client (two rounds: a client passed on twice)."""
    factories = _factories()
    parameters: dict[tuple[str, str], dict[str, str]] = {}
    for _ in range(2):
        for module in _modules().values():
            for name, node in module.functions.items():
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                finder = _OperatorCallFinder(module, factories, parameters.get((module.name, name), {}))
                bound = dict(finder.parameters)
                for child in ast.walk(node):
                    if isinstance(child, ast.Assign) and len(child.targets) == 1:
                        target = child.targets[0]
                        service = finder.service_of(child.value, bound) if isinstance(target, ast.Name) else None
                        if service is not None and isinstance(target, ast.Name):
                            bound[target.id] = service
                for callee, passed in finder.callees(node, bound):
                    parameters.setdefault(callee, {}).update(passed)
    return parameters


def operator_calls() -> tuple[list[Call], list[Unresolved]]:
    """Every AWS call the operator commands can make: from every function, method and module body of the
    `driftline_local.ops` package through the layer functions they reach; and the calls it cannot name."""
    modules = _modules()
    factories = _factories()
    parameters = _operator_parameters()
    calls: list[Call] = []
    unresolved: list[Unresolved] = []
    todo: list[tuple[str, str]] = []
    for module in modules.values():
        if not module.name.startswith(OPERATOR_PACKAGE):
            continue
        finder = _OperatorCallFinder(module, factories, {})
        body = [n for n in module.tree.body if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
        calls += finder.calls(ast.Module(body=body, type_ignores=[]))
        unresolved += finder.unresolved
        todo += [(module.name, name) for name in module.functions]
    finders: list[_OperatorCallFinder] = []

    def finder_for(target: tuple[str, str], node: ast.AST) -> _OperatorCallFinder | None:
        module = modules[target[0]]
        if isinstance(node, ast.ClassDef) and _is_operator(module):
            return None  # its methods are walked one by one
        finders.append(_OperatorCallFinder(module, factories, parameters.get(target, {})))
        return finders[-1]

    calls += _reachable_calls(modules, todo, finder_for)
    for finder in finders:
        unresolved += finder.unresolved
    return calls, list(dict.fromkeys(unresolved))


# --- what the state machines' tasks need -----------------------------------------------------------
@dataclass(frozen=True)
class Need:
    action: str
    resource: str | None  # None: any resource (the action has no resource type, or it is unknown)
    context: tuple[tuple[str, str], ...] = ()
    why: str = ""


_SYNC_RULES = {
    "createTrainingJob": "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "createProcessingJob": "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
    "createTransformJob": "StepFunctionsGetEventsForSageMakerTransformJobsRule",
    "startExecution": "StepFunctionsGetEventsForStepFunctionsExecutionRule",
}
_SAGEMAKER_NOUN = {
    "createTrainingJob": "training-job",
    "createProcessingJob": "processing-job",
    "createTransformJob": "transform-job",
    "createModel": "model",
    "createEndpointConfig": "endpoint-config",
    "createEndpoint": "endpoint",
    "updateEndpoint": "endpoint",
    "describeEndpoint": "endpoint",
    "updateEndpointWeightsAndCapacities": "endpoint",
}


def _task_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _task_states(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _task_states(processor["States"])


def _sagemaker_arn(template: Template, noun: str, name: str) -> str:
    return f"arn:aws:sagemaker:{template.region}:{template.account}:{noun}/{name.lower()}"


def asl_requirements(template: Template, machine_lid: str) -> list[Need]:
    """The IAM needs of every Task in the state machine's definition (substitutions applied)."""
    sam_properties = template.sam["Resources"][machine_lid]["Properties"]
    definition = (REPO_ROOT / sam_properties["DefinitionUri"]).read_text(encoding="utf-8")
    for key, value in (sam_properties.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", str(template.resolve(value)))
    needs: list[Need] = []
    for name, state in _task_states(json.loads(definition)["States"]):
        resource = str(state["Resource"])
        parameters = state.get("Parameters") or state.get("Arguments") or {}
        match = re.fullmatch(
            r"arn:aws:states:::(aws-sdk:)?([a-z0-9-]+):([A-Za-z0-9]+)(\.sync(:2)?|\.waitForTaskToken)?", resource
        )
        if resource.startswith("arn:aws:lambda:"):
            needs.append(Need("lambda:InvokeFunction", resource, why=name))
            continue
        assert match, f"{machine_lid}: state {name!r} has an unrecognised resource {resource}"
        sdk, service, api, pattern = match.group(1), match.group(2), match.group(3), match.group(4) or ""
        if service == "lambda" and api == "invoke":
            function = parameters.get("FunctionName")
            target = function if isinstance(function, str) and function.startswith("arn:") else None
            needs.append(Need("lambda:InvokeFunction", target, why=name))
        elif service == "sagemaker":
            noun = _SAGEMAKER_NOUN.get(api)
            name_param = {
                "training-job": "TrainingJobName",
                "processing-job": "ProcessingJobName",
                "transform-job": "TransformJobName",
                "model": "ModelName",
                "endpoint-config": "EndpointConfigName",
                "endpoint": "EndpointName",
            }.get(noun or "")
            named = parameters.get(name_param or "")
            # a name from the state (`EndpointName.$`) is unknown here: any resource of the type
            target = _sagemaker_arn(template, noun, named) if noun and isinstance(named, str) else None
            action = "sagemaker:" + api[:1].upper() + api[1:]
            needs.append(Need(action, target, why=name))
            if parameters.get("Tags") or parameters.get("Tags.$"):
                needs.append(Need("sagemaker:AddTags", target, why=f"{name} (Tags)"))
            for role_key in ("RoleArn", "ExecutionRoleArn"):
                role = parameters.get(role_key)
                if isinstance(role, str):
                    context = (("iam:passedtoservice", "sagemaker.amazonaws.com"),)
                    needs.append(Need("iam:PassRole", role, context, why=f"{name} ({role_key})"))
            if pattern.startswith(".sync") and not sdk:
                kind = api.removeprefix("create")
                needs.append(Need(f"sagemaker:Describe{kind}", target, why=f"{name} (.sync)"))
                needs.append(Need(f"sagemaker:Stop{kind}", target, why=f"{name} (.sync)"))
                rule = f"arn:aws:events:{template.region}:{template.account}:rule/{_SYNC_RULES[api]}"
                for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
                    needs.append(Need(action, rule, why=f"{name} (.sync)"))
        elif service == "states" and api == "startExecution":
            machine = parameters.get("StateMachineArn")
            needs.append(Need("states:StartExecution", machine if isinstance(machine, str) else None, why=name))
            if pattern.startswith(".sync"):
                executions = None
                if isinstance(machine, str):
                    executions = machine.replace(":stateMachine:", ":execution:") + ":*"
                needs.append(Need("states:DescribeExecution", executions, why=f"{name} (.sync)"))
                needs.append(Need("states:StopExecution", executions, why=f"{name} (.sync)"))
                rule = f"arn:aws:events:{template.region}:{template.account}:rule/{_SYNC_RULES[api]}"
                for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
                    needs.append(Need(action, rule, why=f"{name} (.sync)"))
        else:
            from driftline_local.iam import iam_action

            operation = api[:1].upper() + api[1:]
            needs.append(Need(iam_action(service, operation), None, why=name))
    return needs


def explain(documents: Iterable[dict[str, Any]]) -> str:
    return json.dumps(copy.deepcopy(list(documents)), indent=1)[:4000]
