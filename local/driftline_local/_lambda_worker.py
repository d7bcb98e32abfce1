"""One warm Lambda execution environment: imports the handler once, then serves invocations.

Started by `lambda_runtime` as ``python _lambda_worker.py <handler> <request-fd> <response-fd>`` with
the function's environment, or forked from the runtime's zygote (below) and given the same arguments and
environment. Requests and responses are JSON lines on the two pipes; the handler's stdout/stderr are the
function's log. Only the standard library is imported here, so everything else the handler sees comes
from its own PYTHONPATH (source dir + layers), as on Lambda.

The zygote (``python _lambda_worker.py --zygote <socket-fd>``) is the runtime's pre-imported interpreter:
it imports the libraries every handler of this runtime imports from the interpreter's own site-packages
(`SHARED_IMPORTS`: boto3, botocore, pydantic, Powertools; what they read from the environment when imported
is the same for every function, or makes the runtime start that function fresh), freezes them out
of the garbage collector, then forks one child per execution environment on request. A child is its own
process with its own environment, working directory, standard streams and PYTHONPATH, like a fresh
interpreter; the imported libraries' pages stay shared with the zygote until written (copy-on-write), so
twenty environments hold those libraries once, not twenty times. A library that the function's own
PYTHONPATH provides (a bundled boto3) is dropped from the child's modules and imported from there, as a
fresh interpreter would.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import importlib
import importlib.machinery
import json
import os
import runpy
import socket
import sys
import time
import traceback
from typing import Any

END_MARKER = "\x00driftline-end"  # lambda_runtime._END_MARKER
# What the zygote imports before forking: the runtime-provided libraries every handler here imports, from the
# interpreter's site-packages. None of them reads the environment at import (a client or session does, later,
# in the child), so a child that imports them finds the state a fresh import would give it.
SHARED_IMPORTS = (
    "boto3",
    "boto3.session",
    "botocore.session",
    "botocore.client",
    "botocore.endpoint",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.serialize",
    "botocore.regions",
    "botocore.credentials",
    "pydantic",
    "pydantic_core",
    # Powertools reads AWS_EXECUTION_ENV and AWS_LAMBDA_INITIALIZATION_TYPE (the same for every function of
    # this runtime, so the zygote has them) and POWERTOOLS_DEBUG (a function that sets it starts fresh) at import
    "aws_lambda_powertools",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.typing",
    # what boto3 imports on first use of DynamoDB conditions or S3 (every Driftline handler's layer does)
    "boto3.dynamodb.conditions",
    "boto3.dynamodb.transform",
    "boto3.s3.inject",
    "boto3.s3.transfer",
    "encodings.idna",
)
# botocore data every client loads, and the service models of the services this runtime's functions call: the
# zygote parses them once (a few MiB of Python objects per service) and its children read them shared
SHARED_BOTOCORE_DATA = ("endpoints", "partitions", "sdk-default-configuration", "_retry")
# the zygote's throwaway calls (`_warm_up`): one JSON and one REST-XML protocol, as the handlers' first calls are
WARM_UP_CALLS = (
    ("dynamodb", "get_item", {"TableName": "warm-up", "Key": {"id": {"S": "warm-up"}}}),
    ("s3", "head_object", {"Bucket": "warm-up", "Key": "warm-up"}),
)
SHARED_SERVICE_MODELS = ("dynamodb", "s3", "stepfunctions", "sagemaker", "sns", "cloudwatch", "events", "sts")


class LambdaContext:
    """The attributes of the Python runtime's context object that handlers use."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name: str = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version: str = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn: str = request["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id: str = request["aws_request_id"]
        self.log_group_name: str = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name: str = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(request["timeout_seconds"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__.tb_next if exc.__traceback__ else None),
    }


