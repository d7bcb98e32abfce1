"""`CloudWatch Alarm State Change` for Driftline's alarms: act, and tell on-call once per incident.

A drift alarm starts a retraining run (trigger `drift`), a model quality alarm one with trigger `quality`,
unless the model is paused (`driftline pause`), one is running or a drift or quality retrain started within
`monitoring.retrain_cooldown_seconds`; every other alarm pages with its own context.
An incident opens on ALARM and closes on OK (one resolution message). An alarm that flaps back to
ALARM within the cooldown reopens the same incident: no second page, no second retrain.
Candidate alarms belong to a running CanaryRollout, which pages on rollback itself.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from driftline import aws, naming, reports, state
from driftline.config import ModelConfig
from driftline.notifications import console_links, page
from driftline.observability import logger, metrics
from driftline.settings import settings
from driftline.uploads import start_pipeline

RUNBOOK = "docs/runbook.md"
DEFAULT_REOPEN_SECONDS = 3600
# Alarm name suffixes, longest first: driftline-<model>-<kind>, or driftline-<kind> for stack-wide alarms.
KINDS = (
    "candidate-model-errors",
    "candidate-latency",
    "candidate-5xx",
    "model-errors",
    "latency",
    "5xx",
    "drift",
    "quality",
)
RETRAINING_KINDS = naming.ALARM_RETRAIN_TRIGGERS  # alarms that retrain the model, under one cooldown
STACK_ALARMS = {"failed-events", "pipeline-failures"}
WHAT_IT_MEANS = {
    "drift": "live traffic no longer looks like the data the model was trained on",
    "quality": "the production model's predictions, scored against labels that arrived later, are worse than "
    "its evaluation on the test set",
    "5xx": "the production model's container fails requests (5xx)",
    "model-errors": "the production model rejects requests (4xx), e.g. inputs it cannot read",
    "latency": "the production model answers more slowly than deployment.max_latency_ms",
    "failed-events": "a Driftline trigger gave up on an event after its retries (kept in FailedEventsQueue)",
    "pipeline-failures": "a TrainingPipeline execution failed, timed out or was aborted",
}


class AlarmState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str
    reason: str | None = None
    timestamp: str | None = None


class AlarmStateChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarmName: str
    state: AlarmState
    previousState: AlarmState | None = None


def parse_alarm_name(name: str) -> tuple[str | None, str | None]:
    """(model, kind) of a Driftline alarm name; (None, kind) for stack-wide alarms; (None, None) if not ours."""
    if not name.startswith("driftline-"):
        return None, None
    rest = name.removeprefix("driftline-")
    if rest in STACK_ALARMS:
        return None, rest
    for kind in KINDS:
        if rest.endswith(f"-{kind}"):
            return rest.removesuffix(f"-{kind}"), kind
    return None, None


def handle_alarm(change: AlarmStateChange, now: float | None = None) -> dict[str, Any]:
    name, value = change.alarmName, change.state.value
    model, kind = parse_alarm_name(name)
    if kind is None or kind.startswith("candidate-"):
        return {"alarm": name, "action": "ignored"}
    config = state.load_config(model) if model else None
    at = int(time.time() if now is None else now)
    if value == "ALARM":
        reopen = config.monitoring.retrain_cooldown_seconds if config else DEFAULT_REOPEN_SECONDS
        transition = change.state.timestamp or ""
        new, incident = state.open_incident(
            name, at, reopen, reason=change.state.reason, model=model, transition=transition
        )
        # A retry of the invocation that opened this incident and died before paging finishes its work:
        # the incident is recorded before the work, so it alone must not turn a crash into silence.
        unfinished = not incident.get("paged") and bool(transition) and incident.get("transition") == transition
        if not new and not unfinished:
            logger.info("alarm already has an incident", extra={"alarm": name, "flaps": incident.get("flaps")})
            return {"alarm": name, "action": "none", "incident": "already open or reopened within the cooldown"}
        moment = _transition_time(transition) or at
        outcome = _retrain(model, config, at, moment, kind) if kind in RETRAINING_KINDS and model and config else None
        _page_alarm(change, model, kind, outcome)
        state.mark_incident(name, "paged")
        if model:
            metrics.add_dimension(name="Model", value=model)
        metrics.add_metric(name="IncidentsOpened", unit="Count", value=1)
        return {"alarm": name, "action": "paged"} | ({"retrain": outcome} if outcome else {})
    if value == "OK":
        closed = state.close_incident(name, at) or _closed_without_resolution(name)
        if closed is None or closed.get("resolution_sent"):  # a flap closing again was announced already
            return {"alarm": name, "action": "none"}
        _page_resolution(change, model, kind, closed, at)
        state.mark_incident(name, "resolution_sent")
        return {"alarm": name, "action": "resolved"}
    return {"alarm": name, "action": "none"}


def _closed_without_resolution(alarm: str) -> dict[str, Any] | None:
    """An incident an earlier attempt closed but could not announce (the page failed): announce it now."""
    incident = state.get_incident(alarm)
    if incident and incident.get("status") == "CLOSED" and not incident.get("resolution_sent"):
        return incident
    return None


def _transition_time(timestamp: str) -> int | None:
    """The alarm transition's time (`2026-11-28T07:00:31.000+0000`) in epoch seconds: a retry names the same run."""
    try:
        return int(datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp())
    except ValueError:
        return None


