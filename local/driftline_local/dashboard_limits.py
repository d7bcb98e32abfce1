"""PutDashboard refuses the dashboard bodies CloudWatch refuses; moto 5.2.5 only checks that the body is JSON.

CloudWatch API reference, "Dashboard Body Structure and Syntax": the body is a JSON object with a
`widgets` array (0-500 widgets); each widget has a `type`, optional `x` (0-23), `y` (>= 0), `width`
(1-24), `height` (1-1000) and `properties`. A `metric` widget needs `region` and a `metrics` array whose
entries are `[Namespace, MetricName, DimensionName, DimensionValue, ..., {rendering properties}]` (strings,
an object only last) or `[{"expression": ..., "id": ...}]`; an expression `id` starts with a lowercase
letter. An `alarm` widget needs `alarms` (alarm ARNs, at most 100); a `text` widget needs `markdown`.
A refusal is `InvalidParameterInput` (botocore: DashboardInvalidInputError) with the message CloudWatch
gives: "The dashboard body is invalid, there are N validation errors:" and a JSON list of
{dataPath, message} in its JSON-schema wording ("Should have required property 'region'", "Should be <= 24",
"Invalid metric field type, only \"String\" type is allowed"), as CloudWatch returns them (quoted in
public deployment logs, e.g. Terraform's "InvalidParameterInput: The dashboard body is invalid, there are
3 validation errors"); a body that is not a JSON object gets "The field DashboardBody must be a valid JSON
object". Dashboard names: "0-9A-Za-z-_", at most 255 (PutDashboard, `DashboardName`).
Only the fields Driftline writes are checked in depth; other widget types pass with the common checks.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

MAX_WIDGETS = 500
MAX_ALARMS = 100
WIDGET_TYPES = ("metric", "text", "log", "alarm", "explorer", "custom")
_NAME = re.compile(r"^[0-9A-Za-z_-]{1,255}$")
_EXPRESSION_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")

Problem = tuple[str, str]  # (dataPath, message)


def name_error(name: Any) -> str | None:
    if not isinstance(name, str) or not _NAME.match(name):
        return (
            "The value for field DashboardName contains invalid characters. "
            "It can only contain alphanumerics, dash (-) and underscore (_)."
        )
    return None


def body_problems(body: Any) -> list[Problem] | None:
    """The validation errors CloudWatch would report; None if the body is not a JSON object at all."""
    try:
        document = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    if "widgets" not in document:
        return [("", "Should have required property 'widgets'")]
    widgets = document["widgets"]
    if not isinstance(widgets, list):
        return [("/widgets", "Should be array")]
    problems: list[Problem] = []
    if len(widgets) > MAX_WIDGETS:
        problems.append(("/widgets", f"Should NOT have more than {MAX_WIDGETS} items"))
    for index, widget in enumerate(widgets):
        problems += _widget(f"/widgets/{index}", widget)
    return problems


def _widget(path: str, widget: Any) -> list[Problem]:
    if not isinstance(widget, dict):
        return [(path, "Should be object")]
    problems: list[Problem] = []
    if "type" not in widget:
        problems.append((path, "Should have required property 'type'"))
    elif widget["type"] not in WIDGET_TYPES:
        problems.append((f"{path}/type", "Should be equal to one of the allowed values"))
    for field, low, high in (("x", 0, 23), ("y", 0, None), ("width", 1, 24), ("height", 1, 1000)):
        if field in widget:
            problems += _integer(f"{path}/{field}", widget[field], low, high)
    kind = widget.get("type")
    if kind in ("metric", "alarm", "text") and "properties" not in widget:
        return problems + [(path, "Should have required property 'properties'")]
    properties = widget.get("properties", {})
    if not isinstance(properties, dict):
        return problems + [(f"{path}/properties", "Should be object")]
    at = f"{path}/properties"
    if kind == "metric":
        problems += _metric_properties(at, properties)
    elif kind == "alarm":
        alarms = properties.get("alarms")
        if alarms is None:
            problems.append((at, "Should have required property 'alarms'"))
        elif not isinstance(alarms, list):
            problems.append((f"{at}/alarms", "Should be array"))
        else:
            if len(alarms) > MAX_ALARMS:
                problems.append((f"{at}/alarms", f"Should NOT have more than {MAX_ALARMS} items"))
            problems += [
                (f"{at}/alarms/{i}", "Should be string") for i, a in enumerate(alarms) if not isinstance(a, str)
            ]
    elif kind == "text":
        if "markdown" not in properties:
            problems.append((at, "Should have required property 'markdown'"))
        elif not isinstance(properties["markdown"], str):
            problems.append((f"{at}/markdown", "Should be string"))
    return problems


def _metric_properties(at: str, properties: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if "region" not in properties:
        problems.append((at, "Should have required property 'region'"))
    elif not isinstance(properties["region"], str):
        problems.append((f"{at}/region", "Should be string"))
    if "period" in properties:
        problems += _integer(f"{at}/period", properties["period"], 1, None)
    metrics = properties.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list):
            problems.append((f"{at}/metrics", "Should be array"))
        else:
            for index, entry in enumerate(metrics):
                problems += _metric_entry(f"{at}/metrics/{index}", entry)
    horizontal = (properties.get("annotations") or {}).get("horizontal", [])
    for index, annotation in enumerate(horizontal if isinstance(horizontal, list) else []):
        where = f"{at}/annotations/horizontal/{index}"
        if not isinstance(annotation, dict) or "value" not in annotation:
            problems.append((where, "Should have required property 'value'"))
        elif isinstance(annotation["value"], bool) or not isinstance(annotation["value"], int | float):
            problems.append((f"{where}/value", "Should be number"))
    return problems


def _metric_entry(path: str, entry: Any) -> list[Problem]:
    if not isinstance(entry, list):
        return [(path, "Should be array")]
    if not entry:
        return [(path, "Should NOT have fewer than 1 items")]
    fields, last = (entry[:-1], entry[-1]) if isinstance(entry[-1], dict) else (entry, None)
    problems = [
        (f"{path}/{i}", 'Invalid metric field type, only "String" type is allowed')
        for i, value in enumerate(fields)
        if not isinstance(value, str)
    ]
    if last is not None and not fields:  # [{"expression": ..., "id": ...}]
        if "expression" not in last:
            problems.append((f"{path}/0", "Should have required property 'expression'"))
        if "id" in last and not (isinstance(last["id"], str) and _EXPRESSION_ID.match(last["id"])):
            problems.append((f"{path}/0/id", 'Should match pattern "^[a-z][a-zA-Z0-9_]*$"'))
    return problems


def _integer(path: str, value: Any, low: int | None, high: int | None) -> list[Problem]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [(path, "Should be integer")]
    if low is not None and value < low:
        return [(path, f"Should be >= {low}")]
    if high is not None and value > high:
        return [(path, f"Should be <= {high}")]
    return []


def refusal(body: Any) -> str | None:
    """CloudWatch's refusal message for this body (None: it would accept it)."""
    problems = body_problems(body)
    if problems is None:
        return "The field DashboardBody must be a valid JSON object"
    if not problems:
        return None
    listed = json.dumps([{"dataPath": path, "message": message} for path, message in problems], indent=2)
    return f"The dashboard body is invalid, there are {len(problems)} validation errors:\n{listed}"


