"""Lambda execution for the local cloud: moto's `Invoke` runs the real handler.

moto stores functions but, without Docker, never runs them. Here every invocation of a function runs
its handler in a warm worker process (one per concurrent request, reused like an execution
environment) started with the function's configured environment, credentials (a session of the
function's role when IAM is enforced, see `iam`; dummy ones otherwise) and
`AWS_ENDPOINT_URL` pointing at the local server, so the production code uses plain boto3.

- RequestResponse: the handler's return value is the payload; an exception comes back as Lambda
  reports it (`X-Amz-Function-Error: Unhandled`, `{"errorMessage", "errorType", "stackTrace"}`), so
  the Step Functions interpreter routes `Catch`/`Retry` on the exception's class name.
- Event: 202 at once; the handler runs in the background with Lambda's async retries (2, or the
  function's `MaximumRetryAttempts`), then the `OnSuccess`/`OnFailure` destination or the DLQ.
- Ahead-of-time initialization: after a stack deploy, one execution environment per function is
  started in the background, as Lambda proactively initializes environments for on-demand functions
  (`AWS_LAMBDA_INITIALIZATION_TYPE` stays `on-demand`, as there). A first run then measures the
  pipeline's work, not sixteen first imports; `bench/cold_start.py` measures those.
  `LocalCloudContext.lambda_initialize_ahead = False` turns it off (a cold pipeline, `bench/loop.py`).
- Idle lifetime: an environment idle for `IDLE_LIFETIME_SECONDS` of cloud time (10 minutes, divided by
  the time scale like every scaled timing) is shut down, as Lambda reclaims idle environments; the next
  invocation starts a fresh one (its REPORT line then carries `Init Duration`, as on Lambda).
- Shared imports: execution environments are forked from a zygote, the runtime's interpreter with the
  libraries every handler imports from the runtime (boto3, botocore, pydantic, Powertools) imported and
  botocore's data files and common service models parsed (`_lambda_worker.zygote`). Each environment is
  still its own process with the function's environment, credentials, working directory and PYTHONPATH;
  the libraries' memory is shared copy-on-write, so twenty environments hold them about once. An
  environment's Init Duration is its handler's own init (its modules, its clients); the shared imports are
  paid once, when the zygote starts with the runtime. A function whose environment sets interpreter options
  (`PYTHON*` variables) or what a shared library reads at import gets a fresh interpreter instead.
- Logs: each function's output goes to ``<workdir>/lambda/<function>.log`` and to the CloudWatch
  Logs group ``/aws/lambda/<function>``; embedded-metric-format lines become CloudWatch metrics, as
  CloudWatch Logs does for EMF on AWS.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline_local import iam
from driftline_local.context import LAMBDA_IDLE_LIFETIME_SECONDS, LocalCloudContext
from driftline_local.forking import ForkedProcess, Zygote

log = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("_lambda_worker.py")
INIT_TIMEOUT_SECONDS = 60.0  # Lambda allows 10 s of init; a loaded laptop importing pandas needs more
AHEAD_OF_TIME_INITS = 2  # environments initializing at once: a 2-core laptop keeps serving meanwhile
ASYNC_RETRY_DELAYS = (60.0, 120.0)  # cloud seconds between async attempts, as Lambda does
IDLE_LIFETIME_SECONDS = LAMBDA_IDLE_LIFETIME_SECONDS  # cloud seconds; see `context`
_END_MARKER = "\x00driftline-end"
# What a forked environment takes from the zygote's own environment (read at the interpreter's start or when
# the shared libraries are imported): the runtime's constants. A function whose environment differs on these,
# sets another PYTHON* option, or sets a variable a shared library reads at import gets a fresh interpreter.
_ZYGOTE_ENV = {
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
}
_READ_AT_IMPORT = ("POWERTOOLS_DEBUG",)


@dataclass(frozen=True)
class FunctionCode:
    """Where a deployed function's code lives on this machine (filled in by `stack`)."""

    name: str
    source_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)  # as deployed; moto's copy is live
    timeout: int = 3
    memory_size: int = 128
    dead_letter_arn: str | None = None


@dataclass
class InvocationResult:
    payload: bytes
    function_error: str | None  # "Unhandled" when the handler raised
    log_tail: str = ""

    @property
    def error(self) -> dict[str, Any] | None:
        return json.loads(self.payload) if self.function_error else None