def _retrain(model: str, config: ModelConfig, at: int, moment: int, trigger: str = "drift") -> dict[str, Any]:
    """Start a retraining run (trigger `drift` or `quality`) unless that would be a duplicate or a storm.

    The run is named after the alarm transition (`moment`), so a retried invocation starts the same
    run, which StartExecution and the claim both recognise, instead of a second one. Drift and quality
    retrains share one claim, so one cooldown: a quality alarm right after a drift retrain starts nothing.
    """
    run = naming.run_id(model, trigger, _utc(moment))
    paused = state.get_pause(model)
    if paused:
        return {
            "started": False,
            "paused": True,
            "why": f"{state.pause_note(model, paused)}; then `driftline retrain {model}` retrains by hand",
        }
    running = _running_run(model)
    if running == run:
        return {"started": True, "run_id": run, "execution_arn": None}
    if running:
        return {"started": False, "why": f"run {running} is already running; it trains on the newest data"}
    cooldown = config.monitoring.retrain_cooldown_seconds
    earlier = state.claim_retrain(model, run, at, cooldown)
    if earlier and earlier != run:
        return {
            "started": False,
            "why": (f"retrain {earlier} started less than {cooldown} s ago (monitoring.retrain_cooldown_seconds)"),
        }
    state.put_run(model, run, trigger=trigger, status="COLLECTING", started_at=_utc(moment).isoformat())
    execution = start_pipeline(config, run, trigger=trigger)
    state.update_run(model, run, execution_arn=execution)
    metrics.add_metric(
        name="DriftRetrainsStarted" if trigger == "drift" else "QualityRetrainsStarted", unit="Count", value=1
    )
    return {"started": True, "run_id": run, "execution_arn": execution}


def _running_run(model: str) -> str | None:
    sfn = aws.client("stepfunctions")
    paginator = sfn.get_paginator("list_executions")
    for page_ in paginator.paginate(stateMachineArn=settings().training_pipeline_arn, statusFilter="RUNNING"):
        for execution in page_["executions"]:
            if run_model(execution["name"]) == model:
                return str(execution["name"])
    return None


# naming.run_id: `<model>-<trigger>-<yyyymmddThhmmss>`; a model name may contain '-', a trigger may not
_RUN_ID = re.compile(r"^(?P<model>[A-Za-z0-9-]+)-(?P<trigger>[A-Za-z]+)-(?P<stamp>\d{8}T\d{6})$")


def run_model(run: str) -> str | None:
    """The model a run id (= its TrainingPipeline execution name) belongs to; None if not a run id.

    A prefix test would take `churn-v2-upload-...` for a run of `churn`.
    """
    match = _RUN_ID.match(run)
    return match["model"] if match else None


def _utc(at: int) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _page_alarm(change: AlarmStateChange, model: str | None, kind: str, retrain: dict[str, Any] | None) -> str:
    name = change.alarmName
    facts: dict[str, Any] = {
        "What happened": f"{name} is ALARM: {WHAT_IT_MEANS.get(kind, kind)}.",
        "Model": model,
        "Endpoint": naming.endpoint_name(model) if model else None,
        "Alarm reason": change.state.reason,
    }
    if kind == "drift" and model:
        report = state.get_monitoring_report(model) or {}
        facts["Drifted features"] = [
            f"{f['feature']}: {f['distance']:.3f} > threshold {f['threshold']}"
            if f.get("distance") is not None
            else str(f["feature"])
            for f in report.get("drifted", [])
        ] or None
        facts["Captured records in the window"] = report.get("records")
        facts["Drift report"] = report.get("report_uri")
    if kind == "quality" and model:
        report = state.get_quality_report(model) or {}
        facts["Quality violations"] = report.get("violations") or None
        facts["Metrics (live / evaluation)"] = [
            f"{name}: {value:.4f} / {report['reference'][name]:.4f}"
            for name, value in sorted((report.get("metrics") or {}).items())
            if value is not None and (report.get("reference") or {}).get(name) is not None
        ] or None
        facts["Labelled predictions"] = report.get("labelled")
        facts["Predictions still without a label"] = report.get("missing")
        facts["Quality report"] = report.get("report_uri")
    if kind in RETRAINING_KINDS and model and retrain:
        facts["What Driftline did"] = (
            reports.drift_retrain_data_note(model, retrain["run_id"])
            if retrain["started"]
            else f"did not retrain: {retrain['why']}"
        )
    paused = state.get_pause(model) if model else None
    if paused and model:
        facts["Paused"] = state.pause_note(model, paused)
    facts["Runbook"] = f"{RUNBOOK}, '{_runbook_entry(kind)}'"
    facts |= console_links(settings().region)
    subject = f"{model}: {kind} alarm" if model else f"Driftline: {kind} alarm"
    if kind in RETRAINING_KINDS and retrain and retrain.get("started"):
        subject += ", retraining started"
    elif kind in RETRAINING_KINDS and retrain and retrain.get("paused"):
        subject += ", model paused: no retrain"
    run_id = retrain["run_id"] if kind in RETRAINING_KINDS and retrain and retrain.get("started") else None
    return page(subject, facts, kind=kind, model=model, incident=change.alarmName, run_id=run_id)


def _page_resolution(
    change: AlarmStateChange, model: str | None, kind: str | None, incident: dict[str, Any], at: int
) -> str:
    minutes = max(0, at - int(incident.get("opened_at") or at)) / 60
    return page(
        f"{model or 'Driftline'}: {kind} alarm resolved",
        {
            "What happened": f"{change.alarmName} is back to OK after {minutes:.0f} min.",
            "Model": model,
            "Reason": change.state.reason,
            "Times it flapped back to ALARM": incident.get("flaps") or 0,
        },
        severity="info",
        kind=kind,
        model=model,
        incident=change.alarmName,
        action="resolve",
    )


def _runbook_entry(kind: str) -> str:
    return f"driftline-<model>-{kind}" if kind not in STACK_ALARMS else f"driftline-{kind}"
