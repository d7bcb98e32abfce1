"""A failed run's page says why in the job's own words, never as a dump of the request."""

from __future__ import annotations

import json

from driftline import state

from .conftest import invoke

MODEL = "bank-marketing"
RUN = f"{MODEL}-upload-20261128T050000"
JOB = f"{RUN}-preprocess"
REASON = "AlgorithmError: incoming/bank-marketing/part-002.csv, line 7: 9 fields, the header has 8 (ragged-row)"


def _described_failed_job() -> str:
    """What a failed createProcessingJob.sync task gives as Cause: the job's Describe output as JSON."""
    inputs = [{"InputName": f"input-{i}", "S3Input": {"S3Uri": f"s3://bucket/{'x' * 200}/{i}"}} for i in range(20)]
    return json.dumps(
        {
            "ProcessingJobName": JOB,
            "ProcessingJobStatus": "Failed",
            "FailureReason": REASON,
            "ProcessingInputs": inputs,
            "AppSpecification": {"ImageUri": "image"},
        }
    )


def _failed(cause: str) -> dict:
    return {
        "model": MODEL,
        "run_id": RUN,
        "outcome": "failed",
        "failed_step": "Preprocess the data",
        "error": "States.TaskFailed",
        "cause": cause,
    }


def test_a_failed_job_pages_its_own_failure_reason_and_name(stack):
    # When a run fails in its preprocessing job
    invoke("report_run", _failed(_described_failed_job()))

    # Then the page names the step, the job and the job's reason, and carries no request dump
    [page] = stack.pages()
    message = page["Message"]
    assert "Preprocess the data" in page["Subject"]
    assert REASON in message and JOB in message
    assert "ProcessingInputs" not in message and "x" * 200 not in message


def test_a_cause_that_is_not_a_job_is_kept_short(stack):
    invoke("report_run", _failed("Lambda.Unknown: " + "the function crashed " * 200))

    [page] = stack.pages()
    assert "the function crashed" in page["Message"]
    assert len(page["Message"]) < 2500


def test_a_processing_jobs_own_exit_message_is_the_why(stack):
    # A processing job's FailureReason is SageMaker's generic text; what the job wrote is its ExitMessage
    cause = json.dumps(
        {
            "ProcessingJobName": JOB,
            "ProcessingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: See job logs for more information",
            "ExitMessage": REASON,
        }
    )

    invoke("report_run", _failed(cause))

    [page] = stack.pages()
    assert f"Why: {REASON}" in page["Message"]


def test_a_failed_runs_page_carries_the_attributes_subscribers_filter_on(stack):
    # When a run fails
    invoke("report_run", _failed("Lambda.Unknown: boom"))

    # Then the page's SNS message attributes name the model, what happened, how bad and the incident
    [page] = stack.pages()
    attributes = {name: value["Value"] for name, value in page["MessageAttributes"].items()}
    assert attributes == {
        "model": MODEL,
        "kind": "run-failed",
        "severity": "page",
        "incident": f"run/{RUN}",
        "action": "trigger",
    }


def test_a_failed_runs_page_says_where_its_report_is_and_how_to_fetch_it(stack):
    invoke("report_run", _failed("Lambda.Unknown: boom"))

    [page] = stack.pages()
    report = f"s3://{stack.artifact_bucket}/{MODEL}/runs/{RUN}/report.html"
    assert f"Report: {report} (fetch: driftline report {RUN} -o report.html)" in page["Message"]


def test_a_succeeded_runs_summary_says_where_its_report_is(stack):
    invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "succeeded"})

    [page] = stack.pages()
    assert f"Report: s3://{stack.artifact_bucket}/{MODEL}/runs/{RUN}/report.html" in page["Message"]


def test_a_rollout_held_because_the_model_is_paused_stays_held_when_the_pipeline_reports(stack):
    state.put_run(MODEL, RUN, trigger="upload", status="HELD", held_because="paused by alice")

    outcome = invoke(
        "report_run",
        {
            "model": MODEL,
            "run_id": RUN,
            "outcome": "failed",
            "failed_step": "Roll out the candidate",
            "error": "CandidateRolledBack",
            "cause": "held",
        },
    )

    assert outcome["status"] == "HELD"
    assert state.get_run(MODEL, RUN)["status"] == "HELD"
    assert stack.pages() == []
