"""What a person does to a model: retrain, roll back, promote, pause, resume (the `driftline` CLI's act commands).

Each command goes the way the automatic path goes, never a shortcut of its own:
- retrain starts TrainingPipeline as an upload or a drift alarm does (`uploads.start_pipeline`, run id
  `<model>-manual-<time>`: the execution name, so one run per id);
- promote starts CanaryRollout with the input the pipeline gives it (model, run_id, model_data_url,
  model_package_arn), so the canary steps, alarms and rollback are the usual ones;
- rollback is `rollback.roll_back`, CanaryRollout's own way back, with the version to return to in the role
  of "production" and the serving version in the role of the candidate;
- pause/resume write the model's PAUSE item, which every automatic path reads: a drift alarm does not
  retrain, an upload keeps its file without starting a run, a finished run's rollout is held (its candidate
  stays registered and approved for `driftline promote`).
A refusal is a named error with a message that says what to do. Every command is audited in the state table
(`AUDIT#<time>#<op>`: who, from STS GetCallerIdentity; when; what; why; outcome) and announced on the on-call
topic. A command typed twice within `DOUBLE_COMMAND_SECONDS` finds the first and does nothing more.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from driftline import aws, naming, state
from driftline.config import ModelConfig
from driftline.deployment import describe_endpoint
from driftline.errors import DriftlineError, ModelPaused, UnknownModel
from driftline.incidents import _running_run as running_run
from driftline.notifications import page
from driftline.observability import logger
from driftline.rollback import BUSY, RollbackRequest, roll_back
from driftline.settings import settings
from driftline.uploads import start_pipeline

DOUBLE_COMMAND_SECONDS = 120  # the same command again within this finds the first one
ROLLBACK_TIMEOUT_SECONDS = 3600  # an endpoint update that takes longer is left to a person
EXECUTION_NAME_LIMIT = 80
# A run whose candidate served production: DEPLOYED by record_deployment (SUCCEEDED once the pipeline reported it);
# a version withdrawn since is ROLLED_BACK.
SERVED = {"DEPLOYED", "SUCCEEDED"}


class UnknownVersion(DriftlineError):
    """No registered model package version of this model has that number (or run id)."""


class VersionNotUsable(DriftlineError):
    """The version exists but cannot be used for this command (not Approved, never deployed, already serving)."""


class OperationInProgress(DriftlineError):
    """Another run, rollout or rollback of the model is under way."""


class NothingToRollBack(DriftlineError):
    """The model has no production version, or no earlier deployed version to return to."""


class Version(BaseModel):
    """A registered model package version of a model, with the run that made it."""

    number: int
    arn: str
    approval: str
    run_id: str | None = None
    run_status: str | None = None
    deployed: bool = False  # it served production (record_deployment), and was not withdrawn since


# --- who and when ----------------------------------------------------------------------------------------


def caller() -> str:
    """The caller's identity (STS GetCallerIdentity ARN); raises botocore's NoCredentialsError without any."""
    return str(aws.client("sts").get_caller_identity()["Arn"])


def short_name(arn: str) -> str:
    """`alice` for `arn:aws:iam::1:user/alice` or `arn:aws:sts::1:assumed-role/OnCall/alice`."""
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _audit(model: str, op: str, who: str, at: float, reason: str | None, outcome: str, **details: Any) -> None:
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")
    state.audit(model, op, stamp, who=who, reason=reason, outcome=outcome, epoch=int(at), **details)


def _announce(model: str, who: str, title: str, facts: dict[str, Any]) -> str:
    facts = {"Model": model} | facts | {"Who": who}
    return page(f"{model}: {title} by {short_name(who)}", facts, severity="info", kind="operation", model=model)


# --- checks shared by the commands -----------------------------------------------------------------------


def _config(model: str) -> ModelConfig:
    config = state.load_config(model)
    if config is None:
        raise UnknownModel(
            f"unknown model '{model}': it has no valid config (onboard it with models/{model}/model.yaml)"
        )
    return config


def _refuse_if_paused(model: str, what: str) -> None:
    pause = state.get_pause(model)
    if pause:
        raise ModelPaused(f"{what} refused: {state.pause_note(model, pause)}")


def versions(model: str) -> list[Version]:
    """The model's registered versions, newest first, with their runs (from the state table)."""
    runs = {str(r["model_package_arn"]): r for r in state.runs(model) if r.get("model_package_arn")}
    sagemaker = aws.client("sagemaker")
    found: list[Version] = []
    request: dict[str, Any] = {"ModelPackageGroupName": naming.model_package_group(model), "MaxResults": 100}
    while True:
        try:
            response = sagemaker.list_model_packages(**request)
        except Exception as exc:
            if aws.error_code(exc) in {"ValidationException", "ResourceNotFound"}:
                return []
            raise
        for summary in response.get("ModelPackageSummaryList", []):
            arn = str(summary["ModelPackageArn"])
            run = runs.get(arn) or {}
            found.append(
                Version(
                    number=int(summary.get("ModelPackageVersion") or arn.rsplit("/", 1)[-1]),
                    arn=arn,
                    approval=str(summary.get("ModelApprovalStatus") or "PendingManualApproval"),
                    run_id=run.get("run_id"),
                    run_status=run.get("status"),
                    deployed=run.get("status") in SERVED and bool(run.get("endpoint_name")),
                )
            )
        if not response.get("NextToken"):
            break
        request["NextToken"] = response["NextToken"]
    return sorted(found, key=lambda v: v.number, reverse=True)


