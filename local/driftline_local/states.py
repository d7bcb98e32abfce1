"""Step Functions gaps in moto's ASL-interpreting backend.

- `StartExecution` without a `name`: AWS generates a UUID; moto 5.2.5's interpreter backend names
  the execution "None", so the second unnamed execution fails with `ExecutionAlreadyExists`.
- `states:startExecution` task parameters keep their ASL casing (see `_install_sfn_parameter_casing`).
- `.sync` tasks notice their job's end up to 0.5 s late (moto polls at 2 Hz); see `SYNC_POLL_SECONDS`
  (left for `startExecution.sync`: the SageMaker `.sync` tasks wake on their job's state-change event,
  `sagemaker.sfn_integration`).
- Every execution parses its definition again with moto's ANTLR grammar (0.2-0.3 s of CPU for the
  rollout's 47 states, under the same GIL as the server); see `_install_program_cache`.
- `SendTaskFailure` drops its `cause` (moto's response passes only `error`), so a Catch sees
  `Cause: null`; see `_install_task_failure_cause`.
- CreateStateMachine accepts any field on an optimized SageMaker task; AWS refuses the ones its
  integration does not support (`sfn_parameters`).
- Every task creates a new boto3 client (`boto_client_for`): 35-75 ms each, and the first SageMaker one
  loads botocore's SageMaker model (0.3-1.7 s) in the middle of a run. Clients are cached per (region,
  service, role), and when the cloud starts the service models are loaded and each service gets one call
  (moto sets a service up on its first request, 0.3-0.9 s); see `_install_client_cache`. A machine's
  clients (one per service its tasks call, acting as its role) are made when the machine is created,
  not by its first execution's tasks; see `_install_machine_clients_ahead`.
- Every use of a JSONPath (each `.$` parameter, InputPath, ResultPath, a Choice's Variable) parses it again
  with jsonpath_ng, whose ply parser is rebuilt at each parse (0.3-0.4 ms); see `_install_jsonpath_cache`.
- A state's input, result and output are copied with `copy.deepcopy` at every step (two thirds of the
  interpreter's CPU per state once paths were cached); they are JSON values; see `_install_json_copies`.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
import sys
import threading
import uuid
from typing import Any

from driftline_local.context import LocalCloudContext

log = logging.getLogger(__name__)

# How often a `.sync` task checks its job or child execution. AWS learns of the end from the
# service's own events within about a second; moto's 0.5 s added half a second per job to every
# local run, which is all waiting. A describe call costs the local cloud about 10 ms.
SYNC_POLL_SECONDS = 0.1
# the services the stack's state machines call (their botocore models load once, at start)
TASK_SERVICES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("sagemaker", "list_processing_jobs", {"MaxResults": 1}),
    ("lambda", "list_functions", {"MaxItems": 1}),
    ("stepfunctions", "list_state_machines", {"maxResults": 1}),
    ("dynamodb", "list_tables", {"Limit": 1}),
    ("sns", "list_topics", {}),
    ("events", "list_rules", {"Limit": 1}),
    ("s3", "list_buckets", {}),
)

_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()
_client_making_lock = threading.Lock()  # held while a client is made (see boto_client_for)


def install(ctx: LocalCloudContext) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from driftline_local import sfn_parameters

    sfn_parameters.install()
    _install_client_cache(ctx)
    original = StepFunctionsParserBackend.start_execution
    if getattr(original, "_driftline_local", False):
        return

    @functools.wraps(original)
    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    start_execution._driftline_local = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]
    _install_machine_clients_ahead(ctx)
    _install_sfn_parameter_casing()
    _install_sync_poll()
    _install_program_cache()
    _install_jsonpath_cache()
    _install_json_copies()
    _install_task_failure_cause()


def _install_client_cache(ctx: LocalCloudContext) -> None:
    """One boto3 client per (region, service, role, server) for the interpreter's tasks, as a service
    keeps its SDK clients; and the task services' botocore models loaded in the background now.

    Wraps whatever `boto_client_for` is installed (`iam` makes it act as the machine's role), in the
    module and wherever a module imported it by name. A new cloud starts with an empty cache."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    with _clients_lock:
        _clients.clear()
    threading.Thread(target=_load_service_models, args=(ctx,), name="sfn-client-models", daemon=True).start()
    current = boto_client.boto_client_for
    if getattr(current, "_driftline_client_cache", False):
        return

    @functools.wraps(current)
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.settings import moto_server_port

        key = (region, service, getattr(state_credentials, "role_arn", None), moto_server_port())
        with _clients_lock:
            client = _clients.get(key)
        if client is None:
            # boto3's default session is not safe to make clients from in parallel (executions' tasks and
            # `_make_clients` run in their own threads): one client is made at a time
            with _client_making_lock:
                client = _clients.get(key)
                if client is None:
                    client = current(region, service, state_credentials)
                    with _clients_lock:
                        _clients[key] = client
        return client

    boto_client_for._driftline_client_cache = True  # type: ignore[attr-defined]
    boto_client_for._driftline_local = True  # type: ignore[attr-defined]  # `iam`: installed, do not wrap again
    boto_client.boto_client_for = boto_client_for
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions") and getattr(module, "boto_client_for", None) is current:
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]