def _start_zygote(home: Path) -> Zygote:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        **_ZYGOTE_ENV,
    }
    return Zygote([sys.executable, str(WORKER_SCRIPT), "--zygote"], env, home, home / "zygote.log")


def _forkable(env: dict[str, str]) -> bool:
    """Whether a child of the zygote is what a fresh interpreter with `env` would be (else one starts)."""
    options = {k: v for k, v in env.items() if k.startswith("PYTHON") and k != "PYTHONPATH"}
    if options != {k: v for k, v in _ZYGOTE_ENV.items() if k.startswith("PYTHON")}:
        return False
    if any(env.get(k) != v for k, v in _ZYGOTE_ENV.items()):
        return False
    return not any(k in env for k in _READ_AT_IMPORT)


class _Worker:
    """One execution environment: a Python process with the handler imported."""

    def __init__(self, runtime: LambdaRuntime, fn: Any, code: FunctionCode) -> None:
        self.runtime = runtime
        self.fn = fn
        self.name = fn.function_name
        self.log_group = f"/aws/lambda/{self.name}"
        day = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
        self.log_stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        self._lines: list[tuple[int, str]] = []  # (epoch ms when the line arrived, text)
        self._lines_lock = threading.Lock()
        self._end_seen = threading.Event()
        self.idle_since = time.monotonic()
        self.fresh = True  # its init delayed the invocation it was started for (reported as Init Duration)

        home = runtime.ctx.workdir / "lambda" / self.name
        home.mkdir(parents=True, exist_ok=True)
        env = runtime.environment_for(fn, code, self.log_stream, home)  # iam.RoleNotAssumable: no worker
        req_read, self._req_write = os.pipe()
        self._resp_read, resp_write = os.pipe()
        self.init_error: dict[str, Any] | None = None
        init_started = time.monotonic()
        zygote = runtime.zygote() if _forkable(env) else None
        if zygote is not None:
            out_read, out_write = os.pipe()
            spec = {"cwd": str(code.source_dir), "env": env, "handler": code.handler}
            try:
                pid, pidfd = zygote.spawn(spec, [out_write, req_read, resp_write])
            finally:
                for fd in (out_write, req_read, resp_write):
                    os.close(fd)
            stdout = open(out_read, encoding="utf-8", buffering=1)  # noqa: SIM115 - closed by _pump_output
            self.proc: subprocess.Popen[str] | ForkedProcess = ForkedProcess(pid, pidfd, stdout=stdout)
        else:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), code.handler, str(req_read), str(resp_write)],
                cwd=code.source_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(req_read, resp_write),
                text=True,
                bufsize=1,
            )
            os.close(req_read)
            os.close(resp_write)
        self._requests = os.fdopen(self._req_write, "w", encoding="utf-8")
        self._responses = os.fdopen(self._resp_read, "r", encoding="utf-8")
        threading.Thread(target=self._pump_output, name=f"lambda-log-{self.name}", daemon=True).start()
        ready = self._read_message(INIT_TIMEOUT_SECONDS)
        self.init_ms = (time.monotonic() - init_started) * 1000
        if ready is None:
            self.init_error = {"errorType": "Runtime.InitTimeout", "errorMessage": "init timed out"}
        elif not ready.get("ready"):
            self.init_error = ready.get("error") or {"errorType": "Runtime.ExitError", "errorMessage": ""}

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and self.init_error is None

    def _pump_output(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(_END_MARKER):
                self._end_seen.set()
                continue
            self.runtime.write_function_log(self.name, line)
            with self._lines_lock:
                self._lines.append((_now_ms(), line.rstrip("\n")))
        self.proc.stdout.close()
        self._end_seen.set()

    def _read_message(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON line from the worker, or None on timeout or exit."""
        ready, _, _ = select.select([self._responses], [], [], max(0.0, timeout))
        if not ready:
            return None
        line = self._responses.readline()
        return json.loads(line) if line else None

    def invoke(self, event: Any, request_id: str, timeout: float) -> tuple[dict[str, Any], list[tuple[int, str]]]:
        """Run one request; the response and the invocation's log lines with their times (epoch ms)."""
        started_ms = _now_ms()
        with self._lines_lock:
            self._lines.clear()
        self._end_seen.clear()
        request = {
            "event": event,
            "aws_request_id": request_id,
            "invoked_function_arn": self.fn.function_arn,
            "timeout_seconds": timeout,
        }
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
        except BrokenPipeError:
            return _runtime_error("Runtime.ExitError", "the execution environment exited"), []
        started = time.monotonic()
        response = self._read_message(timeout)
        if response is None:
            timed_out = self.proc.poll() is None
            self.kill()
            if timed_out:
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                message = f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"
                response = _runtime_error("Sandbox.Timedout", message)
            else:
                response = _runtime_error(
                    "Runtime.ExitError", f"RequestId: {request_id} Error: Runtime exited unexpectedly"
                )
        else:
            # the worker prints the end marker right before replying: wait for the log to catch up
            self._end_seen.wait(timeout=1.0)
        duration_ms = (time.monotonic() - started) * 1000
        with self._lines_lock:
            lines = list(self._lines)
        report = f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        report += f"\tMemory Size: {self.fn.memory_size} MB"
        if self.fresh:  # as Lambda reports an invocation that waited for its environment's init phase
            report += f"\tInit Duration: {self.init_ms:.2f} ms"
            self.fresh = False
        ended_ms = _now_ms()
        lines = [
            (started_ms, f"START RequestId: {request_id} Version: $LATEST"),
            *lines,
            (ended_ms, f"END RequestId: {request_id}"),
            (ended_ms, report),
        ]
        return response, lines

    def shut_down(self) -> None:
        """Lambda's Shutdown phase for an idle environment: SIGTERM, then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for stream in (self._requests, self._responses):
            with contextlib.suppress(OSError):
                stream.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _runtime_error(error_type: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"errorType": error_type, "errorMessage": message}}


class LambdaRuntime:
    """Runs handlers for moto's Lambda functions; one per running local cloud."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx
        self._idle: dict[tuple[str, str], list[_Worker]] = {}
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._idle_changed = threading.Condition(self._lock)  # the reaper's wake-up: a release, a new lifetime
        self._idle_lifetime = ctx.scaled(ctx.lambda_idle_seconds)
        self._closed = False
        self._log_lock = threading.Lock()
        self._extract_lock = threading.Lock()
        self._async = ThreadPoolExecutor(max_workers=16, thread_name_prefix="lambda-async")
        self._ahead = ThreadPoolExecutor(max_workers=AHEAD_OF_TIME_INITS, thread_name_prefix="lambda-init")
        self._ahead_pending: list[Future[None]] = []
        (ctx.workdir / "lambda").mkdir(parents=True, exist_ok=True)
        self._zygote: Zygote | None = None
        self._zygote_lock = threading.Lock()
        threading.Thread(target=self._reap_idle, name="lambda-idle-reaper", daemon=True).start()

    def zygote(self) -> Zygote | None:
        """The running zygote (started on first use, restarted if it died); None if it cannot start."""
        with self._zygote_lock:
            if self._closed:
                return None
            if self._zygote is None or not self._zygote.alive:
                try:
                    self._zygote = _start_zygote(self.ctx.workdir / "lambda")
                except (OSError, RuntimeError):
                    log.warning("the Lambda zygote did not start; environments start fresh interpreters", exc_info=True)
                    self._zygote = None
            return self._zygote

    # --- code and environment ---------------------------------------------------------------
    def code_for(self, fn: Any) -> FunctionCode:
        code = self.ctx.functions.get(fn.function_name)
        if code is not None:
            return code
        # a function created through the API: run the zip it was given
        target = self.ctx.workdir / "lambda" / fn.function_name / "code"
        with self._extract_lock:  # concurrent first invocations must not extract over each other
            if not target.exists() and fn.code_bytes:  # moto sets it (b"" when the function has no code)
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                    archive.extractall(target)
        return FunctionCode(name=fn.function_name, source_dir=target, handler=fn.handler or "")

    def environment_for(self, fn: Any, code: FunctionCode, log_stream: str, home: Path) -> dict[str, str]:
        region = self.ctx.region
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join(str(p) for p in (code.source_dir, *code.layer_dirs)),
        }
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        env.update(
            {
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ACCESS_KEY_ID": "ASIALOCALCLOUDKEY",
                "AWS_SECRET_ACCESS_KEY": "local-cloud-secret",
                "AWS_SESSION_TOKEN": "local-cloud-session",
                "AWS_ENDPOINT_URL": self.ctx.endpoint_url,
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_TASK_ROOT": str(code.source_dir),
                "_HANDLER": code.handler,
            }
        )
        # the function's execution role, as Lambda assumes it (`iam`; {} without enforcement)
        env.update(iam.credentials_for_role(fn.role, "lambda.amazonaws.com", fn.function_name))
        return env

    # --- workers ---------------------------------------------------------------------------
    def _pool_key(self, fn: Any, code: FunctionCode) -> tuple[str, str]:
        config = json.dumps([code.handler, str(code.source_dir), fn.environment_vars], sort_keys=True)
        return fn.function_name, config

    def _acquire(self, fn: Any, code: FunctionCode) -> _Worker:
        key = self._pool_key(fn, code)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            while idle:
                worker = idle.pop()
                if worker.alive:
                    self._busy.add(worker)
                    return worker
                worker.kill()
        worker = _Worker(self, fn, code)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _release(self, fn: Any, code: FunctionCode, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            if worker.alive and not self.ctx.stop_event.is_set() and not self._closed:
                worker.idle_since = time.monotonic()
                self._idle.setdefault(self._pool_key(fn, code), []).append(worker)
                self._idle_changed.notify_all()
                return
        worker.kill()

    # --- idle lifetime ---------------------------------------------------------------------
    @property
    def idle_lifetime(self) -> float:
        """Real seconds an idle environment lives before it is shut down."""
        return self._idle_lifetime

    def set_idle_lifetime(self, cloud_seconds: float) -> None:
        """Change the idle lifetime (cloud seconds, scaled like the default); applies to idle environments now."""
        with self._lock:
            self._idle_lifetime = self.ctx.scaled(cloud_seconds)
            self._idle_changed.notify_all()

    def environments(self, function_name: str) -> int:
        """How many execution environments of a function are alive (idle or busy)."""
        with self._lock:
            workers = [w for (name, _), ws in self._idle.items() if name == function_name for w in ws]
            workers += [w for w in self._busy if w.name == function_name]
        return sum(1 for w in workers if w.proc.poll() is None)

    def _reap_idle(self) -> None:
        """Shut down every environment idle longer than the idle lifetime, as Lambda reclaims them."""
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                expired: list[_Worker] = []
                next_expiry: float | None = None
                for workers in self._idle.values():
                    for worker in list(workers):
                        expires = worker.idle_since + self._idle_lifetime
                        if expires <= now:
                            workers.remove(worker)
                            expired.append(worker)
                        elif next_expiry is None or expires < next_expiry:
                            next_expiry = expires
                if not expired:
                    self._idle_changed.wait(None if next_expiry is None else next_expiry - now)
                    continue
            for worker in expired:
                log.debug("shutting down an idle execution environment of %s", worker.name)
                worker.shut_down()

    def initialize_ahead(self, function_names: list[str]) -> None:
        """Start one idle execution environment per function in the background (unless turned off)."""
        if not self.ctx.lambda_initialize_ahead:
            return
        self._ahead_pending += [self._ahead.submit(self._initialize_one, name) for name in function_names]

    def wait_until_initialized(self, timeout: float = 120.0) -> None:
        """Block until the ahead-of-time initializations have run (a bench's cloud that has been up a while)."""
        wait(self._ahead_pending, timeout=timeout)

    def _initialize_one(self, name: str) -> None:
        if self.ctx.stop_event.is_set():
            return
        try:
            from moto.awslambda.utils import get_backend

            fn = get_backend(self.ctx.account_id, self.ctx.region).get_function(name)
            code = self.code_for(fn)
            worker = self._acquire(fn, code)
            worker.fresh = False  # initialized ahead: no invocation waited for it
            self._release(fn, code, worker)  # an invocation may already have warmed one
        except Exception:
            log.debug(
                "ahead-of-time initialization of %s failed; its first invocation initializes", name, exc_info=True
            )

    def shutdown(self) -> None:
        self._ahead.shutdown(wait=False, cancel_futures=True)
        self._async.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._closed = True
            self._idle_changed.notify_all()
            workers = [w for ws in self._idle.values() for w in ws] + list(self._busy)
            self._idle.clear()
        for worker in workers:
            worker.kill()
        with self._zygote_lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()

    # --- invocation ------------------------------------------------------------------------
    def invoke(self, fn: Any, event: Any) -> InvocationResult:
        """Run the handler once (RequestResponse) and return what Lambda would."""
        code = self.code_for(fn)
        request_id = str(uuid.uuid4())
        try:
            worker = self._acquire(fn, code)
        except iam.RoleNotAssumable as exc:  # Lambda cannot start the function as its role
            refusal = {"errorMessage": str(exc), "errorType": "Runtime.RoleNotAssumable", "requestId": request_id}
            return InvocationResult(json.dumps(refusal).encode(), "Unhandled", "")
        try:
            if worker.init_error is not None:
                response: dict[str, Any] = {"ok": False, "error": worker.init_error}
                lines = [(_now_ms(), f"INIT_REPORT RequestId: {request_id} Status: error")]
            else:
                response, lines = worker.invoke(event, request_id, float(fn.timeout or 3))
        finally:
            self._release(fn, code, worker)
        self._ship_logs(worker, lines)
        tail = "\n".join(text for _, text in lines)
        if response.get("ok"):
            payload = response.get("payload", "null").encode()
            return InvocationResult(payload, None, tail)
        error: dict[str, Any] = {"errorMessage": "", "errorType": "Unhandled", "stackTrace": [], **response["error"]}
        error.setdefault("requestId", request_id)
        return InvocationResult(json.dumps(error).encode(), "Unhandled", tail)

    def invoke_async(self, fn: Any, event: Any) -> str:
        """Queue an Event invocation (retries, then destinations/DLQ); returns the request id."""
        request_id = str(uuid.uuid4())
        self._async.submit(self._run_async, fn, event, request_id)
        return request_id

    def _run_async(self, fn: Any, event: Any, request_id: str) -> None:
        config = (fn.event_invoke_config[0].config if fn.event_invoke_config else {}) or {}
        retries = int(config.get("MaximumRetryAttempts", len(ASYNC_RETRY_DELAYS)))
        attempts = 0
        result = None
        try:
            for attempt in range(retries + 1):
                if attempt and self.ctx.stop_event.wait(self.ctx.scaled(ASYNC_RETRY_DELAYS[attempt - 1])):
                    return
                attempts += 1
                result = self.invoke(fn, event)
                if result.function_error is None:
                    break
            assert result is not None
            self._after_async(fn, event, request_id, result, attempts, config)
        except Exception:
            log.exception("async invocation of %s failed in the local cloud", fn.function_name)

    def _after_async(
        self,
        fn: Any,
        event: Any,
        request_id: str,
        result: InvocationResult,
        attempts: int,
        config: dict[str, Any],
    ) -> None:
        destinations = config.get("DestinationConfig") or {}
        succeeded = result.function_error is None
        target = (destinations.get("OnSuccess" if succeeded else "OnFailure") or {}).get("Destination")
        if target:
            try:
                response_payload = json.loads(result.payload) if result.payload else None
            except ValueError:
                response_payload = result.payload.decode(errors="replace")
            record = {
                "version": "1.0",
                "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "requestContext": {
                    "requestId": request_id,
                    "functionArn": f"{fn.function_arn}:$LATEST",
                    "condition": "Success" if succeeded else "RetriesExhausted",
                    "approximateInvokeCount": attempts,
                },
                "requestPayload": event,
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    **({} if succeeded else {"functionError": "Unhandled"}),
                },
                "responsePayload": response_payload,
            }
            self._send_to(target, record, succeeded)
            return
        code = self.ctx.functions.get(fn.function_name)
        dlq = code.dead_letter_arn if code else None
        if not succeeded and dlq:
            error = result.error or {}
            attributes = {
                "RequestID": {"DataType": "String", "StringValue": request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {
                    "DataType": "String",
                    "StringValue": str(error.get("errorMessage", ""))[:1000],
                },
            }
            self._send_to(dlq, event, succeeded, attributes)

    def _send_to(self, arn: str, body: Any, succeeded: bool, sqs_attributes: dict[str, Any] | None = None) -> None:
        service = arn.split(":")[2]
        text = json.dumps(body)
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            queue = arn.split(":")[5]
            sqs_backends[self.ctx.account_id][self.ctx.region].send_message(
                queue, text, message_attributes=sqs_attributes
            )
        elif service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[self.ctx.account_id][self.ctx.region].publish(text, arn=arn)
        elif service == "lambda":
            from moto.awslambda.utils import get_backend

            target = get_backend(self.ctx.account_id, self.ctx.region).get_function(arn)
            self.invoke_async(target, body)
        elif service == "events":
            from moto.events.models import events_backends

            outcome = "Success" if succeeded else "Failure"
            events_backends[self.ctx.account_id][self.ctx.region].put_events(
                [
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {outcome}",
                        "Detail": text,
                        "EventBusName": arn,
                    }
                ]
            )
        else:
            log.warning("unsupported Lambda destination %s", arn)

    # --- logs ------------------------------------------------------------------------------
    def write_function_log(self, name: str, line: str) -> None:
        with self._log_lock, open(self.ctx.workdir / "lambda" / f"{name}.log", "a", encoding="utf-8") as f:
            f.write(line if line.endswith("\n") else line + "\n")

    def _ship_logs(self, worker: _Worker, lines: list[tuple[int, str]]) -> None:
        try:
            from moto.logs.models import logs_backends

            logs = logs_backends[self.ctx.account_id][self.ctx.region]
            if worker.log_group not in logs.groups:
                logs.create_log_group(worker.log_group, {})
            group = logs.groups[worker.log_group]
            if worker.log_stream not in group.streams:
                logs.create_log_stream(worker.log_group, worker.log_stream)
            events = [{"timestamp": at, "message": text} for at, text in lines]
            logs.put_log_events(worker.log_group, worker.log_stream, events)
        except Exception:
            log.debug("could not ship logs of %s to CloudWatch Logs", worker.name, exc_info=True)
        for _, text in lines:
            _publish_emf(self.ctx, text)


