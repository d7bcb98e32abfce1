"""Drift monitoring: start the monitor on each production endpoint's schedule, publish what it found.

One path for two sources: Driftline's own monitor (jobs/monitor.py, a processing job named
`<model>-<yyyymmddThhmmss>-monitor` that writes to `<ArtifactBucket>/<model>/monitoring/<job>/`) and,
where an account has it, a SageMaker Model Monitor schedule named in the model's config. Monitor jobs
are recognised by that name and location, never by tags: AWS's state-change events do not promise to
carry a job's tags (its published samples show `"Tags": {}`). Both write Model-Monitor-format
`constraint_violations.json`; `publish_monitoring` turns it into CloudWatch metrics (namespace
`Driftline/Monitoring`) that the drift alarm watches.

With `monitoring.instance_count` N > 1 a run is two jobs: `<model>-<ts>-monitor-shards` on N instances (each a
share of the window's capture objects, ShardedByS3Key) writes `<job folder>/partials/<host>.json`; its completion
starts the merge, one instance named exactly like the single job (`<model>-<ts>-monitor`, same report folder), so
publishing, alarms and reports do not change. The merge takes the window, the KS switch and the production run
from DescribeProcessingJob of the partial job: AWS's state-change event does not promise the job's arguments.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from driftline import aws, idempotency, naming, state
from driftline.config import ModelConfig
from driftline.errors import UnknownModel
from driftline.notifications import console_links, page
from driftline.observability import logger
from driftline.pipeline import run_context
from driftline.quality import publish_quality, quality_model, start_quality
from driftline.sagemaker_requests import monitor_request, quality_request
from driftline.settings import settings

NAMESPACE = "Driftline/Monitoring"
MAX_CAPTURE_INPUTS = 6  # SageMaker allows 10 processing inputs; code, baseline, preprocessor and config take 4
# "Baseline drift distance 0.41 (PSI) exceeds threshold 0.2" (Driftline) or
# "Baseline drift distance: 0.7 exceeds threshold: 0.1" (SageMaker Model Monitor)
_MONITOR_JOB = re.compile(r"^(?P<model>[a-z][a-z0-9-]{1,30}[a-z0-9])-\d{8}T\d{6}-monitor$")
SHARDS_STEP = "monitor-shards"  # the partial job of a sharded run: `<monitor job>-shards`, at most 63 characters
# the partial job of a sharded drift monitor or quality run (quality.SHARDS_STEP)
_SHARDS_JOB = re.compile(r"^(?P<model>[a-z][a-z0-9-]{1,30}[a-z0-9])-\d{8}T\d{6}-(?P<kind>monitor|quality)-shards$")
_REFERENCE_INPUT = {"monitor": "baseline", "quality": "evaluation"}  # the input that names the production run
_DRIFT_TEXT = re.compile(r"distance:?\s*([-+0-9.eE]+).*?threshold:?\s*([-+0-9.eE]+)", re.IGNORECASE)


def interval_seconds(schedule: str) -> int:
    """The period of a `rate(...)` schedule; cron schedules are taken as hourly (one rule, at upload too)."""
    from driftline.config_rules import schedule_interval_seconds  # the upload rules' module: only when asked

    return schedule_interval_seconds(schedule)


def schedule_rule_name(model: str) -> str:
    return naming.alarm_name(model, "monitor")


# --- scheduling (at promotion) ----------------------------------------------------------------------


def schedule_monitoring(config: ModelConfig) -> str:
    """Create or update the model's monitoring rule and its drift alarm; returns the rule name."""
    monitoring = config.monitoring
    rule = schedule_rule_name(config.name)
    own_monitor = monitoring.enabled and not monitoring.model_monitor_schedule
    events = aws.client("events")
    events.put_rule(
        Name=rule,
        ScheduleExpression=monitoring.schedule,
        State="ENABLED" if own_monitor else "DISABLED",
        Description=f"Driftline: drift monitor of {config.name}'s endpoint",
    )
    events.put_targets(
        Rule=rule,
        Targets=[
            {
                "Id": "start-monitoring",
                "Arn": settings().start_monitoring_function_arn,
                # The scheduled time names the window, so a repeated delivery maps to the same job.
                "InputTransformer": {
                    "InputPathsMap": {"time": "$.time"},
                    "InputTemplate": json.dumps({"model": config.name, "scheduled_time": "<time>"}),
                },
            }
        ],
    )
    put_drift_alarm(config)
    return rule


