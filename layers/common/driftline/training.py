"""Training with a task token: start the job, then finish the pipeline's wait from its state change."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from driftline import aws, state
from driftline.observability import logger, metrics

TERMINAL = {"Completed", "Failed", "Stopped"}


class TrainingJobStateChange(BaseModel):
    """The fields of `SageMaker Training Job State Change` detail that Driftline uses."""

    model_config = ConfigDict(extra="ignore")

    TrainingJobName: str
    TrainingJobStatus: str
    SecondaryStatus: str | None = None
    FailureReason: str | None = None
    ModelArtifacts: dict[str, Any] | None = None
    TrainingTimeInSeconds: int | None = None
    BillableTimeInSeconds: int | None = None
    EnableManagedSpotTraining: bool | None = None


def start_training(task_token: str, model: str, run: str, request: dict[str, Any]) -> dict[str, Any]:
    """Create the training job and park the pipeline's task token until the job ends."""
    job = request["TrainingJobName"]
    # The token is stored first: a job that ends at once must still find it.
    state.put_training_token(job, task_token, model, run)
    try:
        aws.client("sagemaker").create_training_job(**request)
    except Exception as exc:
        # A retried invocation finds its job already created: the stored token still applies.
        if "already" not in str(exc).lower() and aws.error_code(exc) != "ResourceInUse":
            raise
        logger.info("training job already exists", extra={"job": job})
    state.update_run(model, run, training_job=job, status="TRAINING")
    return {"job_name": job}


def handle_training_state_change(change: TrainingJobStateChange) -> dict[str, Any]:
    status = change.TrainingJobStatus
    job = change.TrainingJobName
    if status not in TERMINAL:
        return {"job": job, "status": status, "action": "none"}
    claim = state.claim_training_token(job)
    if claim is None:
        # Duplicate or stale event: the token was already completed, or the job is not ours.
        logger.info("no task token to complete", extra={"job": job, "status": status})
        return {"job": job, "status": status, "action": "ignored"}
    sfn = aws.client("stepfunctions")
    attempt = {
        "job_name": job,
        "status": status,
        "training_seconds": change.TrainingTimeInSeconds,
        "billable_seconds": change.BillableTimeInSeconds,
    }
    state.update_run(claim["model"], claim["run_id"], last_training_attempt=attempt)
    if status == "Completed":
        output = {
            "job_name": job,
            "model_data_url": (change.ModelArtifacts or {}).get("S3ModelArtifacts"),
            "attempts": [attempt],
        }
        sfn.send_task_success(taskToken=claim["task_token"], output=json.dumps(output))
        metrics.add_metric(name="TrainingJobsCompleted", unit="Count", value=1)
        return {"job": job, "status": status, "action": "completed"}
    if status == "Stopped":
        error, cause = "TrainingJobStopped", f"Training job {job} was stopped before it finished."
    else:
        error, cause = "TrainingJobFailed", change.FailureReason or f"Training job {job} failed without a reason."
    sfn.send_task_failure(taskToken=claim["task_token"], error=error, cause=cause)
    metrics.add_metric(name="TrainingJobsFailed", unit="Count", value=1)
    return {"job": job, "status": status, "action": "failed", "error": error}
