"""Pages and summaries to on-call through the SNS topic."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from driftline import aws
from driftline.observability import logger
from driftline.settings import settings

_SUBJECT_LIMIT = 100  # SNS rejects longer subjects


def page(subject: str, facts: Mapping[str, Any], *, severity: str = "page") -> str:
    """Publish a message on-call can act on: a one-line subject and `label: value` facts.

    Returns the SNS message id.
    """
    subject = f"[Driftline] {subject}"
    if len(subject) > _SUBJECT_LIMIT:
        subject = subject[: _SUBJECT_LIMIT - 1] + "…"
    body = render(facts)
    response = aws.client("sns").publish(
        TopicArn=settings().on_call_topic_arn,
        Subject=subject,
        Message=body,
        MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
    )
    logger.info("paged on-call", extra={"subject": subject, "severity": severity})
    return str(response["MessageId"])


def render(facts: Mapping[str, Any]) -> str:
    lines = []
    for label, value in facts.items():
        if value is None or value == "":
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value, indent=2, sort_keys=True, default=str)
        lines.append(f"{label}: {value}")
    return "\n".join(lines)


def console_links(region: str, *, execution_arn: str | None = None, job: str | None = None,
                  job_kind: str = "TrainingJobs") -> dict[str, str]:
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
