"""A page (subject, text body, message attributes) in the JSON that incident tools accept.

- AWS Chatbot (Amazon Q Developer in chat applications) custom notifications: `version` "1.0",
  `source` "custom", `content` {textType "client-markdown", title, description, nextSteps, keywords},
  `metadata` {threadId, summary, eventType, additionalContext}. Chatbot drops any other JSON on its topic,
  so these go on their own topic (docs/runbook.md, "Subscribing to pages").
  https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html
- PagerDuty Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`): routing_key, event_action
  (trigger | acknowledge | resolve), dedup_key (at most 255 characters), payload {summary (at most 1024
  characters), source, severity (critical | error | warning | info), component, group, class,
  custom_details}. A resolve needs only routing_key, event_action and dedup_key.
  PagerDuty/developer-docs, docs/events-API-v2/02-Trigger-Events.md and 04-Resolve-Events... (see internals).

Pure functions: the routing key is passed in by the caller, which reads it from Secrets Manager or SSM.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

CHATBOT_VERSION = "1.0"
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_SUMMARY_MAX = 1024
PAGERDUTY_DEDUP_MAX = 255
# Driftline severity -> PagerDuty severity
PAGERDUTY_SEVERITY = {"page": "critical", "warning": "warning", "info": "info"}
_CHAT_EMOJI = {"page": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
_WHAT_TO_DO = ("What to do", "Runbook")


def parse_body(body: str) -> dict[str, str]:
    """The `label: value` facts of a rendered page body (the inverse of notifications.render, first line each)."""
    facts: dict[str, str] = {}
    label = None
    for line in body.splitlines():
        match = re.match(r"^([A-Z][^:]{0,60}): (.*)$", line)
        if match:
            label = match[1]
            facts[label] = match[2]
        elif label:
            facts[label] += "\n" + line
    return facts


def dedup_key(attributes: Mapping[str, str]) -> str:
    """PagerDuty's dedup_key for the page's incident: the same for every page of one incident, at most 255."""
    key = f"driftline/{attributes.get('incident') or 'unknown'}"
    if len(key) <= PAGERDUTY_DEDUP_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return key[: PAGERDUTY_DEDUP_MAX - 17] + "/" + digest


def chatbot_notification(subject: str, body: str, attributes: Mapping[str, str]) -> dict[str, Any]:
    """An AWS Chatbot custom notification for this page."""
    facts = parse_body(body)
    steps = [facts[label] for label in _WHAT_TO_DO if facts.get(label)]
    severity = attributes.get("severity", "page")
    resolved = attributes.get("action") == "resolve"
    emoji = ":white_check_mark:" if resolved else _CHAT_EMOJI.get(severity, "")
    description = "\n".join(f"*{label}:* {value}" for label, value in facts.items() if label not in _WHAT_TO_DO)
    content: dict[str, Any] = {
        "textType": "client-markdown",
        "title": f"{emoji} {subject}".strip(),
        "description": description or subject,
        "keywords": [v for v in (attributes.get("model"), attributes.get("kind"), severity) if v and v != "-"],
    }
    if steps:
        content["nextSteps"] = steps
    return {
        "version": CHATBOT_VERSION,
        "source": "custom",
        "id": dedup_key(attributes)[:255],
        "content": content,
        "metadata": {
            "threadId": attributes.get("incident", ""),
            "summary": subject,
            "eventType": attributes.get("kind", "notice"),
            "additionalContext": {k: v for k, v in attributes.items()},
        },
    }


def pagerduty_event(
    subject: str, body: str, attributes: Mapping[str, str], routing_key: str, *, source: str = "driftline"
) -> dict[str, Any]:
    """A PagerDuty Events API v2 event: trigger for a page, resolve when the page ends its incident."""
    action = "resolve" if attributes.get("action") == "resolve" else "trigger"
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(attributes)}
    if action == "resolve":
        return event
    summary = subject if len(subject) <= PAGERDUTY_SUMMARY_MAX else subject[: PAGERDUTY_SUMMARY_MAX - 1] + "…"
    model = attributes.get("model")
    event["payload"] = {
        "summary": summary,
        "source": source,
        "severity": PAGERDUTY_SEVERITY.get(attributes.get("severity", "page"), "error"),
        "component": model if model and model != "-" else "driftline",
        "group": "driftline",
        "class": attributes.get("kind", "notice"),
        "custom_details": parse_body(body),
    }
    links = [
        {"href": value, "text": label} for label, value in parse_body(body).items() if value.startswith("https://")
    ]
    if links:
        event["links"] = links
    return event
