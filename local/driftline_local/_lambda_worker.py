"""One warm Lambda execution environment: imports the handler once, then serves invocations.

Started by `lambda_runtime` as ``python _lambda_worker.py <handler> <request-fd> <response-fd>`` with
the function's environment. Requests and responses are JSON lines on the two pipes; the handler's
stdout/stderr are the function's log. Only the standard library is imported here, so everything
else the handler sees comes from its own PYTHONPATH (source dir + layers), as on Lambda.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import json
import os
import sys
import time
import traceback
from typing import Any

END_MARKER = "\x00driftline-end"  # lambda_runtime._END_MARKER


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


if __name__ == "__main__":
    # Run as a script: drop this package's directory from sys.path so the handler's imports
    # resolve only from PYTHONPATH and the interpreter's site-packages.
    sys.path.pop(0)
    main()
