"""How a run ends, told to on-call: a summary on success, a page on failure."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from driftline import aws, naming, run_report, state
from driftline.notifications import console_links, page
from driftline.observability import logger, metrics
from driftline.settings import settings

if TYPE_CHECKING:
    from driftline import sizing


class RunOutcome(BaseModel):
    model: str
    run_id: str
    execution_arn: str | None = None
    outcome: str  # succeeded | rejected | failed
    failed_step: str | None = None
    error: str | None = None
    cause: str | None = None
    gate: dict[str, Any] | None = None
    endpoint_name: str | None = None
    model_package_arn: str | None = None
    training_job: str | None = None


def report_run(outcome: RunOutcome) -> dict[str, Any]:
    region = settings().region
    outcome = _with_child_error(outcome)
    if outcome.error == "CandidateRolledBack":
        # CanaryRollout already paged with the step, the alarm and its reason; one incident, one page.
        if (state.get_run(outcome.model, outcome.run_id) or {}).get("status") == "HELD":
            # a paused model's rollout was held (rollback._hold), not rolled back: it stays HELD for promote
            return {"status": "HELD", "message_id": None}
        state.update_run(outcome.model, outcome.run_id, status="ROLLED_BACK")
        metrics.add_dimension(name="Model", value=outcome.model)
        metrics.add_metric(name="RunsRolledBack", unit="Count", value=1)
        return {"status": "ROLLED_BACK", "message_id": None}
    status = {"succeeded": "SUCCEEDED", "rejected": "REJECTED"}.get(outcome.outcome, "FAILED")
    links = _report_fact(outcome.model, outcome.run_id) | console_links(
        region, execution_arn=outcome.execution_arn, job=outcome.training_job
    )
    run = state.get_run(outcome.model, outcome.run_id) or {}
    instances = instance_sizing(outcome.run_id, run)
    if outcome.outcome == "succeeded":
        subject = f"{outcome.model}: new model serving ({outcome.run_id})"
        facts = (
            {
                "What happened": "A new model version passed the quality gate and serves the endpoint.",
                "Model": outcome.model,
                "Run": outcome.run_id,
                "Metrics (test set)": run.get("metrics"),
                "Training": describe_training(run.get("spot")),
                "Data": (
                    _retrain_run_data(outcome.model, outcome.run_id)
                    if run.get("trigger") in naming.ALARM_RETRAIN_TRIGGERS
                    else None
                ),
                "Quality gate": (outcome.gate or {}).get("summary"),
                "Model package": outcome.model_package_arn,
                "Endpoint": outcome.endpoint_name,
            }
            | instances
            | links
        )
        severity, kind = "info", "run-succeeded"
    elif outcome.outcome == "rejected":
        subject = f"{outcome.model}: candidate rejected by the quality gate"
        facts = (
            {
                "What happened": "The newly trained model did not pass the quality gate; production is unchanged.",
                "Model": outcome.model,
                "Run": outcome.run_id,
                "Why": (outcome.gate or {}).get("summary"),
                "Metrics (test set)": (outcome.gate or {}).get("metrics"),
                "What to do": "check the new data (labels, drift, volume) and the gate thresholds in model.yaml",
            }
            | instances
            | links
        )
        severity, kind = "page", "run-rejected"
    else:
        why, job = failure_reason(outcome.cause)
        subject = f"{outcome.model}: run failed at '{outcome.failed_step or 'unknown step'}'"
        facts = (
            {
                "What happened": "A training run failed; production is unchanged.",
                "Model": outcome.model,
                "Run": outcome.run_id,
                "Step": outcome.failed_step,
                "Error": outcome.error,
                "Why": why,
                "Job": job,
                "Training": describe_training(run.get("spot")),
                "What to do": "read the logs below; see docs/runbook.md, 'Run failed'",
            }
            | instances
            | links
        )
        severity, kind = "page", "run-failed"
    message_id = page(
        subject,
        facts,
        severity=severity,
        kind=kind,
        model=outcome.model,
        incident=f"run/{outcome.run_id}",
        run_id=outcome.run_id,
    )
    # The final status last: a run whose page fails (and so whose execution fails) must not read SUCCEEDED;
    # the retry that pages writes it.
    state.update_run(
        outcome.model,
        outcome.run_id,
        status=status,
        failed_step=outcome.failed_step,
        error=outcome.error,
        cause=outcome.cause,
    )
    metrics.add_dimension(name="Model", value=outcome.model)
    metrics.add_metric(name=f"Runs{status.title()}", unit="Count", value=1)
    return {"status": status, "message_id": message_id, "instance_sizing": instances}


def _report_fact(model: str, run_id: str) -> dict[str, str]:
    """Where the run's report.html is (written after the page, at a fixed URI) and how to fetch it."""
    return {"Report": f"{run_report.report_uri(model, run_id)} (fetch: {run_report.fetch_command(run_id)})"}


