"""The local model server's re-implementation of the XGBoost container's serving stack, checked against Flask.

The container answers through sagemaker-containers' Transformer and Worker on Flask (3.1.3 in the image,
the version installed here). Each case runs a script's result through Flask itself (with the Transformer's
tuple rule, aws/sagemaker-containers v2.8.6.post2 src/sagemaker_containers/_transformer.py) and through
`_serving_contract.invoke`, and expects the same status, Content-Type and body.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import flask
import pytest

CONTRACT = Path(__file__).resolve().parents[2] / "local" / "driftline_local" / "sagemaker" / "_serving_contract.py"
spec = importlib.util.spec_from_file_location("serving_contract", CONTRACT)
assert spec and spec.loader
contract = importlib.util.module_from_spec(spec)
spec.loader.exec_module(contract)


class WorkerResponse(flask.Response):
    default_mimetype = "application/json"  # sagemaker_containers._worker.Response


def through_flask(result: Callable[[], Any]) -> tuple[int, str, bytes]:
    app = flask.Flask("container")

    def view() -> Any:
        value = result()
        if isinstance(value, tuple):  # Transformer.transform
            return WorkerResponse(response=value[0], mimetype=value[1])
        return value

    app.add_url_rule("/invocations", "invocations", view, methods=["POST"])
    answer = app.test_client().post("/invocations", data=b"1", content_type="text/csv")
    return answer.status_code, answer.headers["Content-Type"], answer.data


def through_contract(result: Callable[[], Any]) -> tuple[int, str, bytes]:
    return contract.invoke(lambda *args: result(), None, b"1", {"Content-Type": "text/csv"})


def wsgi_415(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("415 UNSUPPORTED MEDIA TYPE", [("Content-Type", "application/json")])
    return [b'{"error": "no"}']


def fails() -> Any:
    raise ValueError("bad row")


CASES: dict[str, Callable[[], Any]] = {
    "bare str": lambda: "0.5\n",
    "bare bytes": lambda: b"0.5\n",
    "dict": lambda: {"b": 1, "a": [1.5]},
    "list": lambda: [1, 2],
    "generator": lambda: (part for part in ["0.", "5"]),
    "tuple csv": lambda: ("0.5\n", "text/csv"),
    "tuple json": lambda: ('{"p": 1}', "application/json"),
    "tuple xml": lambda: ("<a/>", "application/xml"),
    "tuple without type": lambda: ("0.5", None),
    "tuple bytes": lambda: (b"\x00\x01", "application/x-npy"),
    "response with status": lambda: WorkerResponse(response='{"e": 1}', status=400),
    "flask response": lambda: flask.Response("nope", status=406, mimetype="text/plain"),
    "wsgi callable": lambda: wsgi_415,
    "exception": fails,
    "none": lambda: None,
    "number": lambda: 3,
}


@pytest.mark.parametrize("case", CASES)
def test_a_scripts_result_is_answered_as_flask_answers_it(case):
    assert through_contract(CASES[case]) == through_flask(CASES[case])


def test_any_exception_is_a_500_with_flasks_generic_page():
    status, content_type, body = through_contract(fails)
    assert (status, content_type) == (500, "text/html; charset=utf-8")
    assert b"bad row" not in body and b"500 Internal Server Error" in body


@pytest.mark.parametrize(
    ("headers", "content_type"),
    [
        ({}, "application/json"),
        ({"Content-Type": "text/csv"}, "text/csv"),
        ({"ContentType": "text/x-libsvm", "Content-Type": "text/csv"}, "text/x-libsvm"),
    ],
)
def test_request_content_type_is_the_header_or_json(headers, content_type):
    assert contract.request_content_type(headers) == content_type


@pytest.mark.parametrize(
    ("accept", "environ", "expected"),
    [
        (None, {}, "application/json"),
        ("*/*", {}, "application/json"),
        ("*/*", {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}, "text/csv"),
        ("text/csv, application/json", {}, "text/csv, application/json"),
    ],
)
def test_accept_is_passed_as_sent_unless_missing_or_any(accept, environ, expected):
    assert contract.request_accept(accept, environ) == expected


@pytest.mark.parametrize(
    ("content_type", "content"),
    [("text/csv", "1,2"), ("application/json", "1,2"), ("text/csv; charset=utf-8", b"1,2"), ("x/y", b"1,2")],
)
def test_the_body_is_text_for_exactly_csv_and_json(content_type, content):
    assert contract.request_content(b"1,2", content_type) == content


def test_transform_fn_beside_input_fn_cannot_be_served():
    module = type("Script", (), {"transform_fn": staticmethod(lambda *a: ""), "input_fn": staticmethod(lambda *a: 1)})
    with pytest.raises(contract.UserError, match="Cannot use transform_fn implementation with input_fn"):
        contract.transform_of(module)
