"""IAM in the local cloud: every caller acts with its template role, and a missing permission is AccessDenied.

On AWS a Lambda handler, a state machine's task and a SageMaker job each call AWS with a session of
their own role. Here the same: `credentials_for_role(role_arn)` assumes the role through moto's STS
(the role's trust policy must name the calling service) and returns the session as environment
variables. Requests signed with such a session are authorized against the role's policies; every other
request (the deployer, tests, the local cloud's own machinery acting as the AWS services themselves)
is the account's administrator, as `sam deploy` with admin credentials is.

moto's own check (`moto.iam.access_control`, armed by `INITIAL_NO_AUTH_ACTION_COUNT`) is too coarse
to run the template's roles (see docs/internals.md, "IAM in the local cloud"): it names the action
`<signing name>:<operation>` (`lambda:Invoke`, `monitoring:PutMetricData`), passes the resource `*`
for every service but S3, SQS, IAM and STS (so a statement scoped to an ARN never matches), and
ignores conditions. This module replaces the decision, keeping moto's signature check:

- the IAM action of each request (`iam_actions`), with what the call implies: `iam:PassRole` for a
  role handed to a service, `s3:GetObject` on the source of a copy;
- the resource ARN where the request names it (DynamoDB tables, SNS topics, SQS queues, Step
  Functions machines and executions, SageMaker jobs, models, endpoints, Lambda functions, log groups,
  event buses, alarms, S3 objects and buckets); elsewhere the resource is not checked;
- `Allow`/`Deny` with `Action`/`NotAction`, `Resource`/`NotResource` wildcards, explicit deny first;
- conditions on the keys the request supplies (`iam:PassedToService`, `cloudwatch:namespace`) with
  the String*/Arn* operators; other condition keys are not evaluated (treated as met).

What stays unchecked (resource policies, KMS key use, SCPs, session policies) is covered by
tests/template/test_iam_static.py and `kms_policy`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

SESSION_SECONDS = 12 * 3600  # moto never expires sessions; the longest a role allows


class RoleNotAssumable(RuntimeError):
    """The role does not exist or its trust policy does not let the service assume it."""


@dataclass(frozen=True)
class Session:
    role_arn: str
    session_name: str
    access_key_id: str
    secret_access_key: str
    session_token: str

    @property
    def arn(self) -> str:
        account = self.role_arn.split(":")[4]
        return f"arn:aws:sts::{account}:assumed-role/{self.role_arn.rsplit('/', 1)[-1]}/{self.session_name}"

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


@dataclass
class _State:
    enforcing: bool = False
    region: str = "us-east-1"
    sessions: dict[str, Session] = field(default_factory=dict)  # access key id -> session
    by_role: dict[tuple[str, str], Session] = field(default_factory=dict)  # (role arn, service) -> session
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = _State()


def enforcing() -> bool:
    return _state.enforcing


# --- sessions -----------------------------------------------------------------------------------
def _role(role_arn: str) -> Any:
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    try:
        return iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception as exc:
        raise RoleNotAssumable(f"The role {role_arn} does not exist.") from exc


def _trusts(role: Any, service: str) -> bool:
    document = role.assume_role_policy_document
    document = json.loads(document) if isinstance(document, str) else document
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow" or not _matches_any(_as_list(statement.get("Action")), "sts:AssumeRole"):
            continue
        principal = statement.get("Principal") or {}
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if service in services:
            return True
    return False


def credentials_for_role(
    role_arn: str, service: str = "sagemaker.amazonaws.com", session_name: str | None = None
) -> dict[str, str]:
    """Environment variables (`AWS_ACCESS_KEY_ID`, `..._SECRET_ACCESS_KEY`, `..._SESSION_TOKEN`) of a
    session of `role_arn` as `service` assumes it; raises `RoleNotAssumable` as AWS refuses the role.

    Without enforcement this returns `{}`: callers keep their dummy credentials.
    """
    if not _state.enforcing:
        return {}
    return session_for_role(role_arn, service, session_name).environment()


def session_for_role(role_arn: str, service: str, session_name: str | None = None) -> Session:
    """One session per (role, service), reused (moto keeps every session it issued)."""
    with _state.lock:
        cached = _state.by_role.get((role_arn, service))
        if cached is not None:
            return cached
        role = _role(role_arn)
        if not _trusts(role, service):
            raise RoleNotAssumable(f"{service} cannot assume {role_arn}: its trust policy does not allow it.")
        from moto.sts.models import sts_backends

        account = role_arn.split(":")[4]
        name = (session_name or service.split(".")[0])[:64]
        assumed = sts_backends[account]["aws"].assume_role(
            region_name=_state.region,
            role_session_name=name,
            role_arn=role_arn,
            policy="",
            duration=SESSION_SECONDS,
            external_id="",
        )
        session = Session(role_arn, name, assumed.access_key_id, assumed.secret_access_key, assumed.session_token)
        _state.sessions[session.access_key_id] = session
        _state.by_role[(role_arn, service)] = session
        return session


def boto3_session(role_arn: str, service: str) -> Any:
    import boto3

    env = session_for_role(role_arn, service).environment()
    return boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        region_name=_state.region,
    )


# --- policy evaluation --------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE if case_insensitive else 0)


def _matches_any(patterns: Iterable[str], value: str, case_insensitive: bool = True) -> bool:
    return any(_glob(str(p), case_insensitive).match(value) for p in patterns)


def _condition_met(operator: str, values: dict[str, Any], context: dict[str, str], unknown: bool = True) -> bool:
    """`unknown`: the result for a key or operator the local cloud cannot evaluate (an Allow's condition
    is then met, a Deny's is not: the local cloud never refuses what AWS may allow)."""
    base = operator.removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
    base = base.removesuffix("IfExists")  # a missing key is skipped below either way
    for key, expected in values.items():
        actual = context.get(key.lower())
        if actual is None:
            if not unknown:
                return False
            continue  # a key the local cloud does not know: not evaluated (docs/internals.md)
        expected_list = [str(v) for v in _as_list(expected)]
        if base in ("StringEquals", "ArnEquals"):
            ok = actual in expected_list
        elif base == "StringEqualsIgnoreCase":
            ok = actual.lower() in [v.lower() for v in expected_list]
        elif base in ("StringLike", "ArnLike"):
            ok = _matches_any(expected_list, actual, case_insensitive=False)
        elif base == "StringNotEquals":
            ok = actual not in expected_list
        elif base == "StringNotLike":
            ok = not _matches_any(expected_list, actual, case_insensitive=False)
        else:
            if not unknown:
                return False
            continue  # an operator the local cloud does not evaluate
        if not ok:
            return False
    return True


def statement_applies(statement: dict[str, Any], action: str, resource: str | None, context: dict[str, str]) -> bool:
    """Does `statement` cover `action` on `resource` (None: resource unknown, not checked)?"""
    if "NotAction" in statement:
        if _matches_any(_as_list(statement["NotAction"]), action):
            return False
    elif not _matches_any(_as_list(statement.get("Action")), action):
        return False
    if resource is None and statement.get("Effect") == "Deny":
        # unknown resource: a Deny applies only when it names every resource
        if "NotResource" in statement or "*" not in _as_list(statement.get("Resource", "*")):
            return False
    elif resource is not None:
        if "NotResource" in statement:
            if _matches_any(_as_list(statement["NotResource"]), resource, case_insensitive=False):
                return False
        elif not _matches_any(_as_list(statement.get("Resource", "*")), resource, case_insensitive=False):
            return False
    for operator, values in (statement.get("Condition") or {}).items():
        lenient = statement.get("Effect") != "Deny"
        if isinstance(values, dict) and not _condition_met(operator, values, context, unknown=lenient):
            return False
    return True


def decide(documents: Iterable[dict[str, Any]], action: str, resource: str | None, context: dict[str, str]) -> str:
    """`"Allow"`, `"Deny"` (explicit) or `"ImplicitDeny"` for `action` on `resource` under `documents`."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if not statement_applies(statement, action, resource, context):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def role_policy_documents(role_arn: str) -> list[dict[str, Any]]:
    """Inline and attached policies of a role in moto's IAM."""
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4]
    backend = iam_backends[account]["aws"]
    name = role_arn.rsplit("/", 1)[-1]
    documents: list[dict[str, Any]] = []
    for policy_name in backend.list_role_policies(name):
        _, document = backend.get_role_policy(name, policy_name)
        documents.append(json.loads(document) if isinstance(document, str) else document)
    attached, _ = backend.list_attached_role_policies(name)
    for policy in attached:
        version = next(v for v in policy.versions if v.is_default)
        document = version.document
        documents.append(json.loads(document) if isinstance(document, str) else document)
    return documents


