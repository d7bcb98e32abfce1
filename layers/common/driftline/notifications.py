"""Pages and summaries to on-call through the SNS topic.

Every message is the readable text body (e-mail) plus SNS message attributes that subscribers filter on
(an SNS subscription filter policy): `model`, `kind`, `severity`, `incident` and `action` (trigger |
resolve). `incident` is stable for one incident (an alarm's incident is its alarm name), so incident
tools that deduplicate (PagerDuty's dedup_key) keep a flapping alarm as one incident; the page that
announces the end of an incident has action `resolve`. The JSON formats for AWS Chatbot and PagerDuty
are built from the same fields by `driftline.page_formats`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from driftline import aws, state
from driftline.observability import logger
from driftline.settings import settings

# SNS Publish: "Subjects must be ASCII text that begins with a letter, number, or punctuation mark;
# must not include line breaks or control characters; and must be less than 100 characters long."
SUBJECT_MAX = 99
_PREFIX = "[Driftline] "
_ELLIPSIS = "..."


NO_MODEL = "-"  # attribute value for a page that is about the stack, not one model (SNS refuses empty values)
ACTIONS = ("trigger", "resolve")
SEVERITIES = ("page", "warning", "info")


def page(
    subject: str,
    facts: Mapping[str, Any],
    *,
    severity: str = "page",
    kind: str | None = None,
    model: str | None = None,
    incident: str | None = None,
    action: str = "trigger",
    run_id: str | None = None,
) -> str:
    """Publish a message on-call can act on: a one-line subject and `label: value` facts.

    The subject always fits SNS's rules (`subject_line`); when it had to be shortened, the full title
    is the first line of the body. `kind` names what happened (`run-failed`, `drift`, ...); `incident`
    names the incident the page belongs to (the same for every page of one incident, including its
    `action="resolve"` page); without one, a page is its own incident (retries of it share the key).
    With `run_id` (and a model), the page is recorded on the run's item once SNS accepted it
    (`record_run_page`), so `driftline run RUN_ID` shows it. Returns the SNS message id.
    """
    line = subject_line(subject)
    if line != _PREFIX + subject:
        facts = {"Title": subject} | dict(facts)
    body = render(facts)
    attributes = page_attributes(
        subject, facts, severity=severity, kind=kind, model=model, incident=incident, action=action
    )
    response = aws.client("sns").publish(
        TopicArn=settings().on_call_topic_arn,
        Subject=line,
        Message=body,
        MessageAttributes={name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()},
    )
    logger.info("paged on-call", extra={"subject": line} | attributes)
    message_id = str(response["MessageId"])
    if run_id:
        record_run_page(attributes, line, run_id, message_id)
    return message_id


def record_run_page(attributes: Mapping[str, str], subject: str, run_id: str, message_id: str) -> None:
    """Note a sent page on its run's item (`state.record_run_page`). The page is what matters: a failure to
    record it is a warning in the log, never an error of the page."""
    model = attributes["model"]
    if model == NO_MODEL:
        logger.warning("page not recorded on its run: no model", extra={"run_id": run_id, "subject": subject})
        return
    entry = {
        "subject": subject,
        "kind": attributes["kind"],
        "severity": attributes["severity"],
        "action": attributes["action"],
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "message_id": message_id,
    }
    try:
        if not state.record_run_page(model, run_id, entry):
            logger.info("page not recorded on its run: recorded already, or no such run", extra=entry)
    except Exception:
        logger.warning("page sent but not recorded on its run", extra=entry | {"run_id": run_id}, exc_info=True)


def page_attributes(
    subject: str,
    facts: Mapping[str, Any],
    *,
    severity: str = "page",
    kind: str | None = None,
    model: str | None = None,
    incident: str | None = None,
    action: str = "trigger",
) -> dict[str, str]:
    """The SNS message attributes of a page: every value a non-empty string (SNS refuses empty ones)."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
    model = model or _model_of(facts) or NO_MODEL
    kind = kind or "notice"
    if not incident:
        digest = hashlib.sha256(f"{subject}\n{render(facts)}".encode()).hexdigest()[:16]
        incident = f"{kind}/{model}/{digest}"
    return {"model": model, "kind": kind, "severity": severity, "incident": incident, "action": action}


def _model_of(facts: Mapping[str, Any]) -> str | None:
    value = facts.get("Model")
    return value if isinstance(value, str) and value.strip() else None


def subject_line(title: str) -> str:
    """`[Driftline] <model>: <event>` as printable ASCII on one line, at most SUBJECT_MAX characters.

    A long title keeps the model name (cut at its end only if it needs more than half the room) and
    the gist of the event: a trailing "(detail)" goes first, then the event's middle gives way to
    "...", keeping how it starts and how it ends ("candidate ... rolled back").
    """
    text = _one_ascii_line(title)
    model, sep, event = text.partition(": ")
    if not sep:
        model, event = "", text
    room = SUBJECT_MAX - len(_PREFIX) - len(sep)
    if len(model) + len(event) > room:
        model = _clip(model, min(len(model), max(room // 2, room - len(event))))
        event = _shorten(event, room - len(model))
    return _PREFIX + model + sep + event


def _one_ascii_line(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    printable = "".join(char if " " <= char <= "~" else " " for char in ascii_text)
    return re.sub(r" {2,}", " ", printable).strip()


def _shorten(event: str, width: int) -> str:
    if len(event) > width:
        event = re.sub(r"\s*\([^()]*\)$", "", event)
    if len(event) <= width or width <= len(_ELLIPSIS):
        return event[:width]
    head = (width - len(_ELLIPSIS) + 1) // 2
    tail = width - len(_ELLIPSIS) - head
    return event[:head].rstrip() + _ELLIPSIS + (event[-tail:].lstrip() if tail else "")


def _clip(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    if width <= len(_ELLIPSIS):
        return text[:width]
    return text[: width - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


def render(facts: Mapping[str, Any]) -> str:
    lines = []
    for label, value in facts.items():
        if value is None or value == "":
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value, indent=2, sort_keys=True, default=str)
        lines.append(f"{label}: {value}")
    return "\n".join(lines)


def console_links(
    region: str, *, execution_arn: str | None = None, job: str | None = None, job_kind: str = "TrainingJobs"
) -> dict[str, str]:
    """Where a person finds the logs: the execution graph and the job's CloudWatch log streams."""
    links = {}
    if execution_arn:
        links["Execution"] = (
            f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}"
        )
    if job:
        links["Job logs"] = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252F{job_kind}"
            f"$3FlogStreamNameFilter$3D{job}"
        )
    return links