def _resolve(model: str, wanted: str, known: list[Version]) -> Version:
    """A version by number (`3`), run id or model package ARN."""
    text = wanted.strip()
    for version in known:
        if text in (str(version.number), version.run_id, version.arn):
            return version
    listed = ", ".join(f"{v.number} ({v.approval}{', run ' + v.run_id if v.run_id else ''})" for v in known[:10])
    raise UnknownVersion(
        f"model '{model}' has no registered version '{wanted}'; "
        + (f"its versions are {listed}" if listed else "it has no registered version yet")
    )


def _run_of(version: Version) -> str:
    if version.run_id:
        return version.run_id
    described = aws.client("sagemaker").describe_model_package(ModelPackageName=version.arn)
    run = (described.get("CustomerMetadataProperties") or {}).get("run_id")
    if not run:
        raise VersionNotUsable(f"version {version.number} ({version.arn}) names no run (CustomerMetadataProperties)")
    return str(run)


def _model_data_url(version: Version) -> str:
    described = aws.client("sagemaker").describe_model_package(ModelPackageName=version.arn)
    return str(described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])


def _exists(kind: str, name: str) -> dict[str, Any] | None:
    sagemaker = aws.client("sagemaker")
    try:
        if kind == "model":
            return dict(sagemaker.describe_model(ModelName=name))
        return dict(sagemaker.describe_endpoint_config(EndpointConfigName=name))
    except Exception as exc:
        if aws.error_code(exc) in {"ValidationException", "ResourceNotFound"}:
            return None
        raise


def _refuse_if_rolling_out(model: str, holder: str | None = None) -> None:
    lock = state.rollout_lock(model)
    if lock and lock.get("holder") != holder:
        raise OperationInProgress(
            f"model '{model}' is being rolled out or rolled back by {lock['holder']} (since "
            f"{_iso(int(lock.get('acquired_at') or 0))}); a rollout rolls back by itself when an alarm fires. "
            f"Follow it (`driftline status {model}`) and try again when it has finished."
        )


# --- retrain -------------------------------------------------------------------------------------------