def install() -> None:
    """Wrap moto's CloudWatchBackend.put_dashboard: the API and CloudFormation's AWS::CloudWatch::Dashboard."""
    from moto.cloudwatch.exceptions import DashboardInvalidInputError
    from moto.cloudwatch.models import CloudWatchBackend

    current = CloudWatchBackend.put_dashboard
    if getattr(current, "_driftline_limits", False):
        return

    @functools.wraps(current)
    def put_dashboard(self: Any, name: str, body: str) -> Any:
        error = name_error(name) or refusal(body)
        if error:
            raise DashboardInvalidInputError(error)
        return current(self, name, body)

    put_dashboard._driftline_limits = True  # type: ignore[attr-defined]
    CloudWatchBackend.put_dashboard = put_dashboard  # type: ignore[method-assign]

    # moto's response handler refuses invalid JSON first, with its own words: use CloudWatch's.
    from moto.cloudwatch.responses import CloudWatchResponse

    original_response = CloudWatchResponse.put_dashboard

    @functools.wraps(original_response)
    def put_dashboard_response(self: Any) -> Any:
        if body_problems(self._get_param("DashboardBody")) is None:
            raise DashboardInvalidInputError("The field DashboardBody must be a valid JSON object")
        return original_response(self)

    CloudWatchResponse.put_dashboard = put_dashboard_response  # type: ignore[method-assign]
