"""Model quality with delayed ground truth: labels arrive, a scheduled job scores the production model.

Callers pass an inference id with each request (InvokeEndpoint `InferenceId`); data capture keeps it as
`eventMetadata.inferenceId`. Labels dropped later in `labels/<model>/*.csv` (`inference_id,<target>`) are
checked on upload by driftline.labels (bad files are quarantined and paged like training uploads) and kept. On the drift
monitor's schedule, `start_quality` starts jobs/quality.py over the predictions captured one label delay
earlier; `publish_quality` turns its report into `Driftline/ModelQuality` metrics, which the model's
`driftline-<model>-quality` alarm watches (`put_quality_alarm`); on_alarm retrains on it as it does on drift.
With `monitoring.instance_count` N > 1 a run is two jobs, as for the drift monitor (driftline.monitoring):
`<model>-<ts>-quality-shards` on N instances joins each instance's share of the capture with the labels, then
one instance named like a single quality job (`<model>-<ts>-quality`) merges the partials into the report.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from driftline import aws, naming, state
from driftline.config import ModelConfig
from driftline.notifications import console_links, page
from driftline.observability import logger
from driftline.pipeline import run_context
from driftline.sagemaker_requests import quality_request
from driftline.settings import settings

LABELS = "labels/"
NAMESPACE = "Driftline/ModelQuality"
ID_COLUMN = "inference_id"
MAX_ID_CHARS = 64  # InvokeEndpoint's InferenceId: 1-64 characters, printable, not starting with a space
_QUALITY_JOB = re.compile(r"^(?P<model>[a-z][a-z0-9-]{1,30}[a-z0-9])-\d{8}T\d{6}-quality$")
SHARDS_STEP = "quality-shards"  # the partial job of a sharded quality run: `<quality job>-shards`
_GONE = {"NoSuchKey", "NoSuchVersion", "404"}
MAX_DATUMS = 1000
METRIC_NAMES = {"auc": "AUC", "accuracy": "Accuracy", "f1": "F1", "rmse": "RMSE", "mae": "MAE"}


# --- the scheduled quality job ----------------------------------------------------------------------


def quality_window(config: ModelConfig, end: datetime, schedule_seconds: int) -> tuple[datetime, datetime]:
    """The predictions a run judges: one window, ending one label delay before the schedule's time."""
    quality = config.monitoring.quality
    length = quality.window_seconds or config.monitoring.window_seconds or schedule_seconds
    judged_end = end - timedelta(seconds=quality.label_delay_seconds)
    return judged_end - timedelta(seconds=length), judged_end


def start_quality(
    config: ModelConfig,
    production: dict[str, Any],
    end: datetime,
    schedule_seconds: int,
    captures: Any,
    instances: Any = lambda found: 1,
) -> dict[str, Any]:
    """Start jobs/quality.py for the window ending at `end` (minus the label delay); `captures(start, end)`
    lists the window's data-capture prefixes, `instances(prefixes)` how many instances share them (more than 1:
    the partial job, then the merge). Skipped while no labels were ever dropped for the model."""
    model = config.name
    if not config.monitoring.quality.enabled:
        return {"action": "skipped", "why": "monitoring.quality.enabled is false"}
    env = settings()
    labels_prefix = f"{LABELS}{model}/"
    listed = aws.client("s3").list_objects_v2(Bucket=env.data_bucket, Prefix=labels_prefix, MaxKeys=1)
    if not listed.get("KeyCount"):
        return {"action": "skipped", "why": f"no labels under s3://{env.data_bucket}/{labels_prefix} yet"}
    start, judged_end = quality_window(config, end, schedule_seconds)
    job = naming.job_name(f"{model}-{end:%Y%m%dT%H%M%S}", "quality")
    found = captures(start, judged_end)
    count = instances(found)
    started = naming.job_name(f"{model}-{end:%Y%m%dT%H%M%S}", SHARDS_STEP) if count > 1 else job
    span = (start, judged_end)
    if not launch_quality_job(config, production["run_id"], started, span, found, instances=count, report_job=job):
        return {"action": "duplicate", "job": started}
    window = (_iso(start), _iso(judged_end))
    logger.info("quality monitor started", extra={"job": started, "instances": count, "window": window})
    sharded = {"instances": count, "merge_job": job} if count > 1 else {}
    return {"action": "started", "job": started, "window": list(window)} | sharded