def retrain(model: str, *, who: str, reason: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Start a TrainingPipeline run on everything in incoming/<model>/ (trigger `manual`)."""
    at = time.time() if now is None else now
    config = _config(model)
    _refuse_if_paused(model, "retrain")
    earlier = state.recent_operation(model, "retrain", int(at), DOUBLE_COMMAND_SECONDS)
    if earlier:
        return _already(model, "retrain", earlier, at)
    running = running_run(model)
    if running:
        raise OperationInProgress(
            f"run {running} of model '{model}' is already running; a second run would train on the same data. "
            f"Follow it with `driftline run {running}`, and retrain after it has finished if you still need to."
        )
    run = naming.run_id(model, "manual", datetime.fromtimestamp(at, UTC))
    first = state.claim_operation(model, "retrain", run, int(at), DOUBLE_COMMAND_SECONDS, by=who, reason=reason)
    if first and first.get("id") != run:
        return _already(model, "retrain", first, at)
    try:
        state.create_run(
            model, run, trigger="manual", status="COLLECTING", started_at=_iso(at), requested_by=who, reason=reason
        )
        execution = start_pipeline(config, run, trigger="manual")
    except Exception:
        state.release_operation(model, "retrain", run)
        raise
    state.update_run(model, run, execution_arn=execution)
    _audit(model, "retrain", who, at, reason, "started", run_id=run, execution_arn=execution)
    _announce(
        model,
        who,
        f"retraining run {run} started",
        {
            "What happened": f"A retraining run was started by hand on everything in incoming/{model}/.",
            "Run": run,
            "Reason": reason,
            "Follow it": f"driftline run {run}",
        },
    )
    logger.info("retrain started by hand", extra={"model": model, "run_id": run, "who": who})
    return {"operation": "retrain", "model": model, "started": True, "run_id": run, "execution_arn": execution}


def _already(model: str, op: str, earlier: dict[str, Any], at: float) -> dict[str, Any]:
    ago = max(0, int(at) - int(earlier.get("at") or at))
    return {
        "operation": op,
        "model": model,
        "started": False,
        "duplicate": True,
        "run_id": earlier.get("id"),
        "execution_arn": earlier.get("execution_arn"),
        "message": (
            f"{op} {earlier.get('id')} was started by {earlier.get('by') or 'someone'} {ago} s ago; "
            "not starting a second one"
        ),
    }


# --- promote -------------------------------------------------------------------------------------------


def promote(
    model: str, version: str, *, who: str, reason: str | None = None, now: float | None = None
) -> dict[str, Any]:
    """Roll an Approved, registered version out through CanaryRollout (canary steps, alarms, rollback)."""
    at = time.time() if now is None else now
    _config(model)
    _refuse_if_paused(model, "promote")
    chosen = _resolve(model, version, versions(model))
    earlier = state.recent_operation(model, "promote", int(at), DOUBLE_COMMAND_SECONDS)
    if earlier and earlier.get("version") == chosen.number:
        return _already(model, "promote", earlier, at)
    if chosen.approval != "Approved":
        raise VersionNotUsable(
            f"version {chosen.number} of model '{model}' is {chosen.approval}, not Approved; only an approved version "
            f"is promoted. Approve it in the model registry first: aws sagemaker update-model-package "
            f"--model-package-arn {chosen.arn} --model-approval-status Approved"
        )
    run = _run_of(chosen)
    production = state.get_production(model) or {}
    if production.get("run_id") == run:
        raise VersionNotUsable(f"version {chosen.number} (run {run}) of model '{model}' is already in production")
    if _exists("endpoint_config", naming.job_name(run, "config")) or _exists("model", naming.job_name(run, "model")):
        raise VersionNotUsable(
            f"version {chosen.number} (run {run}) of model '{model}' served before and its model is still there; "
            f"put it back with `driftline rollback {model} --to {chosen.number}`"
        )
    _refuse_if_rolling_out(model)
    endpoint = describe_endpoint(naming.endpoint_name(model))
    if endpoint and endpoint["EndpointStatus"] in BUSY:
        raise OperationInProgress(
            f"endpoint {endpoint['EndpointName']} is {endpoint['EndpointStatus']}; promote once it is InService"
        )
    name = _execution_name(run, "promote", at)
    first = state.claim_operation(
        model, "promote", name, int(at), DOUBLE_COMMAND_SECONDS, by=who, reason=reason, version=chosen.number
    )
    if first and first.get("id") != name:
        return _already(model, "promote", first, at)
    state.update_run(model, run, run_id=run, model_package_arn=chosen.arn)  # a version registered elsewhere: recorded
    payload = {
        "model": model,
        "run_id": run,
        "model_data_url": _model_data_url(chosen),
        "model_package_arn": chosen.arn,
    }
    try:
        response = aws.client("stepfunctions").start_execution(
            stateMachineArn=settings().canary_rollout_arn, name=name, input=json.dumps(payload)
        )
    except Exception:
        state.release_operation(model, "promote", name)
        raise
    execution = str(response["executionArn"])
    _audit(model, "promote", who, at, reason, "started", version=chosen.number, run_id=run, execution_arn=execution)
    _announce(
        model,
        who,
        f"version {chosen.number} rollout started",
        {
            "What happened": f"Version {chosen.number} (run {run}) is being rolled out by hand through CanaryRollout.",
            "Reason": reason,
            "Rollout": name,
            "Replaces": production.get("run_id"),
        },
    )
    return {
        "operation": "promote",
        "model": model,
        "started": True,
        "version": chosen.number,
        "run_id": run,
        "execution_arn": execution,
        "execution": name,
    }


def _execution_name(run: str, op: str, at: float) -> str:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%S")
    suffix = f"-{op}-{stamp}"
    return naming.sanitise(run[: EXECUTION_NAME_LIMIT - len(suffix)] + suffix)


# --- rollback -------------------------------------------------------------------------------------------


def rollback(
    model: str,
    *,
    who: str,
    to: str | None = None,
    reason: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
    sleep: Callable[[float], None] = time.sleep,
    now: float | None = None,
    timeout: float = ROLLBACK_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Put an earlier deployed version back on the endpoint through CanaryRollout's rollback (`roll_back`).

    Without `to`, the newest deployed version before the one serving. Waits until the endpoint serves it;
    if interrupted, the same command again finishes the job (the rollback holds the model's rollout lock).
    """
    at = time.time() if now is None else now
    config = _config(model)
    production = state.get_production(model)
    if not production:
        raise NothingToRollBack(f"model '{model}' has no production version to roll back")
    known = versions(model)
    earlier = state.recent_operation(model, "rollback", int(at), DOUBLE_COMMAND_SECONDS)
    if (
        earlier
        and earlier.get("to_run") == production["run_id"]
        and (to is None or _resolve(model, to, known).run_id == earlier["to_run"])
    ):
        return _already(model, "rollback", earlier, at) | {"version": earlier.get("version")}
    holder = f"rollback-{production['run_id']}"
    _refuse_if_rolling_out(model, holder)
    target = _rollback_target(model, production, known, to)
    target_run = _run_of(target)
    target_config = _exists("endpoint_config", naming.job_name(target_run, "config"))
    if target_config is None or _exists("model", target_config["ProductionVariants"][0]["ModelName"]) is None:
        raise VersionNotUsable(
            f"version {target.number} (run {target_run}) of model '{model}' has no model or endpoint config left to "
            f"restore; deploy it again with `driftline promote {model} {target.number}`"
        )
    variant = target_config["ProductionVariants"][0]
    endpoint = str(production.get("endpoint_name") or naming.endpoint_name(model))
    if describe_endpoint(endpoint) is None:
        raise NothingToRollBack(f"endpoint {endpoint} of model '{model}' does not exist; nothing serves to roll back")
    target_data = _model_data_url(target)  # everything read before the lock: a failed read leaves nothing held
    other = state.acquire_rollout_lock(model, holder, int(at))
    if other:
        raise OperationInProgress(f"model '{model}' is being rolled out by {other}; try again when it has finished")
    current = next((v for v in known if v.arn == production.get("model_package_arn")), None)
    state.claim_operation(
        model,
        "rollback",
        holder,
        int(at),
        DOUBLE_COMMAND_SECONDS,
        by=who,
        reason=reason,
        to_run=target_run,
        version=target.number,
    )
    _audit(
        model,
        "rollback",
        who,
        at,
        reason,
        "started",
        from_run=production["run_id"],
        to_run=target_run,
        version=target.number,
    )
    request = RollbackRequest(
        model=model,
        run_id=production["run_id"],
        execution=holder,
        model_package_arn=production.get("model_package_arn"),
        plan={
            "endpoint_name": endpoint,
            "production": {
                "variant": variant["VariantName"],
                "endpoint_config": target_config["EndpointConfigName"],
                "model_name": variant["ModelName"],
            },
            "candidate_variant": production.get("variant"),
            "endpoint_config": {"EndpointConfigName": production.get("endpoint_config")},
            "model": {"ModelName": naming.job_name(production["run_id"], "model")},
            "poll_seconds": config.timings.endpoint_poll_seconds,
        },
        failed_step="rolled back by hand",
        requested_by=who,
        reason=reason,
        restore_production={
            "run_id": target_run,
            "model_data_url": target_data,
            "model_package_arn": target.arn,
            "endpoint_name": endpoint,
            "endpoint_config": target_config["EndpointConfigName"],
            "variant": variant["VariantName"],
            "deployed_at": _iso(at),
            "version": target.number,
            "replaced_version": current.number if current else None,
        },
    )
    deadline = time.monotonic() + timeout
    while True:
        result = roll_back(request)
        if result.get("done"):
            break
        if time.monotonic() > deadline:
            raise OperationInProgress(
                f"the rollback of model '{model}' is still waiting ({result.get('doing')}) after {timeout:.0f} s; "
                f"run the same command again to finish it once the endpoint has settled"
            )
        progress(str(result.get("doing")))
        sleep(float(result.get("wait_seconds") or 5))
    _audit(
        model,
        "rollback",
        who,
        time.time() if now is None else at,
        reason,
        "done",
        from_run=production["run_id"],
        to_run=target_run,
        version=target.number,
    )
    return {
        "operation": "rollback",
        "model": model,
        "done": True,
        "version": target.number,
        "run_id": target_run,
        "variant": variant["VariantName"],
        "endpoint_config": target_config["EndpointConfigName"],
        "replaced_run_id": production["run_id"],
        "replaced_version": current.number if current else None,
    }


def _rollback_target(model: str, production: dict[str, Any], known: list[Version], to: str | None) -> Version:
    serving = production["run_id"]
    if to is not None:
        target = _resolve(model, to, known)
        if target.run_id == serving:
            raise VersionNotUsable(f"version {target.number} (run {serving}) of model '{model}' is what serves now")
        if not target.deployed:
            raise VersionNotUsable(
                f"version {target.number} of model '{model}' never served production (its run is "
                f"{target.run_status or 'unknown'}); roll back only to a version that did, or deploy this one "
                f"through a canary with `driftline promote {model} {target.number}`"
            )
        if target.approval != "Approved":
            raise VersionNotUsable(f"version {target.number} of model '{model}' is {target.approval}, not Approved")
        return target
    current = next((v.number for v in known if v.run_id == serving), None)
    for version in known:
        if (
            version.deployed
            and version.run_id != serving
            and version.approval == "Approved"
            and (current is None or version.number < current)
        ):
            return version
    raise NothingToRollBack(
        f"model '{model}' has no earlier deployed version to roll back to (run {serving} is its only one); "
        "`driftline rollback MODEL --to VERSION` names one"
    )


# --- pause / resume --------------------------------------------------------------------------------------


def pause(model: str, *, who: str, reason: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Stop automatic retrains and rollouts of the model until `resume`; uploads are kept."""
    at = time.time() if now is None else now
    _config(model)
    existing = state.put_pause(model, paused_by=who, paused_at=_iso(at), reason=reason, epoch=int(at))
    if existing:
        return {
            "operation": "pause",
            "model": model,
            "paused": True,
            "changed": False,
            "pause": existing,
            "message": f"already paused: {state.pause_note(model, existing)}",
        }
    _audit(model, "pause", who, at, reason, "paused")
    lock = state.rollout_lock(model)
    running = running_run(model)
    _announce(
        model,
        who,
        "paused",
        {
            "What happened": "Driftline stopped acting on this model by itself: no drift retrain, no run on upload "
            "(uploaded files are kept), no rollout of a finished run (its candidate stays registered).",
            "Reason": reason,
            "Still under way": ", ".join(
                x for x in (running and f"run {running}", lock and f"rollout {lock['holder']}") if x
            )
            or None,
            "Undo": f"driftline resume {model}",
        },
    )
    return {
        "operation": "pause",
        "model": model,
        "paused": True,
        "changed": True,
        "pause": state.get_pause(model),
        "running_run": running,
        "rollout": lock.get("holder") if lock else None,
    }


def resume(model: str, *, who: str, reason: str | None = None, now: float | None = None) -> dict[str, Any]:
    at = time.time() if now is None else now
    _config(model)
    ended = state.delete_pause(model)
    if not ended:
        return {
            "operation": "resume",
            "model": model,
            "paused": False,
            "changed": False,
            "message": f"model '{model}' was not paused",
        }
    kept, held = int(ended.get("uploads_kept") or 0), int(ended.get("rollouts_held") or 0)
    _audit(
        model,
        "resume",
        who,
        at,
        reason,
        "resumed",
        paused_by=ended.get("paused_by"),
        paused_at=ended.get("paused_at"),
        uploads_kept=kept,
        rollouts_held=held,
    )
    todo = []
    if kept:
        todo.append(
            f"{kept} upload(s) arrived while paused and started no run: `driftline retrain {model}` trains on them"
        )
    if held:
        todo.append(f"{held} candidate(s) were held: `driftline promote {model} VERSION` rolls one out")
    _announce(
        model,
        who,
        "resumed",
        {
            "What happened": "Driftline acts on this model by itself again (drift retrains, runs on upload, rollouts).",
            "Paused": f"by {ended.get('paused_by')} since {ended.get('paused_at')} "
            f"({ended.get('reason') or 'no reason'})",
            "Reason": reason,
            "What to do": "; ".join(todo) or None,
        },
    )
    return {
        "operation": "resume",
        "model": model,
        "paused": False,
        "changed": True,
        "ended": ended,
        "uploads_kept": kept,
        "rollouts_held": held,
    }
