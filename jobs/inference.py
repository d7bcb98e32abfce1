"""Hosting (XGBoost container, script mode): raw feature rows in, predictions out.

Input: `text/csv` (no header, columns in preprocessor.json feature order) or `application/json`
(`{"instances": [{"age": 41, ...}, ...]}` or `{"instances": [[41, ...], ...]}`).
Output, by Accept: `application/json` `{"predictions": [...]}` with `{"label", "score"}` (binary,
score = P(positive)), `{"label", "probabilities"}` (multiclass) or `{"value"}` (regression) per row; or
`text/csv`, one value per line (binary: probability, multiclass: label, regression: value). The container
turns a missing or `*/*` Accept into SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (application/json by default).

The container serves this module through `transform_fn`, whose (body, content_type) result it answers with
that Content-Type (`application/json`, `text/csv; charset=utf-8`); a bare string would go out as text/html.
A bad request is answered with a 4xx and a JSON body saying what was wrong: 415 for a content type other
than CSV or JSON, 406 for an Accept asking for neither, 400 for a body that cannot be scored. Those are
returned, not raised: the container (sagemaker-containers' Transformer) turns every exception raised by
this module into a 500, which the endpoint would count as Invocation5XXErrors.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # the serving container imports this module; its siblings live beside it
    sys.path.insert(0, _HERE)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import BINARY, MULTICLASS, LoadedModel, load_model_dir  # noqa: E402

CSV = "text/csv"
JSON = "application/json"


class InvalidRequest(ValueError):
    """The request cannot be scored; the message says what to change, `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


_REASONS = {400: "Bad Request", 406: "Not Acceptable", 415: "Unsupported Media Type"}


class Rejection:
    """A 4xx answer, as a WSGI application: the container's Flask worker runs a callable that transform_fn
    returns and answers with its status and body (flask.App.make_response); a raised error would be a 500."""

    def __init__(self, error: InvalidRequest) -> None:
        self.status = error.status
        self.reason = _REASONS.get(error.status, "Bad Request")
        self.body = json.dumps({"error": self.reason, "message": str(error)}).encode()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", JSON), ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {self.reason}", headers)
        return [self.body]


class Rows:
    """Parsed request rows: lists of values (feature order) or dicts keyed by feature name."""

    def __init__(self, rows: list[Any], source: str) -> None:
        self.rows = rows
        self.source = source


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def model_fn(model_dir: str) -> LoadedModel:
    return load_model_dir(model_dir)


def parse_request(request_body: Any, request_content_type: str | None) -> Rows:
    """The request's rows; InvalidRequest (415) for a content type other than CSV or JSON, (400) for a bad body."""
    content_type = _media_type(request_content_type)
    if isinstance(request_body, (bytes, bytearray)):
        try:
            text = bytes(request_body).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidRequest(f"the request body is not UTF-8 text (byte {exc.start})") from exc
    else:
        text = str(request_body)
    if content_type == CSV:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
        return Rows(rows, "CSV")
    if content_type == JSON:
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise InvalidRequest(f"the request body is not valid JSON: {exc}") from exc
        instances = payload.get("instances") if isinstance(payload, dict) else payload
        if not isinstance(instances, list):
            raise InvalidRequest('JSON requests must be {"instances": [...]}: a list of objects or of lists')
        return Rows(instances, "JSON")
    raise InvalidRequest(
        f"unsupported content type {request_content_type!r}; send {CSV} (no header, columns in "
        f'preprocessor.json feature order) or {JSON} ({{"instances": [...]}})',
        status=415,
    )


def _frame(data: Rows, features: list[str]) -> pd.DataFrame:
    """Validate the rows against the model's features and return them as raw columns."""
    if not data.rows:
        raise InvalidRequest("the request has no rows to score")
    records: list[dict[str, Any]] = []
    for number, row in enumerate(data.rows, start=1):
        if isinstance(row, dict):
            if not any(name in row for name in features):
                raise InvalidRequest(
                    f"{data.source} row {number} names none of the model's features ({', '.join(features)})"
                )
            records.append({name: row.get(name) for name in features})
        elif isinstance(row, (list, tuple)):
            if len(row) != len(features):
                raise InvalidRequest(
                    f"{data.source} row {number} has {len(row)} columns but the model expects "
                    f"{len(features)}, in this order: {', '.join(features)}"
                )
            records.append({name: row[i] for i, name in enumerate(features)})
        else:
            raise InvalidRequest(f"{data.source} row {number} must be an object or a list, not {type(row).__name__}")
    return pd.DataFrame(records, columns=features, dtype=object)


def predict(input_data: Rows, model: LoadedModel) -> list[dict[str, Any]]:
    scores = model.predict_raw(_frame(input_data, model.feature_names))
    classes = model.classes
    if model.problem_type == BINARY:
        return [{"label": classes[1] if p >= 0.5 else classes[0], "score": float(p)} for p in scores]
    if model.problem_type == MULTICLASS:
        return [
            {
                "label": classes[int(np.argmax(row))],
                "probabilities": {name: float(row[k]) for k, name in enumerate(classes)},
            }
            for row in scores
        ]
    return [{"value": float(v)} for v in scores]


def _accepted(accept: str | None) -> str:
    """The first media type in Accept that this module can answer with; InvalidRequest (406) if none."""
    for entry in (accept or JSON).split(","):
        media = _media_type(entry)
        if media in ("*/*", "application/*", JSON):
            return JSON
        if media in ("text/*", CSV):
            return CSV
    raise InvalidRequest(f"unsupported accept type {accept!r}; ask for {JSON} or {CSV}", status=406)


def serialize(prediction: list[dict[str, Any]], accept: str | None) -> tuple[str, str]:
    """(body, content_type) for Accept; InvalidRequest (406) when Accept asks for neither JSON nor CSV."""
    media = _accepted(accept)
    if media == JSON:
        return json.dumps({"predictions": prediction}), JSON
    lines = []
    for item in prediction:
        if "score" in item:
            lines.append(repr(item["score"]))
        elif "probabilities" in item:
            lines.append(str(item["label"]))
        else:
            lines.append(repr(item["value"]))
    return "\n".join(lines) + "\n", CSV


def transform_fn(
    model: LoadedModel, request_body: Any, request_content_type: str | None, accept: str | None
) -> tuple[str, str] | Rejection:
    """One request: (body, content_type) for the container to answer 200 with, or a 4xx Rejection."""
    try:
        media = _accepted(accept)  # refuse an unanswerable Accept before scoring
        return serialize(predict(parse_request(request_body, request_content_type), model), media)
    except InvalidRequest as error:
        return Rejection(error)