def _publish_emf(ctx: LocalCloudContext, line: str) -> None:
    """CloudWatch Logs turns embedded-metric-format log lines into metrics; so do we."""
    if '"_aws"' not in line:
        return
    try:
        document = json.loads(line)
        metadata = document["_aws"]
        timestamp = dt.datetime.fromtimestamp(metadata.get("Timestamp", time.time() * 1000) / 1000, dt.UTC)
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[ctx.account_id][ctx.region]
        for directive in metadata["CloudWatchMetrics"]:
            dimension_sets = directive.get("Dimensions") or [[]]
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                for dimension_names in dimension_sets:
                    dimensions = [{"Name": n, "Value": str(document[n])} for n in dimension_names]
                    datum: dict[str, Any] = {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Timestamp": timestamp,
                        "Unit": metric.get("Unit", "None"),
                    }
                    if isinstance(values, list):
                        datum["Values"] = [str(v) for v in values]
                    else:
                        datum["Value"] = str(values)
                    backend.put_metric_data(directive["Namespace"], [datum])
    except (ValueError, KeyError, TypeError):
        log.debug("not an EMF line: %s", line[:200])


# --- installation into moto ---------------------------------------------------------------------
_active: LambdaRuntime | None = None
_original_invoke: Callable[..., Any] | None = None