def _with_child_error(outcome: RunOutcome) -> RunOutcome:
    """A failed child execution (the rollout) reaches the pipeline as States.TaskFailed with the child's
    DescribeExecution as JSON cause: report the child's own error and cause instead."""
    if outcome.error != "States.TaskFailed" or not outcome.cause:
        return outcome
    try:
        child = json.loads(outcome.cause)
    except ValueError:
        return outcome
    if not isinstance(child, dict):
        return outcome
    error = child.get("Error") or child.get("error")
    cause = child.get("Cause") or child.get("cause")
    if not error:
        return outcome
    return outcome.model_copy(update={"error": error, "cause": cause or outcome.cause})


_WHY_LIMIT = 500
_JOB_NAME_FIELDS = ("ProcessingJobName", "TrainingJobName", "TransformJobName")


def failure_reason(cause: str | None) -> tuple[str | None, str | None]:
    """The reason a person reads, and the job it comes from, out of a Step Functions cause.

    A failed `.sync` job's cause is its Describe* output as JSON: the job's own FailureReason is the
    reason, never the request dump around it. Any other cause is kept, cut to a readable length.
    """
    if not cause:
        return None, None
    try:
        described = json.loads(cause)
    except ValueError:
        described = None
    if isinstance(described, dict):
        job = next((str(described[f]) for f in _JOB_NAME_FIELDS if described.get(f)), None)
        # A processing job's FailureReason is SageMaker's generic "AlgorithmError: See job logs ..."; its
        # ExitMessage is what the job itself wrote (/opt/ml/output/message).
        reason = described.get("ExitMessage") or described.get("FailureReason")
        if reason:
            return _cut(str(reason)), job
        status = described.get("ProcessingJobStatus") or described.get("TrainingJobStatus")
        if job:
            return f"job {job} ended {status or 'unsuccessfully'} without a reason; read its log", job
    return _cut(cause), None


def _cut(text: str, limit: int = _WHY_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_training(spot: dict[str, Any] | None) -> str | None:
    """One line on what the run's training jobs cost: spot savings, interruptions, resumes, fallback."""
    if not spot:
        return None
    text = (
        f"{spot['jobs']} job(s), {spot['training_seconds']} s training, {spot['billable_seconds']} s billed "
        f"(spot saved {spot['spot_savings_percent']}%); {spot['interruptions']} spot interruption(s), "
        f"{spot['resumes']} resume(s) from checkpoints"
    )
    return text + ("; finished on demand" if spot.get("on_demand_fallback") else "")


def new_labelled_uploads(model: str, *, since: float | None = None) -> tuple[int, float | None]:
    """(how many labelled files arrived under incoming/<model>/ after `since`, `since`).

    `since` defaults to the production model's data cutoff (when its run froze its data); with no
    production model every upload counts as new.
    """
    if since is None:
        production = state.get_production(model)
        production_run = state.get_run(model, production["run_id"]) if production else None
        cutoff = (production_run or {}).get("data_cutoff")
        since = float(cutoff) if cutoff is not None else None
    prefix = f"incoming/{model}/"
    count = 0
    for page_ in (
        aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=settings().data_bucket, Prefix=prefix)
    ):
        for obj in page_.get("Contents", []):
            if obj["Key"].endswith(".csv") and (since is None or obj["LastModified"].timestamp() > since):
                count += 1
    return count, since


