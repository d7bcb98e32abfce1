"""Pages from the on-call topic, forwarded in the formats incident tools accept (ForwardPagesFunction).

The on-call topic carries the readable text (e-mail) with message attributes. This subscriber turns each
page into
- an AWS Chatbot custom notification on the chat topic (Chatbot drops any message not in its schema, so
  it gets a topic of its own), and/or
- a PagerDuty Events API v2 event (trigger, or resolve when the page ends its incident; dedup_key from the
  page's `incident`), POSTed with the routing key read from Secrets Manager or an SSM SecureString: the
  key is never in the function's environment or in a message, only its ARN / parameter name is.
CloudWatch's own alarm notifications on the topic (the stack alarm's direct action, JSON without message
attributes) are forwarded too: the alarm name is the incident, OK resolves it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cache
from typing import Any

from driftline import aws, page_formats
from driftline.errors import DriftlineError
from driftline.observability import logger

PAGERDUTY_TIMEOUT_SECONDS = 10


class PagerDutyRefused(DriftlineError):
    """PagerDuty answered 4xx (not 429) to an event: retrying the same event cannot help."""


class PagerDutyUnavailable(DriftlineError):
    """PagerDuty answered 429/5xx or could not be reached: the invocation fails and is retried."""


@dataclass(frozen=True)
class ForwardSettings:
    """The function's own environment (template.yaml): a frozen record, no model to build at each cold start."""

    chat_topic_arn: str = ""
    pagerduty_routing_key_secret_arn: str = ""
    pagerduty_routing_key_parameter: str = ""
    pagerduty_events_url: str = page_formats.PAGERDUTY_URL


@cache
def forward_settings() -> ForwardSettings:
    names = {
        "chat_topic_arn": "CHAT_TOPIC_ARN",
        "pagerduty_routing_key_secret_arn": "PAGERDUTY_ROUTING_KEY_SECRET_ARN",
        "pagerduty_routing_key_parameter": "PAGERDUTY_ROUTING_KEY_PARAMETER",
        "pagerduty_events_url": "PAGERDUTY_EVENTS_URL",
    }
    return ForwardSettings(**{field: os.environ[var] for field, var in names.items() if os.environ.get(var)})


@dataclass(frozen=True)
class Page:
    """A page as read from its SNS record (every part already made a string there)."""

    subject: str
    body: str
    attributes: dict[str, str]


def page_of(sns: dict[str, Any]) -> Page:
    """A page from an SNS notification record's `Sns` part (Lambda's SNS event)."""
    subject = str(sns.get("Subject") or "")
    body = str(sns.get("Message") or "")
    attributes = {name: str(value.get("Value", "")) for name, value in (sns.get("MessageAttributes") or {}).items()}
    if "incident" in attributes:
        return Page(subject=subject, body=body, attributes=attributes)
    return _cloudwatch_alarm_page(subject, body)


def _cloudwatch_alarm_page(subject: str, body: str) -> Page:
    """CloudWatch's alarm notification (JSON, no attributes): incident = alarm name, OK resolves it."""
    try:
        alarm = json.loads(body)
    except ValueError:
        alarm = {}
    if not isinstance(alarm, dict):
        alarm = {}
    name = str(alarm.get("AlarmName") or "unknown-alarm")
    state = str(alarm.get("NewStateValue") or "ALARM")
    facts = {
        "What happened": f"{name} is {state}",
        "Reason": alarm.get("NewStateReason"),
        "Description": alarm.get("AlarmDescription"),
    }
    text = "\n".join(f"{k}: {v}" for k, v in facts.items() if v)
    attributes = {
        "model": "-",
        "kind": "alarm",
        "severity": "info" if state == "OK" else "page",
        "incident": name,
        "action": "resolve" if state == "OK" else "trigger",
    }
    return Page(subject=subject or f"{name} is {state}", body=text, attributes=attributes)


def forward(sns: dict[str, Any]) -> dict[str, Any]:
    """Forward one page to every configured tool; returns what was done."""
    settings = forward_settings()
    page = page_of(sns)
    done: dict[str, Any] = {"incident": page.attributes.get("incident"), "action": page.attributes.get("action")}
    if settings.chat_topic_arn:
        message = page_formats.chatbot_notification(page.subject, page.body, page.attributes)
        response = aws.client("sns").publish(
            TopicArn=settings.chat_topic_arn,
            Message=json.dumps(message),
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in page.attributes.items() if v},
        )
        done["chat_message_id"] = response["MessageId"]
    if settings.pagerduty_routing_key_secret_arn or settings.pagerduty_routing_key_parameter:
        event = page_formats.pagerduty_event(page.subject, page.body, page.attributes, routing_key())
        done["pagerduty"] = _post(settings.pagerduty_events_url, event)
        done["dedup_key"] = event["dedup_key"]
    logger.info("page forwarded", extra={k: v for k, v in done.items() if k != "pagerduty"})
    return done


@cache
def routing_key() -> str:
    """The PagerDuty integration's routing key, read once per execution environment."""
    settings = forward_settings()
    if settings.pagerduty_routing_key_secret_arn:
        secret = aws.client("secretsmanager").get_secret_value(SecretId=settings.pagerduty_routing_key_secret_arn)
        return str(secret["SecretString"]).strip()
    parameter = aws.client("ssm").get_parameter(Name=settings.pagerduty_routing_key_parameter, WithDecryption=True)
    return str(parameter["Parameter"]["Value"]).strip()


def _post(url: str, event: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 (the URL is the stack's PagerDutyEventsUrl, https)
        url, data=json.dumps(event).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=PAGERDUTY_TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = json.loads(response.read() or b"{}")
            return {"status": response.status, "message": answer.get("message"), "dedup_key": answer.get("dedup_key")}
    except urllib.error.HTTPError as error:
        detail = error.read()[:500].decode(errors="replace")
        if error.code == 429 or error.code >= 500:
            raise PagerDutyUnavailable(f"PagerDuty answered {error.code}: {detail}") from None
        raise PagerDutyRefused(f"PagerDuty refused the event ({error.code}): {detail}") from None
    except (urllib.error.URLError, TimeoutError) as error:
        raise PagerDutyUnavailable(f"PagerDuty could not be reached: {error}") from None
