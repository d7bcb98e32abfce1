"""Training with a task token: start the job, then finish the pipeline's wait from its state change.

A training run may take several jobs. When a managed spot job ends because its capacity was lost
(`MaxWaitTimeExceeded`, or `CapacityError`), a successor job with the same request, the same
checkpoint S3 prefix and the same task token picks up from the newest checkpoint; after
`training.max_spot_resumes` successors the run falls back to on-demand (or fails, if fallback is off).
Every job is recorded with the run as an attempt; the token is completed once, by the last job.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from driftline import aws, naming, state
from driftline.notifications import console_links, page
from driftline.observability import logger, metrics
from driftline.settings import settings

TERMINAL = {"Completed", "Failed", "Stopped"}
# SageMaker reports capacity loss only as text: FailureReason starts with the error class
# ("CapacityError: Unable to provision requested ML compute capacity ...").
CAPACITY_FAILURE_PREFIXES = ("CapacityError", "InsufficientCapacityError")


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
    SecondaryStatusTransitions: list[dict[str, Any]] | None = None


class JobOutcome(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    SPOT_CAPACITY_LOST = "spot_capacity_lost"
    TIMED_OUT = "timed_out"
    STOPPED_BY_PERSON = "stopped_by_person"
    FAILED = "failed"


def classify(change: TrainingJobStateChange) -> JobOutcome:
    """What a training job's state change means for its run."""
    status, secondary = change.TrainingJobStatus, change.SecondaryStatus
    spot = bool(change.EnableManagedSpotTraining)
    if status not in TERMINAL:
        return JobOutcome.RUNNING
    if status == "Completed":
        return JobOutcome.COMPLETED
    if status == "Stopped":
        if secondary == "MaxWaitTimeExceeded" and spot:
            return JobOutcome.SPOT_CAPACITY_LOST
        if secondary == "MaxRuntimeExceeded":
            return JobOutcome.TIMED_OUT
        return JobOutcome.STOPPED_BY_PERSON
    if spot and (change.FailureReason or "").startswith(CAPACITY_FAILURE_PREFIXES):
        return JobOutcome.SPOT_CAPACITY_LOST
    return JobOutcome.FAILED


class SpotPolicy(BaseModel):
    """The run's resume budget, frozen when its first job starts."""

    max_spot_resumes: int = 3
    fallback_to_on_demand: bool = True


def start_training(task_token: str, model: str, run: str, request: dict[str, Any]) -> dict[str, Any]:
    """Create the run's first training job and park the pipeline's task token until the run's jobs end.

    A tuning request (`HyperParameterTuningJobName`) starts the run's tuning job instead (driftline.tuning).
    """
    if "HyperParameterTuningJobName" in request:
        from driftline.tuning import start_tuning

        return start_tuning(task_token, model, run, request)
    config = state.load_config(model)
    policy = (
        SpotPolicy(
            max_spot_resumes=config.training.max_spot_resumes,
            fallback_to_on_demand=config.training.fallback_to_on_demand,
        )
        if config
        else SpotPolicy()
    )
    _start_job(task_token, model, run, request, policy)
    state.update_run(model, run, training_job=request["TrainingJobName"], status="TRAINING")
    return {"job_name": request["TrainingJobName"]}


def _start_job(task_token: str, model: str, run: str, request: dict[str, Any], policy: SpotPolicy) -> None:
    job = request["TrainingJobName"]
    # The token is stored first: a job that ends at once must still find it.
    state.put_training_token(job, task_token, model, run, request=request, policy=policy.model_dump())
    try:
        aws.client("sagemaker").create_training_job(**request)
    except Exception as exc:
        # A retried invocation finds its job already created: the stored token still applies.
        if "already" not in str(exc).lower() and aws.error_code(exc) != "ResourceInUse":
            raise
        logger.info("training job already exists", extra={"job": job})