# --- what a request asks for --------------------------------------------------------------------
SIGNING_NAME_TO_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
# operations whose IAM action is not `<prefix>:<OperationName>`
ACTION_EXCEPTIONS = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("lambda", "InvokeAsync"): "lambda:InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "lambda:InvokeFunction",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "CopyObject"): "s3:PutObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("sagemaker-runtime", "InvokeEndpoint"): "sagemaker:InvokeEndpoint",
    ("runtime.sagemaker", "InvokeEndpoint"): "sagemaker:InvokeEndpoint",
    ("stepfunctions", "StartExecution"): "states:StartExecution",
}
# boto3 service name -> IAM prefix, where they differ
SERVICE_PREFIX = {
    "stepfunctions": "states",
    "sagemaker-runtime": "sagemaker",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action a botocore operation of `service` (boto3 name or signing name) needs."""
    exception = ACTION_EXCEPTIONS.get((service, operation))
    if exception:
        return exception
    prefix = SERVICE_PREFIX.get(service, SIGNING_NAME_TO_PREFIX.get(service, service))
    return f"{prefix}:{operation}"


_SAGEMAKER_NAMES = (
    ("TrainingJobName", "training-job"),
    ("ProcessingJobName", "processing-job"),
    ("TransformJobName", "transform-job"),
    ("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    ("EndpointName", "endpoint"),
    ("EndpointConfigName", "endpoint-config"),
    ("ModelName", "model"),
    ("MonitoringScheduleName", "monitoring-schedule"),
    ("ModelPackageGroupName", "model-package-group"),
)
_SAGEMAKER_NOUNS = {
    "TrainingJob": "TrainingJobName",
    "ProcessingJob": "ProcessingJobName",
    "TransformJob": "TransformJobName",
    "HyperParameterTuningJob": "HyperParameterTuningJobName",
    "TrainingJobsForHyperParameterTuningJob": "HyperParameterTuningJobName",
    "EndpointConfig": "EndpointConfigName",
    "Endpoint": "EndpointName",
    "EndpointWeightsAndCapacities": "EndpointName",
    "Model": "ModelName",
    "MonitoringSchedule": "MonitoringScheduleName",
}
_ROLE_PARAMETERS = ("RoleArn", "ExecutionRoleArn", "roleArn", "Role")


@dataclass(frozen=True)
class Check:
    action: str
    resource: str | None
    context: dict[str, str] = field(default_factory=dict)


def _sagemaker_resource(operation: str, params: dict[str, Any], region: str, account: str) -> str | None:
    if "ResourceArn" in params:
        return str(params["ResourceArn"])
    for noun, param in sorted(_SAGEMAKER_NOUNS.items(), key=lambda item: -len(item[0])):
        if operation.endswith(noun) and param in params:
            kind = dict(_SAGEMAKER_NAMES)[param]
            return f"arn:aws:sagemaker:{region}:{account}:{kind}/{str(params[param]).lower()}"
    if operation == "InvokeEndpoint" and "EndpointName" in params:
        return f"arn:aws:sagemaker:{region}:{account}:endpoint/{str(params['EndpointName']).lower()}"
    return None


_DASHBOARD_OPERATIONS = {"PutDashboard", "GetDashboard", "DeleteDashboards"}


def request_checks(
    service: str,
    operation: str,
    params: dict[str, Any],
    region: str,
    account: str,
    moto_resource: str = "*",
    path: str = "",
    headers: dict[str, str] | None = None,
) -> list[Check]:
    """What a request needs: its own action on its resource, plus what the call implies."""
    headers = headers or {}
    if service == "s3":
        action = f"s3:{operation}"
        checks = [Check(action, moto_resource if moto_resource != "*" else None)]
        source = headers.get("x-amz-copy-source") or headers.get("X-Amz-Copy-Source")
        if source and action == "s3:PutObject":
            from urllib.parse import unquote

            source = unquote(source).lstrip("/").split("?versionId=")[0]
            checks.append(Check("s3:GetObject", f"arn:aws:s3:::{source}"))
        return checks

    action = iam_action(service, operation)
    prefix = action.split(":")[0]
    resource: str | None = moto_resource if moto_resource != "*" else None
    context: dict[str, str] = {}
    if prefix == "dynamodb" and "TableName" in params:
        resource = f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName']}"
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
    elif prefix == "sns" and params.get("TopicArn"):
        resource = str(params["TopicArn"])
    elif prefix == "sqs" and params.get("QueueUrl"):
        resource = f"arn:aws:sqs:{region}:{account}:{str(params['QueueUrl']).rstrip('/').rsplit('/', 1)[-1]}"
    elif prefix == "states":
        resource = params.get("stateMachineArn") or params.get("executionArn") or None
    elif prefix == "sagemaker":
        resource = _sagemaker_resource(operation, params, region, account)
    elif prefix == "lambda":
        match = re.search(r"/functions/([^/]+)/", path + "/")
        if match:
            from urllib.parse import unquote

            name = unquote(match.group(1))
            resource = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    elif prefix == "logs" and params.get("logGroupName"):
        resource = f"arn:aws:logs:{region}:{account}:log-group:{params['logGroupName']}"
        if params.get("logStreamName"):
            resource += f":log-stream:{params['logStreamName']}"
    elif prefix == "events" and operation == "PutEvents":
        buses = {str(e.get("EventBusName") or "default") for e in params.get("Entries", []) if isinstance(e, dict)}
        if len(buses) == 1:
            bus = buses.pop()
            resource = bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"
    elif prefix == "cloudwatch":
        if params.get("AlarmName"):
            resource = f"arn:aws:cloudwatch:{region}:{account}:alarm:{params['AlarmName']}"
        if params.get("Namespace"):
            context["cloudwatch:namespace"] = str(params["Namespace"])
        dashboards = [params["DashboardName"]] if params.get("DashboardName") else params.get("DashboardNames")
        if operation in _DASHBOARD_OPERATIONS and isinstance(dashboards, list) and dashboards:
            # dashboards are global: no region in their ARN (Service Authorization Reference, CloudWatch)
            arns = [f"arn:aws:cloudwatch::{account}:dashboard/{name}" for name in dashboards]
            return [Check(action, arn, {}) for arn in arns]
    checks = [Check(action, resource, context)]
    for role in _passed_roles(params):
        checks.append(Check("iam:PassRole", role, {"iam:passedtoservice": f"{prefix}.amazonaws.com"}))
    return [Check(c.action, c.resource, {k.lower(): v for k, v in c.context.items()}) for c in checks]


def _passed_roles(params: dict[str, Any]) -> list[str]:
    """Every role ARN a request passes: the top-level role parameters, and the trials' roles that
    CreateHyperParameterTuningJob carries in TrainingJobDefinition(s).RoleArn (AWS checks iam:PassRole on
    each). Nothing else nested: a Lambda invocation's payload may hold a RoleArn, but that is data."""
    holders = [params, params.get("TrainingJobDefinition"), *(params.get("TrainingJobDefinitions") or [])]
    found: list[str] = []
    for holder in holders:
        if not isinstance(holder, dict):
            continue
        for key in _ROLE_PARAMETERS:
            role = holder.get(key)
            if isinstance(role, str) and role.startswith("arn:") and ":role/" in role and role not in found:
                found.append(role)
    return found


# --- the authorizer moto calls ------------------------------------------------------------------
def _between(text: str, first: str, second: str) -> str:
    return text.partition(first)[2].partition(second)[0]


def _request_params(response: Any) -> dict[str, Any]:
    body = getattr(response, "raw_body", None) or getattr(response, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                return parsed
        except ValueError:
            pass
    params: dict[str, Any] = {}
    for key, value in (getattr(response, "querystring", None) or {}).items():
        params[key] = value[0] if isinstance(value, list) and len(value) == 1 else value
    return params


def _access_denied(response: Any, session: Session, check: Check, s3: bool) -> None:
    """Raise the service's own AccessDenied error (code and protocol as the service answers)."""
    from moto.core.exceptions import JsonRESTError, _RESTError

    on = f" on resource: {check.resource}" if check.resource else ""
    message = (
        f"User: {session.arn} is not authorized to perform: {check.action}{on} "
        f"because no identity-based policy allows the {check.action} action"
    )
    log.info("AccessDenied: %s", message)
    error: Any
    if s3:  # S3's REST-XML error document, 403 (also for HEAD, whose body is dropped)
        from xml.sax.saxutils import escape

        error = _RESTError("AccessDenied", message)
        error.description = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
        )
        error.code = 403
        raise error
    target = response.headers.get("X-Amz-Target") or response.headers.get("x-amz-target")
    content_type = str(response.headers.get("Content-Type") or "")
    if target or "json" in content_type or check.action.startswith("lambda:"):
        error = JsonRESTError("AccessDeniedException", message)
        error.code = 403 if check.action.startswith("lambda:") else 400
        raise error
    error = _RESTError("AuthorizationError" if check.action.startswith("sns:") else "AccessDenied", message)
    error.code = 403
    raise error


def _authorize(original: Any, response: Any, iam_request_cls: type, resource: str = "*") -> None:
    authorization = response.headers.get("Authorization") or ""
    session = _state.sessions.get(_between(authorization, "Credential=", "/")) if _state.enforcing else None
    if session is None:
        original(response, iam_request_cls, resource)
        return
    from moto.iam.access_control import S3IAMRequest

    parsed_path = response.raw_path
    query = response.uri.partition("?")[2]
    if query:
        parsed_path += "?" + query
    operation = response._get_action()
    if isinstance(operation, list):
        operation = operation[0]
    s3 = iam_request_cls is S3IAMRequest
    iam_request = iam_request_cls(
        account_id=response.current_account,
        method=response.method,
        path=parsed_path,
        # moto signs `body or data`: a bodiless GET (lambda:GetFunction) must hash as empty, not as its
        # query; a form POST (SNS, whose body werkzeug consumed into the form) as its form
        data=response.data if (s3 or response.raw_body or getattr(response, "form_data", None)) else {},
        body=response.raw_body,
        headers=response.headers,
        action=operation,
    )
    iam_request.check_signature()
    scope = _between(authorization, "Credential=", ",").split("/")
    region, signing_name = scope[2], scope[3]
    service = "s3" if s3 else signing_name
    if service == "sts" and operation == "GetCallerIdentity":
        return
    account = session.role_arn.split(":")[4]
    checks = request_checks(
        service,
        str(operation),
        {} if s3 else _request_params(response),
        region,
        account,
        moto_resource=resource,
        path=getattr(response, "path", "") or "",
        headers=dict(response.headers),
    )
    documents = role_policy_documents(session.role_arn)
    for check in checks:
        if decide(documents, check.action, check.resource, check.context) != "Allow":
            _access_denied(response, session, check, s3)


def _install_authorizer() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin

    current = ActionAuthenticatorMixin._authenticate_and_authorize_action
    if getattr(current, "_driftline_local", False):
        return
    original = current

    def authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        _authorize(original, self, iam_request_cls, resource)

    authenticate_and_authorize_action._driftline_local = True  # type: ignore[attr-defined]
    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize_action  # type: ignore[method-assign]


def _install_state_machine_credentials() -> None:
    """moto's ASL interpreter calls services as `ak`/`sk`; make its tasks act as the machine's role."""
    import sys

    from moto.stepfunctions.parser.asl.utils import boto_client

    if getattr(boto_client.boto_client_for, "_driftline_local", False):
        return  # installed by an earlier cloud in this process; it reads the current `_state`
    original = boto_client.boto_client_for

    @functools.wraps(original)
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not _state.enforcing or not role_arn:
            return original(region, service, state_credentials)
        import boto3
        from botocore.config import Config
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

        env = session_for_role(role_arn, "states.amazonaws.com").environment()
        kwargs: dict[str, Any] = {}
        if not botocore_stubber.enabled:
            kwargs["endpoint_url"] = f"http://localhost:{moto_server_port()}"
        return boto3.client(
            service_name=service,
            region_name=region,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
            **kwargs,
        )

    # modules that imported it by name keep the old function: replace it there too
    boto_client_for._driftline_local = True  # type: ignore[attr-defined]
    boto_client.boto_client_for = boto_client_for
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def attach_managed_policies(cfn: dict[str, Any], physical: dict[str, str], account: str) -> None:
    """moto's CloudFormation drops a role's `ManagedPolicyArns`; attach them (AWS-managed ones from
    moto's bundled copy of their documents)."""
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account]["aws"]
    aws_managed = None
    for lid, resource in cfn.get("Resources", {}).items():
        if resource.get("Type") != "AWS::IAM::Role" or lid not in physical:
            continue
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []) or []:
            if not isinstance(arn, str):
                continue
            arn = arn.replace("${AWS::Partition}", "aws")
            if arn not in backend.managed_policies:
                if aws_managed is None:
                    from moto.iam.aws_managed_policies import aws_managed_policies_data

                    aws_managed = json.loads(aws_managed_policies_data)
                name = arn.rsplit("/", 1)[-1]
                data = aws_managed.get(name)
                if data is None:
                    log.warning("managed policy %s is unknown to the local cloud; not attached", arn)
                    continue
                policy = AWSManagedPolicy.from_data(name, account, "us-east-1", data)
                backend.managed_policies[arn] = policy
            backend.attach_role_policy(arn, physical[lid])


def install(ctx: Any, enforce: bool) -> None:
    """Arm (or disarm) enforcement for the cloud `ctx`; sessions of an earlier cloud are forgotten."""
    with _state.lock:
        _state.sessions.clear()
        _state.by_role.clear()
        _state.region = ctx.region
        _state.enforcing = enforce
    _install_authorizer()
    _install_state_machine_credentials()


def uninstall() -> None:
    with _state.lock:
        _state.enforcing = False
        _state.sessions.clear()
        _state.by_role.clear()