# `arn:aws:states:::lambda:invoke`, `...:::sagemaker:createModel`, `...:::aws-sdk:sagemaker:describeEndpoint`
_TASK_SERVICE = re.compile(r"arn:aws[a-z-]*:states:::(?:aws-sdk:)?([a-z0-9-]+):")
_BOTO_SERVICE = {"states": "stepfunctions", "sfn": "stepfunctions"}


def task_services(definition: str) -> list[str]:
    """The boto3 services a state machine's optimized and SDK integrations call, from its definition."""
    return sorted({_BOTO_SERVICE.get(name, name) for name in _TASK_SERVICE.findall(definition)})


def _install_machine_clients_ahead(ctx: LocalCloudContext) -> None:
    """When a state machine is created, make the clients its tasks will use (its role, each service it calls)
    in the background: otherwise its first execution's tasks each make one (plus the role's session) between
    two states, which AWS's own service never makes a run wait for."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.create_state_machine
    if getattr(original, "_driftline_local", False):
        return

    @functools.wraps(original)
    def create_state_machine(self: Any, name: str, definition: str, roleArn: str, *args: Any, **kwargs: Any) -> Any:
        machine = original(self, name, definition, roleArn, *args, **kwargs)
        region = str(getattr(self, "region_name", "") or ctx.region)
        threading.Thread(
            target=_make_clients, args=(region, roleArn, task_services(definition)), name="sfn-clients", daemon=True
        ).start()
        return machine

    create_state_machine._driftline_local = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.create_state_machine = create_state_machine  # type: ignore[method-assign]


def _make_clients(region: str, role_arn: str, services: list[str]) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials
    from moto.stepfunctions.parser.asl.utils import boto_client

    credentials = StateCredentials
    for service in services:
        try:  # through the installed wrapper: cached under the key the tasks look up
            boto_client.boto_client_for(region, service, credentials(role_arn=role_arn))
        except Exception:  # an unknown service or a role that cannot be assumed: the task finds out itself
            log.debug("client %s for %s not made ahead", service, role_arn, exc_info=True)


def _load_service_models(ctx: LocalCloudContext) -> None:
    """Load the task services' botocore models, then make one cheap call to each: moto sets up a service's
    responses on its first request (0.3-0.9 s here), which AWS never makes a run wait for."""
    import boto3

    for service, call, kwargs in TASK_SERVICES:
        if ctx.stop_event.is_set():
            return
        with _client_making_lock:  # the default session's loader keeps the model for every later client
            client = boto3.client(
                service,
                region_name=ctx.region,
                endpoint_url=ctx.endpoint_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        try:
            getattr(client, call)(**kwargs)
        except Exception:  # a refusal warms up as well; the cloud may also be stopping
            log.debug("warm-up call %s.%s failed", service, call, exc_info=True)


def _install_task_failure_cause() -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _install_sync_poll() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback

    state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = SYNC_POLL_SECONDS  # type: ignore[misc]


def _install_sfn_parameter_casing() -> None:
    """`arn:aws:states:::states:startExecution[.sync[:2]]` takes `StateMachineArn`, `Name`, `Input`.

    AWS maps those onto the API's lowerCamel members (`stateMachineArn`, ...); moto 5.2.5's
    interpreter passes them through unchanged and botocore rejects them, so the nested execution
    never starts. Map them as AWS does.
    """
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn

    service = state_task_service_sfn.StateTaskServiceSfn
    original = service._normalise_parameters
    if getattr(original, "_driftline_local", False):
        return
    model = botocore.session.get_session().get_service_model("stepfunctions")

    @functools.wraps(original)
    def normalise(self: Any, parameters: dict, boto_service_name: Any = None, service_action_name: Any = None) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        operation = model.operation_model(self.resource.api_action[:1].upper() + self.resource.api_action[1:])
        members = set(operation.input_shape.members) if operation.input_shape else set()
        for key in list(parameters):
            lowered = key[:1].lower() + key[1:]
            if key not in members and lowered in members:
                parameters[lowered] = parameters.pop(key)

    original_response = service._normalise_response

    @functools.wraps(original_response)
    def normalise_response(
        self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        # ... and AWS answers with the ASL casing (`ExecutionArn`, `Output`), which the .sync
        # resolvers and state machines read.
        original_response(self, response, boto_service_name, service_action_name)
        if isinstance(response, dict):
            for key in list(response):
                if key[:1].islower():
                    response[key[:1].upper() + key[1:]] = response.pop(key)

    normalise._driftline_local = True  # type: ignore[attr-defined]
    service._normalise_parameters = normalise  # type: ignore[method-assign]
    service._normalise_response = normalise_response  # type: ignore[method-assign]


def _install_jsonpath_cache() -> None:
    """Parse each JSONPath once for the life of the cloud: a state with eight `.$` parameters parsed eight paths
    before its task was scheduled (3 ms), at every state of every execution. A parsed path is only read
    (`find`, `update_or_create` change the data they are given), so executions can share it."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):  # the two modules that call jsonpath_ng's `parse` (ext and plain)
        parse = module.parse
        if getattr(parse, "_driftline_local", False):
            continue
        parse_once = functools.lru_cache(maxsize=4096)(parse)
        parse_once._driftline_local = True  # type: ignore[attr-defined]
        module.parse = parse_once  # type: ignore[attr-defined]