def launch_quality_job(
    config: ModelConfig,
    production_run: str,
    job: str,
    span: tuple[datetime, datetime],
    captures: list[str],
    *,
    instances: int = 1,
    report_job: str | None = None,
) -> bool:
    """Start jobs/quality.py as `job` over the captured predictions of `span` (False: it already exists).
    Its report goes to `<model>/monitoring/<report_job or job>/`; the production run's evaluation is the
    reference. With `instances` > 1, `job` is the partial job of `report_job` (the merge, started on its completion)."""
    env = settings()
    ctx = run_context(config.name, production_run)
    folder = report_job or job
    report_uri = f"s3://{ctx.artifact_bucket}/{config.name}/monitoring/{folder}/"
    aws.client("s3").put_object(
        Bucket=ctx.artifact_bucket,
        Key=f"{config.name}/monitoring/{folder}/config/config.json",
        Body=config.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    labels_uri = f"s3://{env.data_bucket}/{LABELS}{config.name}/"
    window = (_iso(span[0]), _iso(span[1]))
    stage = "partial" if instances > 1 else "all"
    request = quality_request(ctx, job, report_uri, captures, labels_uri, window, stage=stage, instance_count=instances)
    try:
        aws.client("sagemaker").create_processing_job(**request)
    except Exception as exc:
        if "already" not in str(exc).lower() and aws.error_code(exc) != "ResourceInUse":
            raise
        return False
    return True


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def quality_model(job: str) -> str | None:
    """The model of a quality job name (`<model>-<yyyymmddThhmmss>-quality`), or None."""
    match = _QUALITY_JOB.match(job)
    return match.group("model") if match else None


def publish_quality(model: str, job: str, status: str, why: str | None, *, stage: str | None = None) -> dict[str, Any]:
    """A finished quality job: metrics for the alarm, the report for the page; a failed one pages (`stage`: which
    job of a sharded run it was)."""
    if status != "Completed":
        page(
            f"{model}: model quality monitor {status.lower()}",
            {
                "What happened": "The model quality job did not finish; quality is not being checked for this window.",
                "Model": model,
                "Job": job,
                "Stage": stage,
                "Why": why,
                "What to do": "read the job's logs; see docs/runbook.md, "
                "'Model quality monitor failed / labels rejected'",
            }
            | console_links(settings().region, job=job, job_kind="ProcessingJobs"),
            kind="quality-monitor-failed",
            model=model,
        )
        return {"job": job, "action": "paged", "status": status}
    report_uri = f"s3://{settings().artifact_bucket}/{model}/monitoring/{job}/"
    summary = _read_json(report_uri + "quality_summary.json") or {}
    violations = (_read_json(report_uri + "constraint_violations.json") or {}).get("violations") or []
    put_quality_metrics(model, summary, violations)
    state.put_quality_report(
        model,
        job=job,
        report_uri=report_uri,
        judged=bool(summary.get("quality_judged")),
        metrics=summary.get("metrics") or {},
        reference=summary.get("reference_metrics") or {},
        violations=[v.get("description") for v in violations],
        labelled=summary.get("labelled"),
        missing=summary.get("missing_labels"),
        missing_share=summary.get("missing_label_share"),
    )
    return {
        "job": job,
        "action": "published",
        "judged": bool(summary.get("quality_judged")),
        "violations": len(violations),
        "report_uri": report_uri,
    }


def put_quality_metrics(model: str, summary: dict[str, Any], violations: list[dict[str, Any]]) -> None:
    """Label counts always; the metrics and QualityViolations only for a judged window (else the alarm keeps
    its state: too few labels is not a recovery)."""
    base = [{"Name": "Model", "Value": model}]
    data: list[dict[str, Any]] = [
        {"MetricName": "LabelledPredictions", "Value": float(summary.get("labelled") or 0), "Unit": "Count"},
        {"MetricName": "MissingLabels", "Value": float(summary.get("missing_labels") or 0), "Unit": "Count"},
    ]
    if summary.get("missing_label_share") is not None:
        data.append({"MetricName": "MissingLabelShare", "Value": float(summary["missing_label_share"]), "Unit": "None"})
    if summary.get("quality_judged"):
        data.append({"MetricName": "QualityViolations", "Value": float(len(violations)), "Unit": "Count"})
        data += [
            {"MetricName": METRIC_NAMES[name], "Value": float(value), "Unit": "None"}
            for name, value in sorted((summary.get("metrics") or {}).items())
            if name in METRIC_NAMES and value is not None
        ]
    data = [datum | {"Dimensions": base} for datum in data]
    # Beside the model's figures, the same per production variant (Model + VariantName), as AWS/SageMaker's
    # invocation metrics are: an A/B test's two variants side by side on a dashboard.
    for variant, outcome in sorted((summary.get("variants") or {}).items()):
        dimensions = base + [{"Name": "VariantName", "Value": str(variant)}]
        data.append(
            {"MetricName": "LabelledPredictions", "Value": float(outcome.get("labelled") or 0), "Unit": "Count"}
            | {"Dimensions": dimensions}
        )
        if outcome.get("judged"):
            data += [
                {"MetricName": METRIC_NAMES[name], "Value": float(value), "Unit": "None", "Dimensions": dimensions}
                for name, value in sorted((outcome.get("metrics") or {}).items())
                if name in METRIC_NAMES and value is not None
            ]
    cloudwatch = aws.client("cloudwatch")
    for first in range(0, len(data), MAX_DATUMS):  # PutMetricData takes at most 1000 datums per call
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[first : first + MAX_DATUMS])


def read_report(model: str, job: str, name: str) -> Any:
    """One file of a quality job's report (None while it is not there)."""
    return _read_json(f"s3://{settings().artifact_bucket}/{model}/monitoring/{job}/{name}")


def _read_json(uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if aws.error_code(exc) in _GONE:
            return None
        raise
    return json.loads(body)


# --- the alarm --------------------------------------------------------------------------------------


def put_quality_alarm(config: ModelConfig, period_seconds: int) -> str:
    """`driftline-<model>-quality`: a judged window broke at least one quality constraint."""
    name = naming.alarm_name(config.name, "quality")
    quality = config.monitoring.quality
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        AlarmDescription=(
            f"Driftline {config.name}: model quality on labelled live predictions fell below the evaluation's test "
            f"metrics (scores by more than {quality.max_score_drop}, errors by more than "
            f"{quality.max_error_increase:.0%}). See docs/runbook.md, '{name}'."
        ),
        Namespace=NAMESPACE,
        MetricName="QualityViolations",
        Dimensions=[{"Name": "Model", "Value": config.name}],
        Statistic="Maximum",
        Period=max(60, period_seconds),
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",  # between runs, or too few labels: keep the last verdict
        Tags=[{"Key": "driftline:model", "Value": config.name}],
    )
    return name
