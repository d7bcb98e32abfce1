"""Automatic model tuning: a HyperParameterTuningJob in place of the run's one training job.

The pipeline waits on tuning as it waits on training: `start_training` creates the tuning job and parks
the task token under the tuning job's name; `SageMaker HyperParameter Tuning Job State Change` reaches
`on_training_state_change`, which records the trials with the run and completes the token with the best
trial's model (the same output shape as a training job's), or fails it with the reason. Every trial is a
managed spot training job with checkpoints, built from the same request as the plain training job.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from driftline import aws, naming, state
from driftline.observability import logger, metrics
from driftline.training import SpotPolicy, attempt_record, classify, spot_summary

if TYPE_CHECKING:  # planning a tuning job loads them (pipeline); a tuning job's state change needs no config
    from driftline.sagemaker_requests import RunContext

TUNING_NAME_LIMIT = 32  # HyperParameterTuningJobName: 1-32 characters, the prefix of every trial's name
TERMINAL = {"Completed", "Failed", "Stopped"}
TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"
# HyperParameterTrainingJobDefinition takes these fields of a CreateTrainingJob request as they are.
DEFINITION_FIELDS = (
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "VpcConfig",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
)
MAX_TRIALS_DESCRIBED = 100
MAX_WARM_START_CHANGES = 10  # tuned-to-static plus changed static values between a warm start's parent and child


def tuning_job_name(run: str) -> str:
    """A tuning job name for the run within SageMaker's 32 characters (deterministic, like every job name)."""
    name = naming.sanitise(f"{run}-hpo")
    if len(name) <= TUNING_NAME_LIMIT:
        return name
    digest = hashlib.sha1(run.encode()).hexdigest()[:10]
    keep = TUNING_NAME_LIMIT - len(digest) - len("--hpo")
    return f"{naming.sanitise(run)[:keep].rstrip('-')}-{digest}-hpo"


def _ranges(ctx: RunContext) -> dict[str, list[dict[str, Any]]]:
    tuning = ctx.config.training.tuning
    assert tuning is not None
    integer: list[dict[str, Any]] = []
    continuous: list[dict[str, Any]] = []
    categorical: list[dict[str, Any]] = []
    for name, spec in sorted(tuning.ranges.items()):
        kind = spec.kind
        if kind == "categorical":
            # Script mode reads JSON-encoded values, as the SageMaker SDK encodes a framework's categorical range.
            categorical.append({"Name": name, "Values": [json.dumps(v) for v in spec.values or []]})
            continue
        low, high = (int(spec.min or 0), int(spec.max or 0)) if kind == "integer" else (spec.min, spec.max)
        entry = {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": spec.scaling}
        (integer if kind == "integer" else continuous).append(entry)
    return {
        "IntegerParameterRanges": integer,
        "ContinuousParameterRanges": continuous,
        "CategoricalParameterRanges": categorical,
    }


def tuning_request(ctx: RunContext, parent_tuning_job: str | None = None) -> dict[str, Any]:
    """CreateHyperParameterTuningJob for the run: the plain training request as the trials' definition."""
    tuning = ctx.config.training.tuning
    if tuning is None:
        raise ValueError(f"model '{ctx.model}' has no training.tuning")
    from driftline.sagemaker_requests import training_request

    base = training_request(ctx)
    eval_metric = str(ctx.config.xgboost_hyperparameters()["eval_metric"])
    algorithm = base["AlgorithmSpecification"]
    definition: dict[str, Any] = {k: base[k] for k in DEFINITION_FIELDS if k in base}
    definition |= {
        "AlgorithmSpecification": {
            "TrainingImage": algorithm["TrainingImage"],
            "TrainingInputMode": algorithm["TrainingInputMode"],
            "MetricDefinitions": algorithm["MetricDefinitions"],
        },
        # A hyperparameter is static or tuned, never both (SageMaker refuses the request otherwise).
        "StaticHyperParameters": {k: v for k, v in base["HyperParameters"].items() if k not in tuning.ranges},
        # Every trial checkpoints under this prefix; SageMaker keeps each trial's checkpoints apart (below).
        "CheckpointConfig": base["CheckpointConfig"] | {"S3Uri": ctx.artifacts("checkpoints/tuning/")},
    }
    limits: dict[str, int] = {
        "MaxNumberOfTrainingJobs": tuning.max_jobs,
        "MaxParallelTrainingJobs": tuning.max_parallel_jobs,
    }
    if tuning.max_runtime_seconds:
        limits["MaxRuntimeInSeconds"] = tuning.max_runtime_seconds
    config: dict[str, Any] = {
        "Strategy": tuning.strategy,
        "HyperParameterTuningJobObjective": {
            "Type": tuning.objective_direction(eval_metric),
            "MetricName": tuning.objective_metric(eval_metric),
        },
        "ResourceLimits": limits,
        "ParameterRanges": _ranges(ctx),
        # The API's values are `Off` and `Auto` (botocore's TrainingJobEarlyStoppingType enum); its prose says OFF.
        "TrainingJobEarlyStoppingType": "Auto" if tuning.early_stopping else "Off",
    }
    if tuning.strategy == "Hyperband":
        rounds = int(ctx.config.xgboost_hyperparameters()["num_round"])
        band = tuning.hyperband
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": band.min_resource if band else 1,
                "MaxResource": band.max_resource if band else rounds,
            }
        }
    if tuning.random_seed is not None:
        config["RandomSeed"] = tuning.random_seed
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": tuning_job_name(ctx.run_id),
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
        "Tags": ctx.tags(),
    }
    if parent_tuning_job:
        # Each run trains on its own split (new uploads, new S3 prefixes): TransferLearning, never
        # IdenticalDataAndAlgorithm, which requires the parents' input data (the enum's values as the API spells them).
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent_tuning_job}],
            "WarmStartType": "TransferLearning",
        }
    return request


