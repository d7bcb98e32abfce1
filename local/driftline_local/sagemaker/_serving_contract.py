"""The SageMaker XGBoost container's script-mode serving contract, re-implemented with the stdlib only.

The model server (`_inference_worker.py`) runs in the image's environment and imports this file beside it;
tests import it too. Each rule comes from the stack the XGBoost image serves with (cited in
docs/internals.md, "Hosting: the XGBoost container's serving contract"):

- aws/sagemaker-xgboost-container `src/sagemaker_xgboost_container/serving.py` (`_user_module_transformer`):
  the user's model_fn / input_fn / predict_fn / output_fn, or transform_fn alone (both is a UserError at
  start), are handed to sagemaker-containers' Transformer, XGBoost's defaults included.
- aws/sagemaker-containers v2.8.6.post2 (the image's pin) `src/sagemaker_containers/_transformer.py`:
  every function is wrapped by `_functions.error_wrapper`, so *any* exception becomes `ClientError` and
  escapes the view: Flask answers 500. (`_default_transform_fn` maps UnsupportedFormatError to 415/406,
  but the wrapper has already turned it into ClientError, so that mapping never fires for user code.)
  A tuple result becomes `Response(response=result[0], mimetype=result[1])`, status 200; anything else
  goes to Flask as it is.
- `src/sagemaker_containers/_worker.py` `Request`: content type from the `ContentType` or `Content-Type`
  header, else application/json; Accept from the header unless it is missing or `*/*`, then
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default application/json); the body is text for exactly
  application/json and text/csv, bytes otherwise. `Response.default_mimetype` is application/json.
- Flask 3.1 `App.make_response` (the image pins Flask 3.1.3): str / bytes become `flask.Response`, whose
  default mimetype is text/html; dict / list become JSON; a Response is used as it is (its status too);
  another callable is run as a WSGI application; None or anything else is a TypeError (500).
- werkzeug `utils.get_content_type`: `; charset=utf-8` is appended to text/*, *+xml and a few
  application/* types; an escaping exception is werkzeug's InternalServerError page.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

JSON = "application/json"
CSV = "text/csv"
ANY = "*/*"
UTF8_TYPES = (JSON, CSV)  # sagemaker_containers._content_types.UTF8_TYPES
HTML = "text/html; charset=utf-8"  # flask.Response's default mimetype, as werkzeug spells the header
INTERNAL_SERVER_ERROR = (  # werkzeug.exceptions.InternalServerError().get_response() (Werkzeug 3.1)
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete "
    "your request. Either the server is overloaded or there is an error in the application.</p>\n"
)
_CHARSET_TYPES = {  # werkzeug.utils._charset_mimetypes
    "application/ecmascript",
    "application/javascript",
    "application/sql",
    "application/xml",
    "application/xml-dtd",
    "application/xml-external-parsed-entity",
}

Answer = tuple[int, str, bytes]  # status, Content-Type, body: what the container sends back


class UserError(Exception):
    """The inference script cannot be served (sagemaker_algorithm_toolkit.exceptions.UserError)."""


def content_type_with_charset(mimetype: str) -> str:
    """werkzeug.utils.get_content_type(mimetype, "utf-8")."""
    if mimetype.startswith("text/") or mimetype in _CHARSET_TYPES or mimetype.endswith("+xml"):
        return f"{mimetype}; charset=utf-8"
    return mimetype


def request_content_type(headers: dict[str, str]) -> str:
    """_worker.Request.content_type: the ContentType or Content-Type header, else application/json."""
    return headers.get("ContentType") or headers.get("Content-Type") or JSON


def request_accept(accept: str | None, environ: dict[str, str] | None = None) -> str:
    """_worker.Request.accept: the Accept header unless missing or */*, then the default accept."""
    if not accept or accept == ANY:
        return (environ if environ is not None else os.environ).get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
    return accept


def request_content(body: bytes, content_type: str) -> str | bytes:
    """_worker.Request.content: text (UTF-8, undecodable bytes replaced) for exactly JSON and CSV, else bytes."""
    return body.decode("utf-8", "replace") if content_type in UTF8_TYPES else body


# ---- the user's module --------------------------------------------------------------------------


def _default_model_fn(model_dir: str) -> Any:
    raise NotImplementedError("Please provide a model_fn implementation.")  # _transformer.default_model_fn


def _default_input_fn(content: Any, content_type: str) -> Any:
    # The XGBoost image decodes to a DMatrix (sagemaker_xgboost_container.encoder); without xgboost here,
    # JSON is parsed and anything else passed through.
    return json.loads(content) if content_type == JSON else content


def _default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def _default_output_fn(prediction: Any, accept: str) -> tuple[str, str]:
    # serving.default_output_fn: Response(encoders.encode(prediction, accept), mimetype=accept)
    if accept != JSON:
        raise ValueError(f"Content type {accept} is not supported by this framework.")
    return json.dumps(prediction, default=lambda value: getattr(value, "tolist", lambda: str(value))()), accept


Transform = Callable[[Any, Any, str, str], Any]


def transform_of(module: Any) -> tuple[Callable[[str], Any], Transform]:
    """(model_fn, transform) for a user module, as serving._user_module_transformer builds them."""
    model_fn = getattr(module, "model_fn", _default_model_fn)
    transform_fn = getattr(module, "transform_fn", None)
    input_fn = getattr(module, "input_fn", None)
    predict_fn = getattr(module, "predict_fn", None)
    output_fn = getattr(module, "output_fn", None)
    if transform_fn is not None and (input_fn or predict_fn or output_fn):
        raise UserError("Cannot use transform_fn implementation with input_fn, predict_fn, and/or output_fn")
    if transform_fn is not None:
        return model_fn, transform_fn
    input_fn = input_fn or _default_input_fn
    predict_fn = predict_fn or _default_predict_fn
    output_fn = output_fn or _default_output_fn

    def default_transform(model: Any, content: Any, content_type: str, accept: str) -> Any:
        return output_fn(predict_fn(input_fn(content, content_type), model), accept)

    return model_fn, default_transform


# ---- one request ----------------------------------------------------------------------------------


def invoke(transform: Transform, model: Any, body: bytes, headers: dict[str, str]) -> Answer:
    """Answer one POST /invocations as the container does: status, Content-Type and body.

    `headers` holds the request's Content-Type and Accept as SageMaker forwards them (absent when the caller
    sent none). An exception from the user's code is printed to stderr (the endpoint's log) and answered 500.
    """
    content_type = request_content_type(headers)
    accept = request_accept(headers.get("Accept"))
    try:
        result = transform(model, request_content(body, content_type), content_type, accept)
        if isinstance(result, tuple):  # Transformer.transform: a tuple is (body, mimetype), status 200
            return 200, content_type_with_charset(result[1] or JSON), _body_bytes(result[0])
        return _flask_response(result, content_type, accept)
    except Exception:  # error_wrapper -> ClientError -> Flask's handle_exception -> 500
        traceback.print_exc(file=sys.stderr)
        return 500, HTML, INTERNAL_SERVER_ERROR.encode()


def _body_bytes(data: Any) -> bytes:
    """What werkzeug's Response sends for `response=data`: str/bytes as such, an iterable of them joined."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if data is None:
        return b""
    return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in data)


def _flask_response(result: Any, content_type: str, accept: str) -> Answer:
    """flask.App.make_response for a view's return value other than a tuple."""
    if isinstance(result, (str, bytes, bytearray, Iterator)):
        return 200, HTML, _body_bytes(result)
    if isinstance(result, (dict, list)):  # Flask's DefaultJSONProvider.response, compact and sorted
        return 200, JSON, (json.dumps(result, sort_keys=True, separators=(",", ":")) + "\n").encode()
    if hasattr(result, "status_code") and hasattr(result, "get_data"):  # a werkzeug / flask Response
        headers = getattr(result, "headers", {})
        mimetype = headers.get("Content-Type") if hasattr(headers, "get") else None
        return int(result.status_code), mimetype or HTML, bytes(result.get_data())
    if callable(result):  # a WSGI application: Response.force_type(result, environ)
        return _run_wsgi(result, content_type, accept)
    raise TypeError(f"The view function did not return a valid response: {type(result).__name__}")


def _run_wsgi(app: Callable[..., Any], content_type: str, accept: str) -> Answer:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started["status"], started["headers"] = status, headers
        return lambda data: None

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/invocations",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": content_type,
        "HTTP_ACCEPT": accept,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
    }
    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    if "status" not in started:
        raise TypeError("the WSGI application did not start a response")
    headers = {name.lower(): value for name, value in started["headers"]}
    return int(started["status"].split()[0]), headers.get("content-type", HTML), body