def handle_training_state_change(change: TrainingJobStateChange) -> dict[str, Any]:
    job, status = change.TrainingJobName, change.TrainingJobStatus
    outcome = classify(change)
    if outcome is JobOutcome.RUNNING:
        return {"job": job, "status": status, "action": "none"}
    claim = state.claim_training_token(job)
    if claim is None:
        # Duplicate or stale event: the token was already completed or handed on, or the job is not ours.
        logger.info("no task token to complete", extra={"job": job, "status": status})
        return {"job": job, "status": status, "action": "ignored"}
    model, run = claim["model"], claim["run_id"]
    metrics.add_dimension(name="Model", value=model)
    try:
        attempts = state.append_training_attempt(model, run, attempt_record(change, outcome))
        if outcome is JobOutcome.COMPLETED:
            return _complete(claim, change, attempts)
        if outcome is JobOutcome.SPOT_CAPACITY_LOST:
            return _resume(claim, change, attempts)
        return _fail(claim, change, outcome, attempts)
    except Exception:
        # Hand the token back so that the retried event can finish the work: a token taken and then
        # dropped leaves the pipeline waiting for a training job that already ended.
        state.put_training_token(
            job, claim["task_token"], model, run, request=claim.get("request"), policy=claim.get("policy")
        )
        raise


def attempt_record(change: TrainingJobStateChange, outcome: JobOutcome) -> dict[str, Any]:
    transitions = change.SecondaryStatusTransitions or []
    return {
        "job_name": change.TrainingJobName,
        "status": change.TrainingJobStatus,
        "secondary_status": change.SecondaryStatus,
        "outcome": outcome.value,
        "spot": bool(change.EnableManagedSpotTraining),
        # Spot interruptions the job survived in place (SageMaker restarted it on new capacity).
        "interruptions": sum(1 for t in transitions if t.get("Status") == "Interrupted"),
        "training_seconds": change.TrainingTimeInSeconds or 0,
        "billable_seconds": change.BillableTimeInSeconds or 0,
        "failure_reason": change.FailureReason,
    }