def warm_start_parent(ctx: RunContext) -> str | None:
    """The production model's tuning job, when warm start is on, it tuned for the same objective and the
    hyperparameters changed no more than warm start allows (`warm_start_problem`)."""
    tuning = ctx.config.training.tuning
    if tuning is None or not tuning.warm_start:
        return None
    production = state.get_production(ctx.model)
    run = state.get_run(ctx.model, production["run_id"]) if production else None
    previous = (run or {}).get("tuning") or {}
    eval_metric = str(ctx.config.xgboost_hyperparameters()["eval_metric"])
    if previous.get("status") != "Completed" or previous.get("objective") != tuning.objective_metric(eval_metric):
        return None
    if not previous.get("job"):
        return None
    problem = warm_start_problem(previous.get("hyperparameters"), hyperparameter_signature(tuning_request(ctx)))
    if problem:
        logger.info("tuning starts cold", extra={"parent": previous["job"], "why": problem})
        return None
    return str(previous["job"])


_RANGE_KINDS = (
    ("integer", "IntegerParameterRanges"),
    ("continuous", "ContinuousParameterRanges"),
    ("categorical", "CategoricalParameterRanges"),
)


def hyperparameter_signature(request: dict[str, Any]) -> dict[str, Any]:
    """What warm start compares between a parent tuning job and its child: the static values, and each tuned
    hyperparameter's type (with a categorical range's values)."""
    ranges = request["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
    tuned = {
        item["Name"]: {"type": kind, "values": list(item.get("Values") or [])}
        for kind, key in _RANGE_KINDS
        for item in ranges.get(key) or []
    }
    return {"static": dict(request["TrainingJobDefinition"].get("StaticHyperParameters") or {}), "tuned": tuned}


def warm_start_problem(parent: dict[str, Any] | None, child: dict[str, Any]) -> str | None:
    """Why SageMaker would refuse `child` as a warm start of `parent` (None: it accepts it).

    SageMaker's warm start restrictions: the number of static plus tuned hyperparameters stays the same; a
    hyperparameter's type (continuous, integer, categorical) does not change; tuned-to-static changes plus
    changed static values are at most 10, each value of a categorical counting once (AWS, "Run a Warm Start
    Hyperparameter Tuning Job", Warm Start Tuning Restrictions). A parent recorded without its
    hyperparameters is not used (nothing to compare)."""
    if not parent:
        return "the parent tuning job's hyperparameters were not recorded"
    before = len(parent["static"]) + len(parent["tuned"])
    after = len(child["static"]) + len(child["tuned"])
    if before != after:
        return f"{after} static plus tuned hyperparameters instead of the parent's {before}"
    for name, spec in child["tuned"].items():
        old = parent["tuned"].get(name)
        if old is not None and old["type"] != spec["type"]:
            return f"{name} is tuned as {spec['type']} instead of the parent's {old['type']}"
    changes = 0
    for name, old in parent["tuned"].items():
        if name in child["static"]:
            changes += len(old["values"]) if old["type"] == "categorical" else 1
    # A changed static value counts 2 in the guide's example (red to blue); counted so for every value, the
    # rule errs towards a cold start, which SageMaker always accepts.
    changes += 2 * sum(1 for name, value in child["static"].items() if parent["static"].get(name, value) != value)
    if changes > MAX_WARM_START_CHANGES:
        return f"{changes} hyperparameter changes since the parent (SageMaker allows {MAX_WARM_START_CHANGES})"
    return None


def start_tuning(task_token: str, model: str, run: str, request: dict[str, Any]) -> dict[str, Any]:
    job = request["HyperParameterTuningJobName"]
    # The token is stored first: a tuning job that ends at once must still find it.
    state.put_training_token(job, task_token, model, run, policy=SpotPolicy().model_dump() | {"tuning": True})
    try:
        aws.client("sagemaker").create_hyper_parameter_tuning_job(**request)
    except Exception as exc:
        # A retried invocation finds its tuning job already created: the stored token still applies.
        if aws.error_code(exc) != "ResourceInUse" and "already exists" not in str(exc).lower():
            raise
        logger.info("tuning job already exists", extra={"tuning_job": job})
    objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    parent = (request.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs") or [{}]
    state.update_run(
        model,
        run,
        status="TUNING",
        tuning={
            "job": job,
            "status": "InProgress",
            "strategy": request["HyperParameterTuningJobConfig"]["Strategy"],
            "objective": objective["MetricName"],
            "objective_type": objective["Type"],
            "warm_start_parent": parent[0].get("HyperParameterTuningJobName"),
            "hyperparameters": hyperparameter_signature(request),  # what a later warm start is compared with
        },
    )
    return {"tuning_job": job}


class TuningJobStateChange(BaseModel):
    """The fields of `SageMaker HyperParameter Tuning Job State Change` detail that Driftline uses."""

    model_config = ConfigDict(extra="ignore")

    HyperParameterTuningJobName: str
    HyperParameterTuningJobStatus: str
    FailureReason: str | None = None
    BestTrainingJob: dict[str, Any] | None = None
    TrainingJobStatusCounters: dict[str, Any] | None = None
    ObjectiveStatusCounters: dict[str, Any] | None = None


class TrialsFailed(Exception):
    """The tuning job ended without a trial that reported the objective."""


def handle_tuning_state_change(change: TuningJobStateChange) -> dict[str, Any]:
    job, status = change.HyperParameterTuningJobName, change.HyperParameterTuningJobStatus
    if status not in TERMINAL:
        return {"tuning_job": job, "status": status, "action": "none"}
    claim = state.claim_training_token(job)
    if claim is None:
        logger.info("no task token to complete", extra={"tuning_job": job, "status": status})
        return {"tuning_job": job, "status": status, "action": "ignored"}
    model, run = claim["model"], claim["run_id"]
    metrics.add_dimension(name="Model", value=model)
    try:
        change = described(change)
        trials = list_trials(job)
        best = (change.BestTrainingJob or {}).get("TrainingJobName") if status == "Completed" else None
        record = _tuning_record(model, run, change, trials, best)
        if best is None:
            return _fail(claim, change, trials, record)
        return _complete(claim, change, trials, record, best)
    except Exception:
        state.put_training_token(job, claim["task_token"], model, run, policy=claim.get("policy"))
        raise


def described(change: TuningJobStateChange) -> TuningJobStateChange:
    """The event with what only DescribeHyperParameterTuningJob says: the best trial and the failure reason.

    A tuning job's state-change event carries its name, status, training job definition, status counters and
    tags, and neither `BestTrainingJob` nor `FailureReason` (the SageMaker event reference's example; the
    training and transform events do carry FailureReason)."""
    job = aws.client("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=change.HyperParameterTuningJobName
    )
    return change.model_copy(
        update={
            "BestTrainingJob": job.get("BestTrainingJob") or change.BestTrainingJob,
            "FailureReason": job.get("FailureReason") or change.FailureReason,
            "TrainingJobStatusCounters": job.get("TrainingJobStatusCounters") or change.TrainingJobStatusCounters,
            "ObjectiveStatusCounters": job.get("ObjectiveStatusCounters") or change.ObjectiveStatusCounters,
        }
    )


def list_trials(tuning_job: str) -> list[dict[str, Any]]:
    """Every trial of the tuning job: name, status, tuned values and objective (oldest first)."""
    sagemaker = aws.client("sagemaker")
    summaries: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_job, MaxResults=100, **({"NextToken": token} if token else {})
        )
        summaries += page.get("TrainingJobSummaries") or []
        token = page.get("NextToken")
        if not token:
            break
    trials = []
    for summary in sorted(summaries, key=lambda s: str(s.get("CreationTime") or "")):
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        trials.append(
            {
                "job_name": summary["TrainingJobName"],
                "status": summary.get("TrainingJobStatus"),
                "params": {k: _plain(v) for k, v in (summary.get("TunedHyperParameters") or {}).items()},
                "objective": final.get("Value"),
                "objective_status": summary.get("ObjectiveStatus"),
                "failure_reason": (summary.get("FailureReason") or None),
            }
        )
    return trials


def _plain(value: str) -> str:
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return value
    return str(decoded)


def _tuning_record(
    model: str, run: str, change: TuningJobStateChange, trials: list[dict[str, Any]], best: str | None
) -> dict[str, Any]:
    previous = (state.get_run(model, run) or {}).get("tuning") or {}
    return previous | {
        "job": change.HyperParameterTuningJobName,
        "status": change.HyperParameterTuningJobStatus,
        "failure_reason": change.FailureReason,
        "best_training_job": best,
        "trials": trials,
        "counters": change.TrainingJobStatusCounters or {},
    }


def _trial_attempts(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each trial as an attempt (spot time and interruptions), from DescribeTrainingJob."""
    from driftline.training import TrainingJobStateChange

    sagemaker = aws.client("sagemaker")
    attempts = []
    for trial in trials[:MAX_TRIALS_DESCRIBED]:
        described = sagemaker.describe_training_job(TrainingJobName=trial["job_name"])
        change = TrainingJobStateChange.model_validate(described)
        attempts.append(attempt_record(change, classify(change)) | {"model_data_url": _artifact(described)})
    return attempts


def _artifact(described: dict[str, Any]) -> str | None:
    return (described.get("ModelArtifacts") or {}).get("S3ModelArtifacts")


def _complete(
    claim: dict[str, Any],
    change: TuningJobStateChange,
    trials: list[dict[str, Any]],
    record: dict[str, Any],
    best: str,
) -> dict[str, Any]:
    model, run = claim["model"], claim["run_id"]
    attempts = _trial_attempts(trials)
    best_attempt = next((a for a in attempts if a["job_name"] == best), None)
    if best_attempt is None:  # more trials than described: describe the best on its own
        best_attempt = _trial_attempts([{"job_name": best}])[0]
    summary = spot_summary(attempts)
    best_value = (change.BestTrainingJob or {}).get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    record |= {"best_objective": best_value.get("Value"), "spot": summary}
    # The best trial is the run's training job: its metric history and model carry on through the report.
    state.append_training_attempt(model, run, {k: v for k, v in best_attempt.items() if k != "model_data_url"})
    state.update_run(model, run, training_job=best, tuning=record, spot=summary)
    output = {
        "job_name": best,
        "model_data_url": best_attempt["model_data_url"],
        "tuning_job": change.HyperParameterTuningJobName,
        "trials": len(trials),
        "best_objective": best_value.get("Value"),
        "spot": summary,
    }
    aws.client("stepfunctions").send_task_success(taskToken=claim["task_token"], output=json.dumps(output))
    metrics.add_metric(name="TuningJobsCompleted", unit="Count", value=1)
    metrics.add_metric(name="TuningTrials", unit="Count", value=len(trials))
    return {"tuning_job": change.HyperParameterTuningJobName, "action": "completed", "best": best}


def _fail(
    claim: dict[str, Any], change: TuningJobStateChange, trials: list[dict[str, Any]], record: dict[str, Any]
) -> dict[str, Any]:
    job, status = change.HyperParameterTuningJobName, change.HyperParameterTuningJobStatus
    failed = [t for t in trials if t["status"] != "Completed" or t["objective"] is None]
    reasons = sorted({str(t["failure_reason"]) for t in failed if t.get("failure_reason")})
    if status == "Completed":
        error, cause = "TuningFoundNoModel", f"Tuning job {job} completed without a trial that reported the objective."
    elif status == "Stopped":
        error, cause = "TuningJobStopped", f"Tuning job {job} was stopped by a person or another system."
    else:
        error, cause = "TuningJobFailed", change.FailureReason or f"Tuning job {job} failed without a reason."
    cause += f" {len(failed)} of {len(trials)} trials failed or reported no objective"
    cause += f"; first reason: {reasons[0]}" if reasons else "."
    state.update_run(claim["model"], claim["run_id"], tuning=record)
    aws.client("stepfunctions").send_task_failure(taskToken=claim["task_token"], error=error, cause=cause[:32768])
    metrics.add_metric(name="TuningJobsFailed", unit="Count", value=1)
    return {"tuning_job": job, "status": status, "action": "failed", "error": error}