def _heap_trimmer() -> Any:
    """glibc's `malloc_trim`, or a no-op: hands the heap that the init phase or an invocation freed back to
    the machine (about 5 MiB per environment after boto3's service models load), as a frozen Lambda
    environment costs its host nothing it does not use."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def main() -> None:
    handler_spec, request_fd, response_fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    requests = os.fdopen(request_fd, "r", encoding="utf-8")
    responses = os.fdopen(response_fd, "w", encoding="utf-8")

    def reply(message: dict[str, Any]) -> None:
        sys.stderr.flush()
        sys.stdout.write(END_MARKER + "\n")  # tells the log reader this invocation's output is complete
        sys.stdout.flush()
        responses.write(json.dumps(message) + "\n")
        responses.flush()

    try:
        handler = _load_handler(handler_spec)
    except Exception as exc:  # the init phase failed: every invocation reports it, as Lambda does
        init_error = _error(exc, "Runtime.ImportModuleError")
        traceback.print_exc()
        reply({"ready": False, "error": init_error})
        return
    trim = _heap_trimmer()
    reply({"ready": True})
    trim()  # after the reply: the caller never waits for it

    for line in requests:
        request = json.loads(line)
        context = LambdaContext(request)
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc()
            reply({"ok": False, "error": {**_error(exc), "requestId": context.aws_request_id}})
            continue
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            error = _error(exc, "Runtime.MarshalError")
            reply({"ok": False, "error": {**error, "requestId": context.aws_request_id}})
            continue
        reply({"ok": True, "payload": payload})
        trim()


# --- the zygote ------------------------------------------------------------------------------------------
def _preload() -> None:
    for name in SHARED_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # an interpreter without it: its handlers import whatever they find, as usual
            continue


def _share_botocore_data() -> None:
    """Parse botocore's JSON data files once, here, for every child: `JSONFileLoader.load_file` keeps what it
    parsed by path (the files never change while the runtime runs; botocore already shares one parsed copy
    between the clients of a session, this shares it between sessions), then the common files are loaded."""
    try:
        from botocore import loaders
    except ImportError:
        return
    parsed: dict[str, Any] = {}
    load_file = loaders.JSONFileLoader.load_file

    def load_file_once(self: Any, file_path: str) -> Any:
        if file_path not in parsed:
            parsed[file_path] = load_file(self, file_path)
        return parsed[file_path]

    loaders.JSONFileLoader.load_file = load_file_once  # type: ignore[method-assign]
    loader = loaders.create_loader()
    with contextlib.suppress(Exception):  # data a botocore version lacks is simply not shared
        for name in SHARED_BOTOCORE_DATA:
            loader.load_data(name)
        for service in SHARED_SERVICE_MODELS:
            for type_name in ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"):
                with contextlib.suppress(Exception):
                    loader.load_service_model(service, type_name)


def _share_endpoint_rules() -> None:
    """Build each shared service's endpoint rule set once, here: a client's `EndpointProvider` turns the
    service's parsed endpoint-rule-set JSON into rule objects, which walks (and so writes the reference count
    of) every object of that JSON: each environment copied 1.3-3 MiB of the zygote's pages per service for it
    (S3's rule set is the largest). A rule set is immutable once built (evaluating it reads it), so a child's
    provider for the same parsed rule set and partitions takes the one built here; its own provider object,
    with its own result cache, is still made per client."""
    try:
        from botocore import loaders
        from botocore.endpoint_provider import EndpointProvider, RuleSet
    except ImportError:
        return
    loader = loaders.create_loader()
    built: dict[tuple[int, int], Any] = {}
    try:
        partitions = loader.load_data("partitions")
        for service in SHARED_SERVICE_MODELS:
            with contextlib.suppress(Exception):
                rules = loader.load_service_model(service, "endpoint-rule-set-1")
                built[(id(rules), id(partitions))] = (rules, partitions, RuleSet(**rules, partitions=partitions))
    except Exception:  # noqa: BLE001 - a botocore without rule sets: every provider builds its own
        return
    build = EndpointProvider.__init__

    def init_shared(self: Any, ruleset_data: Any, partition_data: Any, excluded_params: Any = None) -> None:
        found = built.get((id(ruleset_data), id(partition_data)))
        if found is None or found[0] is not ruleset_data or found[1] is not partition_data:
            build(self, ruleset_data, partition_data, excluded_params)
            return
        self.ruleset = found[2]
        self._excluded_params = excluded_params or frozenset()

    EndpointProvider.__init__ = init_shared  # type: ignore[method-assign]


def _answer_locally(request: Any, **_: Any) -> Any:
    """botocore's `before-send` hook for the zygote's throwaway calls: an empty 200 answer, nothing sent."""
    from botocore.awsrequest import AWSResponse

    class _Body:
        def stream(self, **_: Any) -> Any:
            yield b"{}" if "json" in (request.headers.get("Content-Type") or b"").decode() else b"<r/>"

    return AWSResponse(request.url, 200, {}, _Body())


def _warm_up() -> None:
    """Run once, here, on throwaway objects, the library code every environment runs first: building and using a
    pydantic model, creating a botocore client. The first runs of that code write to the zygote's pages (Python
    3.11 specializes a function's bytecode in place as it runs; libraries fill their caches), so each child that
    ran it first copied those pages: measured 2.5-3 MiB of each environment's private memory after its handler's
    import. Nothing made here is kept: no session, client or model reaches a child (boto3's default session stays
    unset), and pydantic's plugin list is left unread, so each child reads PYDANTIC_DISABLE_PLUGINS itself."""
    saved = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"  # pydantic neither scans nor caches plugins in the zygote
    try:
        import datetime
        from typing import Literal

        import boto3.session
        import pydantic
        from botocore.config import Config

        class _Part(pydantic.BaseModel):
            model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
            at: datetime.datetime
            kind: Literal["a", "b"] = "a"

        class _WarmUp(pydantic.BaseModel):
            model_config = pydantic.ConfigDict(populate_by_name=True)
            count: int = pydantic.Field(default=0, alias="Count")
            name: str | None = None
            parts: list[_Part] = pydantic.Field(default_factory=list)
            values: dict[str, float] = pydantic.Field(default_factory=dict)

            @pydantic.field_validator("count")
            @classmethod
            def _same(cls, value: int) -> int:
                return value

            @pydantic.model_validator(mode="after")
            def _whole(self) -> Any:
                return self

        parsed = _WarmUp.model_validate({"Count": 1, "parts": [{"at": "2026-01-01T00:00:00Z"}], "values": {"x": 1}})
        parsed.model_dump(mode="json")
        parsed.model_dump_json()
        session = boto3.session.Session(
            aws_access_key_id="zygote", aws_secret_access_key="zygote", region_name="us-east-1"
        )
        adaptive = Config(retries={"max_attempts": 1, "mode": "adaptive"})  # the retry mode handlers configure
        for service in SHARED_SERVICE_MODELS:
            session.client(service, endpoint_url="http://127.0.0.1:9", config=adaptive)  # never called, dropped
        for service, operation, params in WARM_UP_CALLS:  # serialized, signed and parsed; never sent
            client = session.client(service, endpoint_url="http://127.0.0.1:9", config=adaptive)
            client.meta.events.register("before-send", _answer_locally)
            with contextlib.suppress(Exception):
                getattr(client, operation)(**params)
        # a DynamoDB table resource, as handlers keep one for their state table (boto3's resource model and classes)
        table = session.resource("dynamodb", endpoint_url="http://127.0.0.1:9", config=adaptive).Table("warm-up")
        table.meta.client.meta.events.register("before-send", _answer_locally)
        with contextlib.suppress(Exception):
            table.get_item(Key={"id": "warm-up"})
    except Exception:  # noqa: BLE001 - an interpreter without them: nothing to warm
        return
    finally:
        if saved is None:
            os.environ.pop("PYDANTIC_DISABLE_PLUGINS", None)
        else:
            os.environ["PYDANTIC_DISABLE_PLUGINS"] = saved


def _forget_shadowed(search_path: list[str]) -> None:
    """Drop each preloaded package that the function's own path entries provide, so it imports from there."""
    own = [p for p in search_path if p]
    tops = {name.partition(".")[0] for name in SHARED_IMPORTS}
    for top in tops:
        module = sys.modules.get(top)
        if module is None:
            continue
        spec = importlib.machinery.PathFinder.find_spec(top, own)
        if spec is None:
            continue
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[name]


def _become_environment(spec: dict[str, Any], fds: list[int]) -> None:
    """In a freshly forked child: the process a fresh ``python _lambda_worker.py ...`` would have been."""
    output, request_fd, response_fd = fds
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.chdir(spec["cwd"])
    os.environ.clear()
    os.environ.update(spec["env"])
    time.tzset()
    function_path = [p for p in spec["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = function_path
    _forget_shadowed(function_path)
    sys.argv = [__file__, spec["handler"], str(request_fd), str(response_fd)]


def _start_environment(spec: dict[str, Any], fds: list[int]) -> None:
    """In a forked child: become the environment `spec` describes and serve its invocations."""
    _become_environment(spec, fds)
    main()


def zygote(sock_fd: int) -> None:
    """Import the shared libraries, then fork one execution environment per request on the socket.

    A request is a JSON spec ({"cwd", "env", "handler"}) with three descriptors (log output, request pipe,
    response pipe); the answer is {"pid"} with a pidfd of the child, which the runtime watches and signals.
    The zygote ends when the runtime closes the socket; its children live on until their request pipe closes.
    """
    sock = socket.socket(fileno=sock_fd)
    # the fork loop, from `driftline_local/forking.py` beside this file (this interpreter imports no driftline_local);
    # compiled before the preloading, which reuses the heap that compiling it freed
    serve_forks = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "forking.py"))["serve_forks"]
    _preload()
    _share_botocore_data()
    _share_endpoint_rules()
    _warm_up()
    gc.collect()
    gc.freeze()  # the collector never writes to the preloaded objects' pages, so they stay shared
    _heap_trimmer()()
    serve_forks(sock, _start_environment)


if __name__ == "__main__":
    # Run as a script: drop this package's directory from sys.path so the handler's imports
    # resolve only from PYTHONPATH and the interpreter's site-packages.
    sys.path.pop(0)
    if sys.argv[1] == "--zygote":
        zygote(int(sys.argv[2]))
    else:
        main()
