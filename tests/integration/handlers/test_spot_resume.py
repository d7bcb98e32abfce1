"""on_training_state_change with managed spot: lost capacity is resumed, never redone, never run twice."""

from __future__ import annotations

import boto3
import pytest
from driftline import state
from driftline.pipeline import run_context
from driftline.sagemaker_requests import training_request

from .conftest import REGION, invoke, put_config, sample

MODEL = "bank-marketing"
RUN = "bank-marketing-upload-20261128T050000"
CONFIG = """name: bank-marketing
problem_type: binary_classification
target: y
training:
  max_spot_resumes: {resumes}
  fallback_to_on_demand: {fallback}
"""


def job(attempt: int) -> str:
    return f"{RUN}-train-{attempt}"


def start_run(stack, resumes: int = 3, fallback: bool = True) -> dict:
    """Given a run whose first spot training job was started by the pipeline."""
    put_config(stack, CONFIG.format(resumes=resumes, fallback=str(fallback).lower()))
    state.put_run(MODEL, RUN, status="RUNNING")
    request = training_request(run_context(MODEL, RUN))
    invoke("start_training", {"task_token": "token-1", "model": MODEL, "run_id": RUN, "request": request})
    return request


def ended(
    attempt: int,
    status: str,
    secondary: str,
    reason: str | None = None,
    spot: bool = True,
    training: int = 100,
    billable: int = 30,
    interrupted_in_place: int = 0,
) -> dict:
    event = sample("training_job_completed.json")
    detail = event["detail"]
    detail.update(
        TrainingJobName=job(attempt),
        TrainingJobStatus=status,
        SecondaryStatus=secondary,
        EnableManagedSpotTraining=spot,
        TrainingTimeInSeconds=training,
        BillableTimeInSeconds=billable,
    )
    detail["SecondaryStatusTransitions"] = [{"Status": "Interrupted"}] * interrupted_in_place + [{"Status": secondary}]
    if reason:
        detail["FailureReason"] = reason
    return event


def capacity_lost(attempt: int, spot: bool = True) -> dict:
    return ended(attempt, "Stopped", "MaxWaitTimeExceeded", spot=spot)


def describe(name: str) -> dict:
    return boto3.client("sagemaker", region_name=REGION).describe_training_job(TrainingJobName=name)


def test_spot_capacity_loss_starts_a_successor_on_the_same_checkpoints(stack):
    first = start_run(stack)

    outcome = invoke("on_training_state_change", capacity_lost(1))

    assert outcome["action"] == "resumed" and outcome["successor"] == job(2)
    successor = describe(job(2))
    assert successor["CheckpointConfig"] == first["CheckpointConfig"]
    assert successor["EnableManagedSpotTraining"] is True
    assert successor["HyperParameters"] == first["HyperParameters"]
    assert state.claim_training_token(job(2))["task_token"] == "token-1"
    assert [a["outcome"] for a in state.get_run(MODEL, RUN)["attempts"]] == ["spot_capacity_lost"]


def test_duplicate_capacity_loss_event_starts_no_second_successor(stack):
    start_run(stack)
    event = capacity_lost(1)

    first = invoke("on_training_state_change", event)
    duplicate = invoke("on_training_state_change", event)

    assert first["action"] == "resumed" and duplicate["action"] == "ignored"
    names = boto3.client("sagemaker", region_name=REGION).list_training_jobs()["TrainingJobSummaries"]
    assert sorted(n["TrainingJobName"] for n in names) == [job(1), job(2)]
    assert len(state.get_run(MODEL, RUN)["attempts"]) == 1


def test_stale_event_of_an_earlier_job_changes_nothing_after_its_successor_started(stack):
    start_run(stack)
    invoke("on_training_state_change", capacity_lost(1))
    late_in_progress = ended(1, "InProgress", "Training")
    late_failure = ended(1, "Failed", "Failed", reason="CapacityError: Unable to provision requested ML compute")

    assert invoke("on_training_state_change", late_in_progress)["action"] == "none"
    assert invoke("on_training_state_change", late_failure)["action"] == "ignored"
    assert state.claim_training_token(job(2)) is not None


def test_capacity_error_failure_of_a_spot_job_is_resumed(stack):
    start_run(stack)
    event = ended(
        1, "Failed", "Failed", reason="CapacityError: Unable to provision requested ML compute capacity. Please retry."
    )

    assert invoke("on_training_state_change", event)["successor"] == job(2)


def test_several_interruptions_then_completion_reports_savings_resumes_and_interruptions(stack):
    start_run(stack)
    invoke("on_training_state_change", capacity_lost(1))
    invoke("on_training_state_change", capacity_lost(2))

    done = invoke(
        "on_training_state_change",
        ended(3, "Completed", "Completed", training=200, billable=60, interrupted_in_place=1),
    )

    assert done["action"] == "completed"
    assert done["spot"] == {
        "jobs": 3,
        "training_seconds": 400,
        "billable_seconds": 120,
        "spot_savings_percent": 70.0,
        "interruptions": 3,
        "resumes": 2,
        "on_demand_fallback": False,
    }
    run = state.get_run(MODEL, RUN)
    assert [a["job_name"] for a in run["attempts"]] == [job(1), job(2), job(3)]
    assert run["spot"]["resumes"] == 2


def test_exhausted_resume_budget_falls_back_to_on_demand_and_pages(stack):
    start_run(stack, resumes=1)
    invoke("on_training_state_change", capacity_lost(1))

    outcome = invoke("on_training_state_change", capacity_lost(2))

    assert outcome == {"job": job(2), "status": "Stopped", "action": "resumed", "successor": job(3), "spot": False}
    fallback = describe(job(3))
    assert fallback["EnableManagedSpotTraining"] is False
    assert "MaxWaitTimeInSeconds" not in fallback["StoppingCondition"]
    pages = stack.pages()
    assert len(pages) == 1
    assert "falls back to on-demand after 2 spot capacity losses" in pages[0]["Subject"]
    assert job(3) in pages[0]["Message"]
    assert pages[0]["MessageAttributes"]["kind"]["Value"] == "spot-fallback"


def test_exhausted_resume_budget_without_fallback_fails_the_run(stack):
    start_run(stack, resumes=0, fallback=False)

    outcome = invoke("on_training_state_change", capacity_lost(1))

    assert outcome["action"] == "failed" and outcome["error"] == "SpotResumeExhausted"
    assert state.claim_training_token(job(2)) is None


@pytest.mark.parametrize(
    ("status", "secondary", "reason", "error"),
    [
        ("Failed", "Failed", "AlgorithmError: ValueError: could not convert string to float", "TrainingJobFailed"),
        ("Stopped", "Stopped", None, "TrainingJobStopped"),
        ("Stopped", "MaxRuntimeExceeded", None, "TrainingTimedOut"),
    ],
    ids=["real-error", "stopped-by-a-person", "max-runtime"],
)
def test_endings_that_are_not_capacity_loss_fail_the_run_without_a_successor(stack, status, secondary, reason, error):
    start_run(stack)

    outcome = invoke("on_training_state_change", ended(1, status, secondary, reason=reason))

    assert outcome["action"] == "failed" and outcome["error"] == error
    assert state.claim_training_token(job(2)) is None


def test_capacity_error_of_an_on_demand_job_is_a_failure(stack):
    start_run(stack)
    event = ended(1, "Failed", "Failed", reason="CapacityError: Unable to provision", spot=False)

    assert invoke("on_training_state_change", event)["error"] == "TrainingJobFailed"
