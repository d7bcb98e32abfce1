"""Pages in the JSON that AWS Chatbot custom notifications and PagerDuty's Events API v2 accept.

The schemas below are the documented ones, written down field by field:
- AWS Chatbot custom notifications (docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html)
- PagerDuty Events API v2 (PagerDuty/developer-docs, docs/events-API-v2/02-Trigger-Events.md, resolve events)
"""

from __future__ import annotations

import jsonschema
import pytest
from driftline import page_formats
from driftline.notifications import page_attributes, render

CHATBOT_SCHEMA = {
    "type": "object",
    "required": ["version", "source", "content"],
    "properties": {
        "version": {"const": "1.0"},
        "source": {"const": "custom"},
        "id": {"type": "string"},
        "content": {
            "type": "object",
            "required": ["description"],
            "properties": {
                "textType": {"enum": ["client-markdown"]},
                "title": {"type": "string"},
                "description": {"type": "string", "minLength": 1},
                "nextSteps": {"type": "array", "items": {"type": "string"}},
                "keywords": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "metadata": {
            "type": "object",
            "properties": {
                "threadId": {"type": "string"},
                "summary": {"type": "string"},
                "eventType": {"type": "string"},
                "relatedResources": {"type": "array", "items": {"type": "string"}},
                "additionalContext": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

PAGERDUTY_TRIGGER_SCHEMA = {
    "type": "object",
    "required": ["routing_key", "event_action", "payload"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["trigger"]},
        "dedup_key": {"type": "string", "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
            "additionalProperties": False,
        },
        "links": {"type": "array", "items": {"type": "object", "required": ["href"]}},
        "images": {"type": "array"},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
    },
    "additionalProperties": False,
}

PAGERDUTY_RESOLVE_SCHEMA = {
    "type": "object",
    "required": ["routing_key", "event_action", "dedup_key"],
    "properties": {
        "routing_key": {"type": "string", "minLength": 1},
        "event_action": {"enum": ["resolve", "acknowledge"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "additionalProperties": False,
}

SUBJECT = "bank-marketing: drift alarm, retraining started"
FACTS = {
    "What happened": "driftline-bank-marketing-drift is ALARM: live traffic no longer looks like the training data.",
    "Model": "bank-marketing",
    "Drifted features": ["age: 0.412 > threshold 0.2"],
    "Runbook": "docs/runbook.md, 'driftline-<model>-drift'",
    "Execution": "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/x",
}


def _attributes(action: str = "trigger", **extra) -> dict[str, str]:
    return page_attributes(
        SUBJECT, FACTS, kind="drift", incident="driftline-bank-marketing-drift", action=action, **extra
    )


def test_every_page_carries_the_four_filter_attributes_non_empty():
    attributes = page_attributes("Driftline: failed-events alarm", {"What happened": "x"})

    assert set(attributes) >= {"model", "kind", "severity", "incident"}
    assert all(isinstance(v, str) and v for v in attributes.values())


def test_a_page_without_an_incident_has_the_same_key_on_a_retry():
    first = page_attributes(SUBJECT, FACTS, kind="run-failed")
    again = page_attributes(SUBJECT, FACTS, kind="run-failed")
    other = page_attributes(SUBJECT, FACTS | {"Run": "another"}, kind="run-failed")

    assert first["incident"] == again["incident"] != other["incident"]
    assert first["model"] == "bank-marketing"


def test_chatbot_notification_matches_the_custom_notification_schema():
    message = page_formats.chatbot_notification(SUBJECT, render(FACTS), _attributes())

    jsonschema.validate(message, CHATBOT_SCHEMA)
    assert SUBJECT in message["content"]["title"]
    assert "age: 0.412" in message["content"]["description"]
    assert message["content"]["nextSteps"] == ["docs/runbook.md, 'driftline-<model>-drift'"]


def test_pagerduty_trigger_matches_the_events_api_v2_schema():
    event = page_formats.pagerduty_event(SUBJECT, render(FACTS), _attributes(), "R0UTINGKEY")

    jsonschema.validate(event, PAGERDUTY_TRIGGER_SCHEMA)
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["component"] == "bank-marketing"
    assert event["links"][0]["href"].startswith("https://")


def test_pagerduty_resolve_carries_the_triggers_dedup_key():
    trigger = page_formats.pagerduty_event(SUBJECT, render(FACTS), _attributes(), "R0UTINGKEY")
    resolve = page_formats.pagerduty_event("resolved", "x: y", _attributes("resolve", severity="info"), "R0UTINGKEY")

    jsonschema.validate(resolve, PAGERDUTY_RESOLVE_SCHEMA)
    assert resolve["dedup_key"] == trigger["dedup_key"]


@pytest.mark.parametrize("incident", ["a" * 300, "x"])
def test_dedup_key_fits_pagerdutys_255_characters_and_stays_distinct(incident):
    key = page_formats.dedup_key({"incident": incident})

    assert 0 < len(key) <= 255
    assert key != page_formats.dedup_key({"incident": incident + "b"})


def test_a_long_subject_is_cut_to_pagerdutys_summary_limit():
    event = page_formats.pagerduty_event("s" * 2000, "x: y", _attributes(), "R0UTINGKEY")

    jsonschema.validate(event, PAGERDUTY_TRIGGER_SCHEMA)


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError):
        page_attributes(SUBJECT, FACTS, action="acknowledge-later")
