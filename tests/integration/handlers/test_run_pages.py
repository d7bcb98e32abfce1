"""Pages sent about a run are recorded on its item (for `driftline run RUN_ID`); recording never costs a page."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from driftline import state

from .conftest import REGION, invoke, put_config, sample

MODEL = "bank-marketing"
RUN = f"{MODEL}-upload-20261128T050000"


def _failed() -> dict:
    return {
        "model": MODEL,
        "run_id": RUN,
        "outcome": "failed",
        "failed_step": "Train the model",
        "error": "States.TaskFailed",
        "cause": "the training job ran out of memory",
    }


def test_a_runs_failure_page_is_recorded_on_the_run(stack):
    # Given a run
    state.create_run(MODEL, RUN, trigger="upload", status="TRAINING")

    # When it fails and on-call is paged
    result = invoke("report_run", _failed())

    # Then the run's item names the page on-call got: subject, kind, severity, when, SNS message id
    [sent] = stack.pages()
    [recorded] = state.get_run(MODEL, RUN)["pages"]
    assert recorded["subject"] == sent["Subject"]
    assert recorded["message_id"] == sent["MessageId"] == result["message_id"]
    assert (recorded["kind"], recorded["severity"], recorded["action"]) == ("run-failed", "page", "trigger")
    assert recorded["at"].startswith("20")


def test_the_same_page_published_twice_within_a_minute_is_one_entry_and_a_later_one_is_another(stack):
    state.create_run(MODEL, RUN, trigger="upload", status="TRAINING")
    entry = {"subject": "[Driftline] x", "kind": "run-failed", "severity": "page", "action": "trigger"}

    assert state.record_run_page(MODEL, RUN, entry | {"at": "2026-12-01T10:00:05+00:00", "message_id": "a"})
    # a retried invocation publishes the same page again in the same minute
    assert not state.record_run_page(MODEL, RUN, entry | {"at": "2026-12-01T10:00:40+00:00", "message_id": "b"})
    assert state.record_run_page(MODEL, RUN, entry | {"at": "2026-12-01T10:07:00+00:00", "message_id": "c"})

    assert [p["message_id"] for p in state.get_run(MODEL, RUN)["pages"]] == ["a", "c"]


def test_recording_a_page_about_a_run_with_no_item_creates_no_run(stack):
    entry = {"subject": "[Driftline] x", "kind": "rollback", "at": "2026-12-01T10:00:05+00:00", "message_id": "a"}

    assert not state.record_run_page(MODEL, RUN, entry)

    assert state.get_run(MODEL, RUN) is None


def test_a_page_whose_record_fails_is_still_sent(stack, monkeypatch):
    state.create_run(MODEL, RUN, trigger="upload", status="TRAINING")

    def refused(*args, **kwargs):
        raise RuntimeError("AccessDeniedException: not authorized to perform dynamodb:UpdateItem")

    monkeypatch.setattr(state, "record_run_page", refused)

    result = invoke("report_run", _failed())

    [sent] = stack.pages()
    assert result["message_id"] == sent["MessageId"]
    assert result["status"] == "FAILED"
    assert state.get_run(MODEL, RUN)["status"] == "FAILED"


def test_a_run_whose_summary_cannot_be_sent_does_not_read_succeeded(stack):
    # Given a rolled-out run, and an on-call topic that refuses the summary
    state.create_run(MODEL, RUN, trigger="upload", status="DEPLOYED")
    boto3.client("sns", region_name=REGION).delete_topic(TopicArn=stack.topic_arn)

    # When the report step fails (the execution fails with it)
    with pytest.raises(ClientError):
        invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "succeeded"})

    # Then the run's item does not claim a success its execution did not have
    assert state.get_run(MODEL, RUN)["status"] == "DEPLOYED"


def test_a_drift_page_is_recorded_on_the_retrain_run_it_started(stack):
    put_config(stack, "name: churn\nproblem_type: binary_classification\ntarget: y\n", model="churn")
    event = sample("alarm_drift.json")
    event["detail"]["alarmName"] = "driftline-churn-drift"
    event["detail"]["state"]["value"] = "ALARM"

    outcome = invoke("on_alarm", event)

    run = outcome["retrain"]["run_id"]
    [recorded] = state.get_run("churn", run)["pages"]
    assert recorded["kind"] == "drift"
    assert "retraining started" in recorded["subject"]


def test_a_rollback_page_is_recorded_on_the_withdrawn_run(stack):
    # Given a run whose rollout failed before it planned anything
    state.create_run(MODEL, RUN, trigger="upload", status="REGISTERED")
    request = {
        "model": MODEL,
        "run_id": RUN,
        "execution": RUN,
        "plan": None,
        "failed_step": "Plan the rollout",
        "error": {"Error": "States.TaskFailed", "Cause": "boom"},
    }

    # When it is rolled back
    message_id = invoke("roll_back", request)["message_id"]

    # Then the run shows the rollback page
    [recorded] = state.get_run(MODEL, RUN)["pages"]
    assert (recorded["kind"], recorded["message_id"]) == ("rollback", message_id)
    assert "rolled back" in recorded["subject"]


def test_a_spot_fallback_page_is_recorded_on_its_run(stack):
    from .test_spot_resume import RUN as SPOT_RUN
    from .test_spot_resume import capacity_lost, start_run

    start_run(stack, resumes=1)
    invoke("on_training_state_change", capacity_lost(1))
    invoke("on_training_state_change", capacity_lost(2))

    [recorded] = state.get_run(MODEL, SPOT_RUN)["pages"]
    assert recorded["kind"] == "spot-fallback"
    assert "falls back to on-demand" in recorded["subject"]
