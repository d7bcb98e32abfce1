"""An alarm invocation that dies before its page leaves the retry its work: one retrain, one page."""

from __future__ import annotations

import boto3
import pytest
from driftline import aws

from .conftest import REGION, invoke, put_config
from .test_drift_loop import CONFIG, alarm, pipeline_runs


class Killed(BaseException):
    """The runtime ends the process: no except/finally of the handler's own runs."""


def _fail_once(monkeypatch, client, method: str) -> None:
    real = getattr(client, method)

    def failing(**kwargs):
        monkeypatch.setattr(client, method, real)
        raise Killed()

    monkeypatch.setattr(client, method, failing)


def test_a_drift_alarm_whose_page_failed_is_paged_by_the_retry_with_one_retrain(stack, monkeypatch):
    put_config(stack, CONFIG)
    # Given the first invocation opens the incident, starts the retrain and dies as it pages
    _fail_once(monkeypatch, aws.client("sns"), "publish")
    with pytest.raises(Killed):
        invoke("on_alarm", alarm("ALARM"))

    # When Lambda retries the same event
    outcome = invoke("on_alarm", alarm("ALARM"))

    # Then on-call is paged once and the run the first attempt started is the only one
    assert outcome["action"] == "paged" and outcome["retrain"]["started"] is True
    assert len(pipeline_runs(stack)) == 1 and pipeline_runs(stack) == [outcome["retrain"]["run_id"]]
    assert len(stack.pages()) == 1
    # and a true duplicate afterwards changes nothing
    assert invoke("on_alarm", alarm("ALARM"))["action"] == "none"


def test_a_retrain_that_died_before_starting_is_started_by_the_retry(stack, monkeypatch):
    put_config(stack, CONFIG)
    _fail_once(monkeypatch, aws.client("stepfunctions"), "start_execution")
    with pytest.raises(Killed):
        invoke("on_alarm", alarm("ALARM"))
    assert pipeline_runs(stack) == []

    outcome = invoke("on_alarm", alarm("ALARM"))

    assert outcome["retrain"]["started"] is True and len(pipeline_runs(stack)) == 1
    [page] = stack.pages()
    assert "retraining started" in page["Subject"]


def test_a_resolution_whose_page_failed_is_sent_by_the_retry(stack, monkeypatch):
    put_config(stack, CONFIG)
    invoke("on_alarm", alarm("ALARM"))
    _fail_once(monkeypatch, aws.client("sns"), "publish")
    with pytest.raises(Killed):
        invoke("on_alarm", alarm("OK"))

    assert invoke("on_alarm", alarm("OK"))["action"] == "resolved"
    assert invoke("on_alarm", alarm("OK"))["action"] == "none"
    subjects = [p["Subject"] for p in stack.pages()]
    assert len(subjects) == 2 and subjects[-1].endswith("drift alarm resolved")


def test_table_records_the_page_only_after_it_went_out(stack, monkeypatch):
    put_config(stack, CONFIG)
    _fail_once(monkeypatch, aws.client("sns"), "publish")
    with pytest.raises(Killed):
        invoke("on_alarm", alarm("ALARM"))

    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table)
    incident = table.get_item(Key={"pk": "ALARM#driftline-bank-marketing-drift", "sk": "INCIDENT"})["Item"]
    assert incident["status"] == "OPEN" and not incident.get("paged")