def drift_retrain_data_note(model: str, run_id: str) -> str:
    """What a drift retrain trains on, in words for its page: new labelled data, or none and what to upload.

    A drift retrain that finds no labelled data newer than the production model's retrains on the same
    data, which cannot follow the drift; on-call and the model owner need to know that.
    """
    count, since = new_labelled_uploads(model)
    if count:
        return f"started retraining run {run_id} on {count} labelled file(s) uploaded since the production model"
    return (
        f"started retraining run {run_id}, but no labelled data arrived since the production model was trained"
        f"{_since(since)}: it retrains on the same data, which cannot follow the drift. Upload recent labelled "
        f"rows (the same columns, with the target) as CSV to s3://{settings().data_bucket}/incoming/{model}/; "
        + _then(model)
    )


def _then(model: str) -> str:
    config = state.load_config(model)
    if config is not None and config.training.start_on_upload:
        return "the upload starts a run on them"
    return f"then run `driftline retrain {model} --reason 'new labelled data'`"


def _retrain_run_data(model: str, run_id: str) -> str:
    """For a drift or quality retrain's summary: whether it had new labelled data (its data manifest exists) or not."""
    key = f"{model}/runs/{run_id}/data-manifest.json"  # pipeline.prepare_run writes it when newer data exists
    listed = aws.client("s3").list_objects_v2(Bucket=settings().artifact_bucket, Prefix=key, MaxKeys=1)
    if any(obj["Key"] == key for obj in listed.get("Contents", [])):
        return "the labelled data uploaded since the previous production model"
    return (
        f"no labelled data arrived since the previous production model: this model was retrained on the same "
        f"data. Upload recent labelled rows as CSV to s3://{settings().data_bucket}/incoming/{model}/"
    )


def _since(at: float | None) -> str:
    return f" (data up to {datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M} UTC)" if at else ""


# --- instance sizing -------------------------------------------------------------------------------

_UTILISATION = ("CPUUtilization", "MemoryUtilization", "DiskUtilization")
_STATS = ("Average", "Maximum", "SampleCount")
_NAMESPACES = {"training": "/aws/sagemaker/TrainingJobs", "processing": "/aws/sagemaker/ProcessingJobs"}
_VOLUME_FIELDS = {"training": "training.volume_size_gb", "processing": "processing.volume_size_gb"}
_THROUGHPUT = ("train:row_rounds_per_second", "train:samples_per_second")  # the older name: jobs before the rename
_NOT_FOUND = {"ValidationException", "ResourceNotFound"}
_MAX_HOSTS = 50  # 9 queries per instance within GetMetricData's 500  # Describe*Job of a job that never started


def instance_sizing(run_id: str, run: dict[str, Any]) -> dict[str, str]:
    """One fact per job of the run: was its instance over- or under-sized, with a suggestion.

    Reads each job's instance type (Describe*Job) and its CPUUtilization, MemoryUtilization and
    DiskUtilization over the job (CloudWatch, as SageMaker publishes them) and asks `sizing.judge`.
    A report never fails for this: what cannot be read is said in the fact.
    """
    from driftline import sizing  # with its instance table: only a run's report judges sizes (report_run loads it)

    facts: dict[str, str] = {}
    for label, kind, job in _run_jobs(run_id, run):
        try:
            described = _describe(kind, job)
            if described is None:
                continue
            instance_type, count, volume_field, start, end, throughput = described
            used = _utilisation(kind, job, count, start, end)
            verdict = sizing.judge(kind, instance_type, used, volume_field)
            text = verdict.text + (f"; the busiest of {count} instances" if count > 1 else "")
            text += f"; throughput {throughput:,.0f} rows x rounds per second" if throughput else ""
        except Exception as exc:  # noqa: BLE001 - a sizing fact is never why a run's page is not sent
            logger.warning("could not judge the instance of %s", job, exc_info=True)
            text = f"not judged: reading {job}'s utilisation failed ({aws.error_code(exc) or type(exc).__name__})"
        facts[f"Instance ({label})"] = text
    return facts


