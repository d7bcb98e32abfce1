"""ForwardPagesFunction on moto: each page reaches AWS Chatbot (its custom-notification JSON, on the chat topic)
and PagerDuty (Events API v2, posted to a local stand-in for events.pagerduty.com), one dedup key per incident."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from driftline import page_forwarding
from driftline.page_forwarding import PagerDutyRefused

from .conftest import REGION, invoke, put_config, sample

ROUTING_KEY = "R0UTINGKEY0123456789abcdef012345"
MODEL = "bank-marketing"
RUN = f"{MODEL}-upload-20261128T050000"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"


class _PagerDuty(BaseHTTPRequestHandler):
    events: list[dict] = []
    status = 202

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).events.append(body)
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        answer = {"status": "success", "message": "Event processed", "dedup_key": body.get("dedup_key")}
        self.wfile.write(json.dumps(answer if type(self).status == 202 else {"status": "invalid event"}).encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def pagerduty():
    _PagerDuty.events, _PagerDuty.status = [], 202
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PagerDuty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield _PagerDuty, f"http://127.0.0.1:{server.server_port}/v2/enqueue"
    server.shutdown()


@pytest.fixture
def forwarding(stack, monkeypatch, pagerduty):
    """A chat topic read by a queue, the routing key in Secrets Manager, PagerDuty at the local stand-in."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    chat = sns.create_topic(Name="driftline-chat")["TopicArn"]
    chat_queue = sqs.create_queue(QueueName="chat")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=chat_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=chat, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="driftline/pagerduty", SecretString=ROUTING_KEY
    )["ARN"]
    server, url = pagerduty
    monkeypatch.setenv("CHAT_TOPIC_ARN", chat)
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY_SECRET_ARN", secret)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", url)
    page_forwarding.forward_settings.cache_clear()
    page_forwarding.routing_key.cache_clear()
    yield {"chat_queue": chat_queue, "pagerduty": server}
    page_forwarding.forward_settings.cache_clear()
    page_forwarding.routing_key.cache_clear()


def deliver(pages: list[dict]) -> list[dict]:
    """What SNS hands ForwardPagesFunction for each page the on-call topic carried."""
    return [invoke("forward_pages", {"Records": [{"EventSource": "aws:sns", "Sns": page}]}) for page in pages]


def chat_messages(queue_url: str) -> list[dict]:
    sqs = boto3.client("sqs", region_name=REGION)
    found = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"]) for m in batch]
    return found


def _failed_run() -> dict:
    return {
        "model": MODEL,
        "run_id": RUN,
        "outcome": "failed",
        "failed_step": "Train the model",
        "error": "TrainingJobFailed",
        "cause": "AlgorithmError: out of memory",
    }


def test_a_failed_runs_page_reaches_chatbot_in_its_schema_and_pagerduty_as_a_trigger(stack, forwarding):
    invoke("report_run", _failed_run())

    deliver(stack.pages())

    [chat] = chat_messages(forwarding["chat_queue"])
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert "run failed at 'Train the model'" in chat["content"]["title"]
    assert "out of memory" in chat["content"]["description"]
    [event] = forwarding["pagerduty"].events
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger" and event["dedup_key"] == f"driftline/run/{RUN}"
    assert event["payload"]["severity"] == "critical" and event["payload"]["component"] == MODEL


def test_the_routing_key_can_come_from_an_ssm_securestring(stack, forwarding, monkeypatch):
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/driftline/pagerduty", Value="SSMKEY", Type="SecureString"
    )
    monkeypatch.delenv("PAGERDUTY_ROUTING_KEY_SECRET_ARN")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY_PARAMETER", "/driftline/pagerduty")
    page_forwarding.forward_settings.cache_clear()
    invoke("report_run", _failed_run())

    deliver(stack.pages())

    assert [e["routing_key"] for e in forwarding["pagerduty"].events] == ["SSMKEY"]


def test_cloudwatchs_own_alarm_notification_triggers_and_its_ok_resolves_one_incident(stack, forwarding):
    def notification(state: str) -> dict:
        message = {"AlarmName": "driftline-failed-events", "NewStateValue": state, "NewStateReason": "1 message"}
        return {"Subject": f'{state}: "driftline-failed-events" in US East', "Message": json.dumps(message)}

    deliver([notification("ALARM"), notification("OK")])

    events = forwarding["pagerduty"].events
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert {e["dedup_key"] for e in events} == {"driftline/driftline-failed-events"}


def test_pagerduty_refusing_an_event_fails_the_invocation_for_the_dead_letter_queue(stack, forwarding):
    forwarding["pagerduty"].status = 400
    invoke("report_run", _failed_run())

    with pytest.raises(PagerDutyRefused):
        deliver(stack.pages())


def test_a_flapping_alarm_is_one_pagerduty_incident_resolved_when_it_clears(stack, forwarding):
    put_config(stack, CONFIG)
    event = sample("alarm_drift.json")
    event["detail"]["alarmName"] = "driftline-bank-marketing-5xx"
    for value in ("ALARM", "OK", "ALARM", "OK"):  # flaps back within the cooldown, then clears
        event["detail"]["state"]["value"] = value
        invoke("on_alarm", event)

    deliver(stack.pages())

    events = forwarding["pagerduty"].events
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert len({e["dedup_key"] for e in events}) == 1