def copy_json(value: Any, memo: Any = None) -> Any:
    """A deep copy of a JSON value (dicts, lists, strings, numbers, booleans, null); anything else, and any
    container below it, goes to `copy.deepcopy`. A JSON value has no cycles and its dict keys are strings."""
    kind = type(value)
    if kind is dict:
        return {key: copy_json(item) for key, item in value.items()}
    if kind is list:
        return [copy_json(item) for item in value]
    if value is None or kind in _JSON_SCALARS:
        return value
    return copy.deepcopy(value)


_JSON_SCALARS = frozenset({str, int, float, bool})


def _install_json_copies() -> None:
    """The interpreter's modules that copy a state's data at every step copy it with `copy_json` (4-5x faster
    than `copy.deepcopy`, which keeps a memo and dispatches on every value's type)."""
    import types

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.eval import states as eval_states

    json_copy = types.SimpleNamespace(deepcopy=copy_json, copy=copy.copy)
    for module in (eval_states, result_path, string_expression):
        if getattr(module, "copy", None) is copy:
            module.copy = json_copy  # type: ignore[attr-defined]


def _install_program_cache() -> None:
    """Parse each definition once (its validation at create time fills the cache); every execution
    evaluates its own deep copy of the parsed program.

    A copy (6-16 ms) rather than the shared tree: evaluation state lives in each execution's
    environment, but a copy keeps concurrent executions apart even if a component kept some.
    """
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_entrypoint
    if getattr(original, "_driftline_local", False):
        return
    parse = AmazonStateLanguageParser.parse
    parsed: dict[str, Any] = {}
    lock = threading.Lock()

    def parse_once(definition: str) -> Any:
        with lock:
            if definition not in parsed:
                parsed[definition] = parse(definition)  # a syntax error raises and caches nothing
            return parsed[definition]

    @functools.wraps(original)
    def entrypoint(self: Any) -> Any:
        program = parse_once(self._evaluation_details.state_machine_details.definition)[0]
        return copy.deepcopy(program)

    entrypoint._driftline_local = True  # type: ignore[attr-defined]
    AmazonStateLanguageParser.parse = staticmethod(parse_once)  # type: ignore[method-assign]
    ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]