def active_runtime() -> LambdaRuntime:
    if _active is None:
        raise RuntimeError("the local Lambda runtime is not installed")
    return _active


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key in (name, name.lower()):
        value = headers.get(key)
        if value:
            return str(value)
    return None


def _invoke(fn: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """Replacement for moto's `LambdaFunction.invoke`."""
    runtime = active_runtime()
    if isinstance(body, bytes):
        body = body.decode()
    event = json.loads(body) if body else {}
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        response_headers["x-amzn-RequestId"] = runtime.invoke_async(fn, event)
        return b""
    result = runtime.invoke(fn, event)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    if _header(request_headers, "X-Amz-Log-Type") == "Tail":
        tail = result.log_tail.encode()[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    response_headers["x-amz-executed-version"] = "$LATEST"
    return result.payload


def install(ctx: LocalCloudContext) -> LambdaRuntime:
    """Make moto's Lambda run handlers; replaces the runtime of any earlier cloud in this process."""
    global _active, _original_invoke
    from moto.awslambda.models import LambdaFunction

    if _active is not None:
        _active.shutdown()
    _active = LambdaRuntime(ctx)
    if _original_invoke is None:
        _original_invoke = LambdaFunction.invoke
        LambdaFunction.invoke = _invoke  # type: ignore[method-assign,assignment]
    return _active


def uninstall() -> None:
    global _active
    if _active is not None:
        _active.shutdown()
        _active = None
