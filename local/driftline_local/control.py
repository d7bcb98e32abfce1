"""The control API: act on a running local cloud from another process (the `driftline local` CLI).

AWS has no API for "reclaim this spot instance" or "make this variant fail", so the local cloud serves
one beside moto's: `POST /_driftline/<action>` with a JSON object body runs the Python handler that an
extension registered for `<action>` (in `ctx.control_actions`, via `register`) inside the server process,
and answers with its JSON result. Every other request goes to moto untouched.

    200 {"result": ...}                                   the handler's return value
    400 {"error": {"code": "InvalidRequest", ...}}        the handler raised ValueError (or bad JSON)
    404 {"error": {"code": "UnknownAction", ...}}         nothing registered under that name
    500 {"error": {"code": "InternalError", ...}}         the handler raised anything else
    GET /_driftline/ -> 200 {"actions": [...]}             which actions this cloud offers

`moto_server(ctx)` is moto's `ThreadedMotoServer` with its WSGI app wrapped by `ControlApp`; `call` is
the client side.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from driftline_local.context import LocalCloudContext

log = logging.getLogger(__name__)

PREFIX = "/_driftline/"
DEFAULT_ENDPOINT_URL = "http://127.0.0.1:4566"  # where `driftline local up` serves by default

ControlHandler = Callable[[dict[str, Any]], Any]


class LocalCloudNotRunning(Exception):
    """Nothing (or not a Driftline local cloud) answers at the endpoint URL."""


class ControlActionFailed(Exception):
    """The local cloud refused or failed the action; the message says why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def register(ctx: LocalCloudContext, action: str, handler: ControlHandler) -> None:
    """Offer `handler(payload) -> JSON-able` as `POST /_driftline/<action>` on this cloud."""
    ctx.control_actions[action] = handler


# --- server side ------------------------------------------------------------------------------------
class ControlApp:
    """WSGI middleware: `/_driftline/...` to the registered handlers, everything else to `app`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], actions: MutableMapping[str, ControlHandler]) -> None:
        self.app = app
        self.actions = actions

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or ""
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        status, body = self._handle(environ, path[len(PREFIX) :].strip("/"))
        payload = json.dumps(body, default=str).encode("utf-8")
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    def _handle(self, environ: dict[str, Any], action: str) -> tuple[int, dict[str, Any]]:
        method = environ.get("REQUEST_METHOD", "GET")
        if not action:
            if method in ("GET", "HEAD"):
                return 200, {"actions": sorted(self.actions)}
            return _error(405, "MethodNotAllowed", "GET /_driftline/ lists the actions; POST to /_driftline/<action>")
        if method != "POST":
            return _error(405, "MethodNotAllowed", f"use POST /_driftline/{action}")
        handler = self.actions.get(action)
        if handler is None:
            known = ", ".join(sorted(self.actions)) or "none"
            return _error(404, "UnknownAction", f"no control action {action!r} (this cloud offers: {known})")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return _error(400, "InvalidRequest", f"the body must be a JSON object: {exc}")
        if not isinstance(payload, dict):
            return _error(400, "InvalidRequest", "the body must be a JSON object")
        try:
            return 200, {"result": handler(payload)}
        except ValueError as exc:
            return _error(400, "InvalidRequest", str(exc))
        except Exception as exc:
            log.exception("control action %s failed", action)
            return _error(500, "InternalError", f"{type(exc).__name__}: {exc}")


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


def moto_dispatcher() -> Any:
    """moto's WSGI dispatcher (`DomainDispatcherApplication`), remembering which backend serves each host.

    moto 5.2.5 answers `get_backend_for_host` by listing its package directory and stat-ing every entry
    (`backends.list_of_moto_modules`, about 160 `isdir` calls), twice per request and under the dispatcher's
    lock: a fifth of the server's CPU per request in a warm pipeline run. Both inputs (the package's modules,
    the URL patterns) are fixed for the life of the process, so the answer for a host is too."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class Dispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backend_for_host: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            try:
                return self._backend_for_host[host]
            except KeyError:
                backend = self._backend_for_host[host] = super().get_backend_for_host(host)
                return backend

    return Dispatcher()


def moto_server(ctx: LocalCloudContext, ip_address: str = "127.0.0.1", port: int = 4566) -> Any:
    """moto's ThreadedMotoServer with its WSGI app wrapped by `ControlApp` (not started).

    The app is built as `ThreadedMotoServer._server_entry` builds it (with `moto_dispatcher`'s host
    cache), then wrapped; moto is
    imported here, not at module import, so the CLI's client side stays quick to start.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    actions = ctx.control_actions

    class MotoServerWithControl(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = ControlApp(moto_dispatcher(), actions)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return MotoServerWithControl(ip_address=ip_address, port=port, verbose=False)


# --- client side ------------------------------------------------------------------------------------
def call(endpoint_url: str, action: str, payload: dict[str, Any] | None = None, timeout: float = 60.0) -> Any:
    """Run control `action` on the local cloud at `endpoint_url`; returns the handler's result.

    Raises `LocalCloudNotRunning` when nothing, or something else, answers there, and
    `ControlActionFailed` when the cloud refuses the action (unknown job, bad value, ...).
    """
    url = endpoint_url.rstrip("/") + PREFIX + action
    request = urllib.request.Request(
        url,
        data=json.dumps(payload or {}).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - a URL the user gave
            return _decode(endpoint_url, response.read()).get("result")
    except urllib.error.HTTPError as exc:
        body = _decode(endpoint_url, exc.read())
        error = body.get("error") or {}
        raise ControlActionFailed(exc.code, error.get("code", "Error"), error.get("message", str(exc))) from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LocalCloudNotRunning(
            f"no local cloud answers at {endpoint_url} ({reason}); start one with `driftline local up` "
            "or pass --endpoint-url"
        ) from None


def _decode(endpoint_url: str, raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ({"result", "error"} & body.keys()):
        raise LocalCloudNotRunning(
            f"{endpoint_url} answers, but it is not a Driftline local cloud (no control API); "
            "start one with `driftline local up`"
        )
    return body