def spot_summary(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """What managed spot saved a run, and what it cost in interruptions."""
    training = sum(int(a.get("training_seconds") or 0) for a in attempts)
    billable = sum(int(a.get("billable_seconds") or 0) for a in attempts)

    def interruptions(attempt: dict[str, Any]) -> int:
        # A job that ends through capacity loss was interrupted at least once (its transitions may not say).
        lost = attempt.get("outcome") == JobOutcome.SPOT_CAPACITY_LOST
        return max(int(attempt.get("interruptions") or 0), int(lost))

    return {
        "jobs": len(attempts),
        "training_seconds": training,
        "billable_seconds": billable,
        "spot_savings_percent": round(100 * (1 - billable / training), 1) if training else 0.0,
        "interruptions": sum(interruptions(a) for a in attempts),
        "resumes": max(0, len(attempts) - 1),
        "on_demand_fallback": any(not a.get("spot") for a in attempts) and any(a.get("spot") for a in attempts),
    }


def _complete(claim: dict[str, Any], change: TrainingJobStateChange, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    model, run, job = claim["model"], claim["run_id"], change.TrainingJobName
    summary = spot_summary(attempts)
    state.update_run(model, run, training_job=job, spot=summary)
    output = {
        "job_name": job,
        "model_data_url": (change.ModelArtifacts or {}).get("S3ModelArtifacts"),
        "attempts": attempts,
        "spot": summary,
    }
    aws.client("stepfunctions").send_task_success(taskToken=claim["task_token"], output=json.dumps(output))
    metrics.add_metric(name="TrainingJobsCompleted", unit="Count", value=1)
    metrics.add_metric(name="SpotSavingsPercent", unit="Percent", value=summary["spot_savings_percent"])
    metrics.add_metric(name="SpotInterruptions", unit="Count", value=summary["interruptions"])
    metrics.add_metric(name="SpotResumes", unit="Count", value=summary["resumes"])
    metrics.add_metric(name="OnDemandFallbacks", unit="Count", value=int(summary["on_demand_fallback"]))
    return {"job": job, "status": change.TrainingJobStatus, "action": "completed", "spot": summary}


def _resume(claim: dict[str, Any], change: TrainingJobStateChange, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """Start the successor of a job whose spot capacity was lost, on the same checkpoints and token."""
    model, run, job = claim["model"], claim["run_id"], change.TrainingJobName
    policy = SpotPolicy.model_validate(claim.get("policy") or {})
    request = claim.get("request")
    if not request:
        raise ValueError(f"no stored request for training job {job}; cannot start its successor")
    capacity_losses = sum(1 for a in attempts if a["outcome"] == JobOutcome.SPOT_CAPACITY_LOST)
    on_spot = capacity_losses <= policy.max_spot_resumes
    if not on_spot and not policy.fallback_to_on_demand:
        return _fail(claim, change, JobOutcome.SPOT_CAPACITY_LOST, attempts)
    successor = on_demand(request) if not on_spot else dict(request)
    successor["TrainingJobName"] = naming.job_name(run, "train", len(attempts) + 1)
    _start_job(claim["task_token"], model, run, successor, policy)
    state.update_run(model, run, training_job=successor["TrainingJobName"])
    metrics.add_metric(name="SpotResumes", unit="Count", value=1)
    if not on_spot:
        metrics.add_metric(name="OnDemandFallbacks", unit="Count", value=1)
        page(
            f"{model}: training falls back to on-demand after {capacity_losses} spot capacity losses",
            {
                "What happened": (
                    f"Spot capacity was lost {capacity_losses} times (training.max_spot_resumes = "
                    f"{policy.max_spot_resumes}); the run goes on with an on-demand job that resumes "
                    "from the newest checkpoint."
                ),
                "Model": model,
                "Run": run,
                "Last job": f"{job} ({change.SecondaryStatus or change.FailureReason})",
                "On-demand job": successor["TrainingJobName"],
                "Cost": "on-demand is billed in full; spot savings so far are in the run's report",
                "What to do": "nothing now; if this repeats, try another training.instance_type or region",
            }
            | console_links(settings().region, job=job),
            severity="warning",
            kind="spot-fallback",
            model=model,
            run_id=run,
        )
    logger.info(
        "spot capacity lost; successor started",
        extra={"job": job, "successor": successor["TrainingJobName"], "spot": on_spot},
    )
    return {
        "job": job,
        "status": change.TrainingJobStatus,
        "action": "resumed",
        "successor": successor["TrainingJobName"],
        "spot": on_spot,
    }


def on_demand(request: dict[str, Any]) -> dict[str, Any]:
    """The same training request without managed spot (MaxWaitTimeInSeconds is spot-only)."""
    stopping = {k: v for k, v in request["StoppingCondition"].items() if k != "MaxWaitTimeInSeconds"}
    return request | {"EnableManagedSpotTraining": False, "StoppingCondition": stopping}


_FAILURES = {
    JobOutcome.TIMED_OUT: ("TrainingTimedOut", "Training job {job} reached MaxRuntimeInSeconds and was stopped."),
    JobOutcome.STOPPED_BY_PERSON: (
        "TrainingJobStopped",
        "Training job {job} was stopped by a person or another system (StopTrainingJob).",
    ),
    JobOutcome.SPOT_CAPACITY_LOST: (
        "SpotResumeExhausted",
        "Training job {job} lost its spot capacity; the run used all its resumes and "
        "training.fallback_to_on_demand is false.",
    ),
}


def _fail(
    claim: dict[str, Any], change: TrainingJobStateChange, outcome: JobOutcome, attempts: list[dict[str, Any]]
) -> dict[str, Any]:
    job = change.TrainingJobName
    if outcome is JobOutcome.FAILED:
        error, cause = "TrainingJobFailed", change.FailureReason or f"Training job {job} failed without a reason."
    else:
        error, template = _FAILURES[outcome]
        cause = template.format(job=job)
    state.update_run(claim["model"], claim["run_id"], spot=spot_summary(attempts))
    aws.client("stepfunctions").send_task_failure(taskToken=claim["task_token"], error=error, cause=cause)
    metrics.add_metric(name="TrainingJobsFailed", unit="Count", value=1)
    return {"job": job, "status": change.TrainingJobStatus, "action": "failed", "error": error}