def _run_jobs(run_id: str, run: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, kind, job name) of the run's processing and training jobs, in the order they ran."""
    attempts = [str(a["job_name"]) for a in run.get("attempts") or [] if a.get("job_name")]
    if not attempts and run.get("training_job"):
        attempts = [str(run["training_job"])]
    training = [("train" if len(attempts) == 1 else f"train {i}", "training", job) for i, job in enumerate(attempts, 1)]
    return [
        # processing.instance_count > 1 first runs `<run>-statistics`; a run without it gets no fact for it
        ("statistics", "processing", naming.job_name(run_id, "statistics")),
        ("preprocess", "processing", naming.job_name(run_id, "preprocess")),
        *training,
        ("evaluate", "processing", naming.job_name(run_id, "evaluate")),
    ]


def _describe(kind: str, job: str) -> tuple[str, int, str, datetime, datetime, float | None] | None:
    """(instance type, count, its volume's config field, start, end, throughput) of a job; None if it never ran."""
    sagemaker = aws.client("sagemaker")
    try:
        if kind == "training":
            described = sagemaker.describe_training_job(TrainingJobName=job)
            resources = described.get("ResourceConfig") or {}
            start = described.get("TrainingStartTime") or described.get("CreationTime")
            end = described.get("TrainingEndTime") or described.get("LastModifiedTime")
        else:
            described = sagemaker.describe_processing_job(ProcessingJobName=job)
            resources = (described.get("ProcessingResources") or {}).get("ClusterConfig") or {}
            start = described.get("ProcessingStartTime") or described.get("CreationTime")
            end = described.get("ProcessingEndTime") or described.get("LastModifiedTime")
    except Exception as exc:
        if aws.error_code(exc) in _NOT_FOUND:
            return None
        raise
    instance_type = resources.get("InstanceType")
    if not instance_type or not start:
        return None
    end = end or datetime.now(UTC)
    final = {m.get("MetricName"): m.get("Value") for m in described.get("FinalMetricDataList") or []}
    throughput = next((float(final[name]) for name in _THROUGHPUT if final.get(name)), None)
    count = max(1, min(int(resources.get("InstanceCount") or 1), _MAX_HOSTS))
    return str(instance_type), count, _VOLUME_FIELDS[kind], start, end, throughput


def _utilisation(kind: str, job: str, count: int, start: datetime, end: datetime) -> sizing.Utilisation:
    """The job's metrics over the job, one period from its first minute to the minute after it ended.

    Each instance reports its own (Host=<job>/algo-<n>); a multi-instance job is judged on its busiest
    instance for each figure (the one that would run out first).
    """
    first = start.astimezone(UTC).replace(second=0, microsecond=0)
    period = 60 * max(1, math.ceil(((end - first).total_seconds() + 60) / 60))
    queries = [
        {
            "Id": f"h{host}_m{i}_{j}",
            "MetricStat": {
                "Metric": {
                    "Namespace": _NAMESPACES[kind],
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": f"{job}/algo-{host}"}],
                },
                "Period": period,
                "Stat": stat,
            },
        }
        for host in range(1, count + 1)
        for i, metric in enumerate(_UTILISATION)
        for j, stat in enumerate(_STATS)
    ]
    results = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=first, EndTime=first + timedelta(seconds=period)
    )["MetricDataResults"]
    values: dict[str, float | None] = {r["Id"]: (r["Values"][0] if r.get("Values") else None) for r in results}

    def value(metric: int, stat: int) -> float | None:
        found = [v for host in range(1, count + 1) if (v := values.get(f"h{host}_m{metric}_{stat}")) is not None]
        return max(found, default=None)

    from driftline import sizing

    return sizing.Utilisation(
        cpu_average=value(0, 0),
        cpu_peak=value(0, 1),
        memory_average=value(1, 0),
        memory_peak=value(1, 1),
        disk_peak=value(2, 1),
        samples=int(value(0, 2) or 0),
    )
