"""on_training_state_change: completes or fails the pipeline's task token exactly once."""

import pytest
from driftline import state

from .conftest import invoke, sample

JOB = "bank-marketing-upload-20261128T050000-train-1"


def test_completed_job_completes_the_stored_token_once(stack):
    state.put_training_token(JOB, "token-1", "bank-marketing", "bank-marketing-upload-20261128T050000")
    state.put_run("bank-marketing", "bank-marketing-upload-20261128T050000", status="TRAINING")
    event = sample("training_job_completed.json")

    first = invoke("on_training_state_change", event)
    duplicate = invoke("on_training_state_change", event)

    assert first["action"] == "completed"
    assert duplicate["action"] == "ignored"
    run = state.get_run("bank-marketing", "bank-marketing-upload-20261128T050000")
    assert [a["billable_seconds"] for a in run["attempts"]] == [162]
    assert run["spot"]["spot_savings_percent"] == 70.0


def test_failed_job_fails_the_token_with_its_reason(stack):
    state.put_training_token(JOB, "token-1", "bank-marketing", "bank-marketing-upload-20261128T050000")

    outcome = invoke("on_training_state_change", sample("training_job_failed.json"))

    assert outcome == {"job": JOB, "status": "Failed", "action": "failed", "error": "TrainingJobFailed"}


def test_event_for_a_job_driftline_did_not_start_is_ignored(stack):
    event = sample("training_job_completed.json")
    event["detail"]["TrainingJobName"] = "someone-elses-job"

    assert invoke("on_training_state_change", event)["action"] == "ignored"


def test_in_progress_event_changes_nothing(stack):
    state.put_training_token(JOB, "token-1", "bank-marketing", "bank-marketing-upload-20261128T050000")
    event = sample("training_job_completed.json")
    event["detail"]["TrainingJobStatus"] = "InProgress"

    assert invoke("on_training_state_change", event)["action"] == "none"
    assert state.claim_training_token(JOB) is not None


def test_a_failure_that_could_not_be_reported_is_reported_by_the_retry(stack, monkeypatch):
    # Given the pipeline cannot be told at first (Step Functions throttles SendTaskFailure)
    from botocore.exceptions import ClientError
    from driftline import aws

    run = "bank-marketing-upload-20261128T050000"
    state.put_training_token(JOB, "token-1", "bank-marketing", run)
    state.put_run("bank-marketing", run, status="TRAINING")
    sfn = aws.client("stepfunctions")
    real = sfn.send_task_failure

    def throttled(**kwargs):
        monkeypatch.setattr(sfn, "send_task_failure", real)
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "SendTaskFailure")

    monkeypatch.setattr(sfn, "send_task_failure", throttled)
    event = sample("training_job_failed.json")
    with pytest.raises(ClientError):
        invoke("on_training_state_change", event)

    # When the event is retried, then the failure reaches the pipeline and the job is recorded once
    assert invoke("on_training_state_change", event)["action"] == "failed"
    assert [a["job_name"] for a in state.get_run("bank-marketing", run)["attempts"]] == [JOB]