def put_drift_alarm(config: ModelConfig) -> str:
    monitoring = config.monitoring
    name = naming.alarm_name(config.name, "drift")
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        AlarmDescription=(
            f"Driftline {config.name}: at least {monitoring.drifted_features_to_alarm} feature(s) of "
            f"live traffic drifted from the training baseline. See docs/runbook.md, '{name}'."
        ),
        Namespace=NAMESPACE,
        MetricName="DriftedFeatures",
        Dimensions=[{"Name": "Model", "Value": config.name}],
        Statistic="Maximum",
        Period=max(60, interval_seconds(monitoring.schedule)),
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        Threshold=float(monitoring.drifted_features_to_alarm),
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        # Between monitor runs there is no data: keep the verdict of the last run (no flapping).
        TreatMissingData="ignore",
        Tags=[{"Key": "driftline:model", "Value": config.name}],
    )
    return name


# --- starting a monitor run (schedule) --------------------------------------------------------------


class MonitorTick(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    scheduled_time: str | None = None


def start_monitoring(tick: MonitorTick, now: datetime | None = None) -> dict[str, Any]:
    config = state.load_config(tick.model)
    if config is None:
        raise UnknownModel(f"model '{tick.model}' has no valid config")
    production = state.get_production(tick.model)
    if not production:
        return {"model": tick.model, "action": "skipped", "why": "no production endpoint yet"}
    if not config.monitoring.enabled or config.monitoring.model_monitor_schedule:
        return {"model": tick.model, "action": "skipped", "why": "monitoring is off or done by Model Monitor"}
    end = _window_end(tick.scheduled_time, now)
    window = timedelta(seconds=config.monitoring.window_seconds or interval_seconds(config.monitoring.schedule))
    start = end - window
    ctx = run_context(tick.model, production["run_id"])
    job = naming.job_name(f"{tick.model}-{end:%Y%m%dT%H%M%S}", "monitor")
    report_uri = f"s3://{ctx.artifact_bucket}/{tick.model}/monitoring/{job}/"
    s3 = aws.client("s3")
    s3.put_object(
        Bucket=ctx.artifact_bucket,
        Key=f"{tick.model}/monitoring/{job}/config/config.json",
        Body=config.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    captures = capture_prefixes(ctx.artifact_bucket, tick.model, production["endpoint_name"], start, end)
    instances = monitor_instances(ctx.artifact_bucket, captures, config.monitoring.instance_count)
    started = naming.job_name(f"{tick.model}-{end:%Y%m%dT%H%M%S}", SHARDS_STEP) if instances > 1 else job
    request = monitor_request(
        ctx,
        started,
        report_uri,
        captures,
        (_iso(start), _iso(end)),
        ks_test=config.monitoring.ks_test,
        stage="partial" if instances > 1 else "all",
        instance_count=instances,
    )
    result: dict[str, Any] = {"model": tick.model, "action": "started", "job": started, "captures": len(captures)}
    if instances > 1:
        result |= {"instances": instances, "merge_job": job}
    try:
        aws.client("sagemaker").create_processing_job(**request)
    except Exception as exc:
        if "already" not in str(exc).lower() and aws.error_code(exc) != "ResourceInUse":
            raise
        result = {"model": tick.model, "action": "duplicate", "job": started}
    else:
        logger.info(
            "drift monitor started", extra={"job": started, "instances": instances, "window": [_iso(start), _iso(end)]}
        )
    # Model quality runs on the same schedule, over the predictions one label delay older (driftline.quality).
    result["quality"] = start_quality(
        config,
        production,
        end,
        interval_seconds(config.monitoring.schedule),
        lambda first, last: capture_prefixes(ctx.artifact_bucket, tick.model, production["endpoint_name"], first, last),
        lambda found: monitor_instances(ctx.artifact_bucket, found, config.monitoring.instance_count),
    )
    return result


def monitor_instances(bucket: str, captures: list[str], wanted: int) -> int:
    """Instances for a run: monitoring.instance_count, or 1 when the window's capture inputs hold fewer objects.

    ShardedByS3Key deals whole objects, and AWS warns that with more instances than objects "some nodes won't get
    any data" (S3DataSource.S3DataDistributionType): those would be paid for nothing, so a small window runs as
    today's single job. Counting stops at `wanted`."""
    if wanted <= 1 or not captures:
        return 1
    s3 = aws.client("s3")
    found = 0
    for uri in captures:
        bucket_name, _, prefix = uri.removeprefix("s3://").partition("/")
        for listed in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket_name or bucket, Prefix=prefix):
            found += sum(1 for item in listed.get("Contents", []) if not item["Key"].endswith("/"))
            if found >= wanted:
                return wanted
    logger.info(
        "fewer capture objects than monitoring.instance_count: the monitor runs on one instance",
        extra={"objects": found, "instance_count": wanted},
    )
    return 1


def _window_end(scheduled_time: str | None, now: datetime | None) -> datetime:
    if scheduled_time:
        return datetime.fromisoformat(scheduled_time.replace("Z", "+00:00")).astimezone(UTC)
    return (now or datetime.now(UTC)).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def capture_prefixes(bucket: str, model: str, endpoint: str, start: datetime, end: datetime) -> list[str]:
    """The data-capture hour folders (per variant) that hold records of [start, end]; the monitor filters by time."""
    s3 = aws.client("s3")
    root = f"{model}/datacapture/{endpoint}/"
    variants = [
        p["Prefix"] for p in s3.list_objects_v2(Bucket=bucket, Prefix=root, Delimiter="/").get("CommonPrefixes", [])
    ]
    hours = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        hours.append(hour.strftime("%Y/%m/%d/%H/"))
        hour += timedelta(hours=1)
    found = [
        f"{variant}{h}"
        for variant in variants
        for h in hours
        if s3.list_objects_v2(Bucket=bucket, Prefix=f"{variant}{h}", MaxKeys=1).get("KeyCount", 0)
    ]
    if len(found) > MAX_CAPTURE_INPUTS:
        found = [root]  # a long window: read the whole capture, the monitor keeps only the window
    return [f"s3://{bucket}/{prefix}" for prefix in found]


# --- publishing what a monitor found -------------------------------------------------------------------


class ProcessingJobStateChange(BaseModel):
    """The detail of `SageMaker Processing Job State Change` (the job's description; Tags may be empty)."""

    model_config = ConfigDict(extra="ignore")

    ProcessingJobName: str
    ProcessingJobStatus: str
    FailureReason: str | None = None
    ExitMessage: str | None = None
    MonitoringScheduleArn: str | None = None
    ProcessingOutputConfig: dict[str, Any] | None = None
    ProcessingInputs: list[dict[str, Any]] | None = None
    ProcessingResources: dict[str, Any] | None = None


def publish_monitoring(change: ProcessingJobStateChange, *, remaining_ms: int | None = None) -> dict[str, Any]:
    job, status = change.ProcessingJobName, change.ProcessingJobStatus
    if status not in {"Completed", "Failed", "Stopped"}:
        return {"job": job, "action": "none"}
    shards_of = _shards_model(change)
    if shards_of is not None:
        sharded_model, kind = shards_of
        return idempotency.once(
            "monitor" if kind == "monitor" else "quality",
            {"job": job, "status": status},
            lambda: _after_shards(change, sharded_model, kind),
            remaining_ms=remaining_ms,
            on_repeat=lambda first: first | {"action": "duplicate", "first_action": first.get("action")},
        )
    quality_of = _quality_model(change)
    if quality_of is not None:
        return idempotency.once(
            "quality",
            {"job": job, "status": status},
            lambda: publish_quality(
                quality_of,
                job,
                status,
                change.FailureReason or change.ExitMessage,
                stage="merge of the sharded quality job's partial joins (one instance)" if _is_merge(change) else None,
            ),
            remaining_ms=remaining_ms,
            on_repeat=lambda first: first | {"action": "duplicate", "first_action": first.get("action")},
        )
    model = _monitored_model(change)
    if model is None:
        return {"job": job, "action": "ignored"}
    return idempotency.once(
        "monitor",
        {"job": job, "status": status},
        lambda: _publish(change, model),
        remaining_ms=remaining_ms,
        on_repeat=lambda first: first | {"action": "duplicate", "first_action": first.get("action")},
    )


def _publish(change: ProcessingJobStateChange, model: str) -> dict[str, Any]:
    job, status = change.ProcessingJobName, change.ProcessingJobStatus
    report_uri = _report_uri(change, model)
    if status != "Completed":
        stage = "merge of the sharded monitor's partial counts (one instance)" if _is_merge(change) else None
        _page_failed(model, job, status, change.FailureReason or change.ExitMessage, stage)
        return {"job": job, "action": "paged", "status": status}
    report = read_report(report_uri)
    if report["judged"]:
        _put_metrics(model, report)
    else:
        # Too little traffic to judge: no datapoint, so the drift alarm keeps its state (missing = ignore)
        # instead of reading "0 drifted features" as a recovery.
        logger.info("drift not judged in this window", extra={"job": job, "why": report.get("not_judged_reason")})
    state.put_monitoring_report(
        model,
        job=job,
        report_uri=report_uri,
        drifted=report["drifted"],
        records=report.get("records"),
        max_drift=report["max_drift"],
    )
    logger.info("monitoring published", extra={"job": job, "drifted": len(report["drifted"])})
    return {
        "job": job,
        "action": "published",
        "drifted_features": len(report["drifted"]),
        "max_drift": report["max_drift"],
        "report_uri": report_uri,
    }


def _page_failed(model: str, job: str, status: str, why: str | None, stage: str | None) -> None:
    page(
        f"{model}: drift monitor {status.lower()}",
        {
            "What happened": "The drift monitor did not finish; drift is not being checked for this window.",
            "Model": model,
            "Job": job,
            "Stage": stage,
            "Why": why,
            "What to do": "read the job's logs; see docs/runbook.md, 'Drift monitor failed'",
        }
        | console_links(settings().region, job=job, job_kind="ProcessingJobs"),
        kind="monitor-failed",
        model=model,
    )


def _is_merge(change: ProcessingJobStateChange) -> bool:
    """A sharded run's merge job (it reads the partials input); the event carries the job's inputs."""
    return any(item.get("InputName") == "partials" for item in change.ProcessingInputs or [])


def _monitored_model(change: ProcessingJobStateChange) -> str | None:
    """The model a finished processing job monitored, or None if it is not a drift monitor of Driftline's."""
    if change.MonitoringScheduleArn:
        return state.model_for_monitoring_schedule(change.MonitoringScheduleArn.rsplit("/", 1)[-1])
    match = _MONITOR_JOB.match(change.ProcessingJobName)
    if not match:
        return None
    model = match.group("model")
    expected = _own_report_uri(model, change.ProcessingJobName)
    outputs = _output_uris(change)
    if outputs and expected not in outputs:
        return None  # a job with a look-alike name that writes elsewhere is not ours
    return model if state.load_config(model) is not None else None


def _shards_model(change: ProcessingJobStateChange) -> tuple[str, str] | None:
    """(model, "monitor" | "quality") of a sharded run's partial job (name and output, as for the monitor)."""
    match = _SHARDS_JOB.match(change.ProcessingJobName)
    if not match:
        return None
    model = match.group("model")
    outputs = _output_uris(change)
    if outputs and _own_report_uri(model, merge_job_name(change.ProcessingJobName)) not in outputs:
        return None
    return (model, match.group("kind")) if state.load_config(model) is not None else None


def merge_job_name(shards_job: str) -> str:
    """`<model>-<ts>-monitor` for `<model>-<ts>-monitor-shards` (quality alike): the merge is named like a
    single-job run, so publishing, alarms and reports read it as they read one."""
    return shards_job.removesuffix("-shards")


def _after_shards(change: ProcessingJobStateChange, model: str, kind: str) -> dict[str, Any]:
    """The partial job ended: start the merge over every host's partial, or page why the window is not judged."""
    job, status = change.ProcessingJobName, change.ProcessingJobStatus
    merge = merge_job_name(job)
    if status != "Completed":
        instances = ((change.ProcessingResources or {}).get("ClusterConfig") or {}).get("InstanceCount")
        stage = (
            f"partial {'counts' if kind == 'monitor' else 'joins'} on {instances or 'several'} instances "
            f"(sharded capture); the merge job {merge} was not started"
        )
        why = change.FailureReason or change.ExitMessage
        if kind == "quality":
            return publish_quality(model, job, status, why, stage=stage) | {"stage": "partial"}
        _page_failed(model, job, status, why, stage)
        return {"job": job, "action": "paged", "status": status, "stage": "partial"}
    described = aws.client("sagemaker").describe_processing_job(ProcessingJobName=job)
    plan = _merge_plan(described, _REFERENCE_INPUT[kind])
    if plan is None:
        logger.warning("a sharded monitor job without Driftline's arguments; no merge", extra={"job": job})
        return {"job": job, "action": "ignored", "why": "not started by Driftline's start_monitoring"}
    ctx = run_context(model, plan["run"])
    report_uri = _own_report_uri(model, merge)
    if kind == "monitor":
        request = monitor_request(ctx, merge, report_uri, [], plan["window"], ks_test=plan["ks_test"], stage="merge")
    else:
        request = quality_request(ctx, merge, report_uri, [], plan["labels"], plan["window"], stage="merge")
    try:
        aws.client("sagemaker").create_processing_job(**request)
    except Exception as exc:
        if "already" not in str(exc).lower() and aws.error_code(exc) != "ResourceInUse":
            raise
        return {"job": job, "action": "duplicate", "merge_job": merge}
    logger.info("sharded monitor merge started", extra={"job": merge, "partials_of": job, "window": plan["window"]})
    return {"job": job, "action": "merge-started", "merge_job": merge}


def _merge_plan(described: dict[str, Any], reference: str) -> dict[str, Any] | None:
    """The production run (from the `reference` input's URI), window, KS switch and labels URI of a partial job,
    from its DescribeProcessingJob; None when it does not look like one Driftline started."""
    arguments = list((described.get("AppSpecification") or {}).get("ContainerArguments") or [])
    inputs = {
        item.get("InputName"): (item.get("S3Input") or {}).get("S3Uri", "")
        for item in described.get("ProcessingInputs") or []
    }
    run = re.search(rf"/runs/(?P<run>[^/]+)/{reference}/?$", inputs.get(reference) or "")
    if run is None or "--window-start" not in arguments[:-1] or "--window-end" not in arguments[:-1]:
        return None
    if reference == "evaluation" and not inputs.get("labels"):
        return None
    return {
        "run": run.group("run"),
        "window": (arguments[arguments.index("--window-start") + 1], arguments[arguments.index("--window-end") + 1]),
        "ks_test": "--ks-test" in arguments,
        "labels": inputs.get("labels") or "",
    }


def _quality_model(change: ProcessingJobStateChange) -> str | None:
    """The model a finished jobs/quality.py run judged, recognised like the drift monitor (name and output)."""
    model = quality_model(change.ProcessingJobName)
    if model is None:
        return None
    outputs = _output_uris(change)
    if outputs and _own_report_uri(model, change.ProcessingJobName) not in outputs:
        return None
    return model if state.load_config(model) is not None else None


def _own_report_uri(model: str, job: str) -> str:
    return f"s3://{settings().artifact_bucket}/{model}/monitoring/{job}/"


def _output_uris(change: ProcessingJobStateChange) -> list[str]:
    outputs = (change.ProcessingOutputConfig or {}).get("Outputs") or []
    return [uri.rstrip("/") + "/" for output in outputs if (uri := (output.get("S3Output") or {}).get("S3Uri"))]


def _report_uri(change: ProcessingJobStateChange, model: str) -> str:
    if not change.MonitoringScheduleArn:
        return _own_report_uri(model, change.ProcessingJobName)
    outputs = _output_uris(change)
    return outputs[0] if outputs else ""


def read_report(report_uri: str) -> dict[str, Any]:
    """Drifted features (with distance and threshold) from constraint_violations.json, plus
    Driftline's drift_summary.json (every feature's distance) when the monitor wrote one."""
    violations = _read_json(report_uri + "constraint_violations.json") or {}
    summary = _read_json(report_uri + "drift_summary.json") or {}
    drifted: dict[str, dict[str, Any]] = {}
    for violation in violations.get("violations", []):
        if violation.get("constraint_check_type") != "baseline_drift_check":
            continue
        match = _DRIFT_TEXT.search(violation.get("description") or "")
        distance, threshold = (float(match.group(1)), float(match.group(2))) if match else (None, None)
        drifted[violation["feature_name"]] = {
            "feature": violation["feature_name"],
            "distance": distance,
            "threshold": threshold,
        }
    distances: dict[str, float] = {
        name: float(f["distance"])
        for name, f in (summary.get("features") or {}).items()
        if isinstance(f, dict) and f.get("distance") is not None
    }
    for name, found in drifted.items():
        if found["distance"] is not None:
            distances.setdefault(name, found["distance"])
    other = [v for v in violations.get("violations", []) if v.get("constraint_check_type") != "baseline_drift_check"]
    return {
        # Driftline's monitor says when a window was too small to judge; Model Monitor always judges.
        "judged": bool(summary.get("drift_judged", True)),
        "not_judged_reason": summary.get("not_judged_reason"),
        "drifted": sorted(drifted.values(), key=lambda f: -(f["distance"] or 0)),
        "distances": distances,
        "max_drift": max(distances.values(), default=0.0),
        "records": summary.get("records"),
        "other_violations": [
            {"feature": v.get("feature_name"), "check": v.get("constraint_check_type")} for v in other
        ][:20],
    }


def _read_json(uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if aws.error_code(exc) in {"NoSuchKey", "404"}:
            return None
        raise
    return json.loads(body)


def _put_metrics(model: str, report: dict[str, Any]) -> None:
    base = [{"Name": "Model", "Value": model}]
    data = [
        {"MetricName": "DriftedFeatures", "Dimensions": base, "Value": len(report["drifted"]), "Unit": "Count"},
        {"MetricName": "MaxDrift", "Dimensions": base, "Value": float(report["max_drift"]), "Unit": "None"},
    ]
    data += [
        {
            "MetricName": "FeatureDrift",
            "Dimensions": base + [{"Name": "Feature", "Value": name}],
            "Value": float(distance),
            "Unit": "None",
        }
        for name, distance in sorted(report["distances"].items())
    ]
    cloudwatch = aws.client("cloudwatch")
    for first in range(0, len(data), 500):  # PutMetricData takes at most 1000 values per call
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[first : first + 500])
