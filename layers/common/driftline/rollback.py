"""CanaryRollout's way back: put the previous model back on all traffic, remove the candidate, tell on-call.

`roll_back` is called in a loop: each call does the next thing that is still needed and says whether
to wait for the endpoint (`done: false`) or that the rollback is finished. It is safe to repeat.
1. the endpoint is changing: wait for it;
2. the candidate still takes traffic: all weight to the production variant (instant, no new instances);
3. the endpoint config is not production's: restore it (UpdateEndpoint; production serves throughout);
4. clean up: delete the candidate's model and endpoint configs, mark its package Rejected, release the
   model's rollout lock, record the run and page on-call with the step, the alarm and its reason.

`driftline rollback` takes the same path (driftline.operations): the version to return to plays "production"
(`plan.production`), the version serving now plays the candidate, and `restore_production` makes the version
returned to the production record again (with its production alarms). A rollout held because the model is
paused (`ModelPaused` from planning) touched nothing: its candidate is held (approved, run HELD, one page).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from driftline import aws, naming, run_report, state
from driftline.alarms import put_production_alarms
from driftline.deployment import delete_quietly, describe_endpoint
from driftline.notifications import console_links, page
from driftline.observability import logger, metrics
from driftline.pipeline import run_context
from driftline.registry import set_approval
from driftline.settings import settings

BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed"}


class RollbackRequest(BaseModel):
    model: str
    run_id: str
    execution: str | None = None
    execution_arn: str | None = None
    model_package_arn: str | None = None
    plan: dict[str, Any] | None = None  # plan_deployment's answer; None if planning itself failed
    failed_step: str | None = None
    alarm: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    requested_by: str | None = None  # a person's rollback (driftline rollback): the caller's identity
    reason: str | None = None
    restore_production: dict[str, Any] | None = None  # the production record of the version rolled back to
    shadow: dict[str, Any] | None = None  # a failed shadow test's result (driftline.shadow): no traffic was shifted
    ab: dict[str, Any] | None = None  # an A/B test that kept production (driftline.ab_test): its decision and tests


def roll_back(request: RollbackRequest) -> dict[str, Any]:
    if (request.error or {}).get("Error") == "ModelPaused":
        return _hold(request)
    plan = request.plan or {}
    endpoint = plan.get("endpoint_name")
    if endpoint:
        waiting = _restore_endpoint(request, endpoint, plan)
        if waiting:
            return {"done": False, "doing": waiting, "wait_seconds": int(plan.get("poll_seconds") or 30)}
    _remove_candidate(request)
    state.update_run(
        request.model,
        request.run_id,
        status="ROLLED_BACK",
        failed_step=request.failed_step,
        error=(request.error or {}).get("Error"),
        alarm=(request.alarm or {}).get("name"),
    )
    if request.restore_production:
        _restore_production(request.model, request.restore_production)
    state.release_rollout_lock(request.model, request.execution or request.run_id)
    metrics.add_dimension(name="Model", value=request.model)
    metrics.add_metric(name="RolloutsRolledBack", unit="Count", value=1)
    message_id = _page(request, plan)
    return {"done": True, "message_id": message_id}


def _restore_endpoint(request: RollbackRequest, endpoint: str, plan: dict[str, Any]) -> str | None:
    """One step towards production serving alone; what is being waited for, or None when it does."""
    sagemaker = aws.client("sagemaker")
    described = describe_endpoint(endpoint)
    if described is None:
        return None
    status = described["EndpointStatus"]
    if status in BUSY:
        return f"endpoint {endpoint} is {status}"
    production = plan.get("production") or {}
    if not production.get("variant"):
        # First deployment (or a failed endpoint being replaced): nothing served before the candidate.
        if described.get("EndpointConfigName") == plan["endpoint_config"]["EndpointConfigName"]:
            sagemaker.delete_endpoint(EndpointName=endpoint)
            return f"deleting endpoint {endpoint}"
        return None
    if described.get("EndpointConfigName") == production["endpoint_config"]:
        return None
    variants = {v["VariantName"]: v for v in described.get("ProductionVariants", [])}
    candidate = variants.get(plan["candidate_variant"])
    if status == "InService" and candidate and production["variant"] in variants and candidate.get("CurrentWeight"):
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": production["variant"], "DesiredWeight": 1.0},
                {"VariantName": plan["candidate_variant"], "DesiredWeight": 0.0},
            ],
        )
        return f"shifting all traffic back to {production['variant']}"
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=production["endpoint_config"])
    return f"restoring endpoint config {production['endpoint_config']}"


def _remove_candidate(request: RollbackRequest) -> None:
    plan = request.plan or {}
    for step in ("canary", "shadow", "config"):
        delete_quietly("endpoint_config", naming.job_name(request.run_id, step))
    if plan.get("model"):
        delete_quietly("model", plan["model"]["ModelName"])
    if request.model_package_arn:
        why = (request.alarm or {}).get("name") or (request.error or {}).get("Error") or "rollout failed"
        if request.requested_by:
            why = f"by {request.requested_by}: {request.reason or 'no reason given'}"
        set_approval(request.model_package_arn, "Rejected", f"rolled back at {request.failed_step}: {why}")


def _hold(request: RollbackRequest) -> dict[str, Any]:
    """A paused model's rollout: keep the candidate (Approved, for `driftline promote` after resume), say so once."""
    run = state.get_run(request.model, request.run_id) or {}
    if run.get("status") == "HELD":  # a retry of a hold already done
        return {"done": True, "held": True}
    paused = state.get_pause(request.model)
    why = state.pause_note(request.model, paused) if paused else "the model was paused"
    version = request.model_package_arn.rsplit("/", 1)[-1] if request.model_package_arn else None
    if request.model_package_arn:
        set_approval(request.model_package_arn, "Approved", f"passed the quality gate; not rolled out because {why}")
    state.count_held(request.model, "rollouts_held")
    page(
        f"{request.model}: candidate {naming.variant_name(request.model, request.run_id)} held, model paused",
        {
            "What happened": f"Run {request.run_id} passed the quality gate, but its rollout was held: the model is "
            "paused. Nothing was deployed; the endpoint was not touched.",
            "Model": request.model,
            "Version": version,
            "Paused": why,
            "What to do": (
                f"after `driftline resume {request.model}`, `driftline promote {request.model} {version}` rolls it out"
                if version
                else "after resume, retrain"
            ),
        }
        | console_links(settings().region, execution_arn=request.execution_arn),
        severity="info",
        run_id=request.run_id,
    )
    state.update_run(request.model, request.run_id, status="HELD", held_because=why)
    logger.info("rollout held: model paused", extra={"model": request.model, "run_id": request.run_id})
    return {"done": True, "held": True}


def _restore_production(model: str, record: dict[str, Any]) -> None:
    """The version rolled back to serves production again: record it and point the production alarms at it."""
    state.put_production(model, **record)
    state.update_run(model, record["run_id"], status="DEPLOYED", endpoint_name=record["endpoint_name"])
    put_production_alarms(run_context(model, record["run_id"]), record["endpoint_name"], record["variant"])


def _page(request: RollbackRequest, plan: dict[str, Any]) -> str:
    if request.requested_by:
        return _page_by_hand(request, plan)
    production = plan.get("production") or {}
    alarm, error = request.alarm or {}, request.error or {}
    if request.shadow:
        return _page_shadow(request, plan)
    if request.ab:
        return _page_ab(request, plan)
    if production.get("variant"):
        now = (
            f"all traffic is back on the production variant {production['variant']} "
            f"(endpoint config {production['endpoint_config']})"
        )
    elif plan.get("endpoint_name"):
        now = "nothing served before this candidate, so its endpoint was removed"
    else:
        now = "the endpoint was not touched"
    facts = {
        "What happened": f"The candidate from run {request.run_id} was withdrawn during its rollout; {now}.",
        "Model": request.model,
        "Endpoint": plan.get("endpoint_name"),
        "Candidate variant": plan.get("candidate_variant"),
        "Failed at": request.failed_step,
        "Alarm": alarm.get("name"),
        "Alarm reason": alarm.get("reason"),
        "Error": error.get("Error"),
        "Cause": error.get("Cause"),
        "What Driftline did": (
            "shifted traffic back, restored the previous endpoint config, deleted the candidate's "
            "model and endpoint configs, marked its model package Rejected"
        ),
        "What to do": "read the alarm's metric or the error below; see docs/runbook.md, 'Candidate rolled back'",
        **_report(request),
    }
    variant = plan.get("candidate_variant") or request.run_id
    logger.warning("rollout rolled back", extra={"model": request.model, "run_id": request.run_id})
    subject = f"{request.model}: candidate {variant} rolled back ({request.failed_step or 'rollout failed'})"
    return _page_candidate(request, subject, facts, kind="rollback")


def _page_shadow(request: RollbackRequest, plan: dict[str, Any]) -> str:
    """The candidate failed its shadow test: it never answered a caller, so no customer request failed."""
    shadow, production = request.shadow or {}, plan.get("production") or {}
    variant = plan.get("candidate_variant") or request.run_id
    facts = {
        "What happened": (
            f"The candidate from run {request.run_id} failed its shadow test and was stopped before its canary: "
            f"it only ever answered copies of requests, so no caller saw its answers and no traffic was shifted "
            f"to it. The production variant {production.get('variant')} serves all traffic (endpoint config "
            f"{production.get('endpoint_config')})."
        ),
        "Model": request.model,
        "Endpoint": plan.get("endpoint_name"),
        "Candidate variant": variant,
        "Why it failed": "; ".join(shadow.get("reasons") or []) or (request.error or {}).get("Cause"),
        "Mirrored requests": shadow.get("requests"),
        "Errors": shadow.get("errors"),
        "Average model latency (ms)": None if shadow.get("latency_ms") is None else round(shadow["latency_ms"], 1),
        "Disagreement with production": shadow.get("disagreement"),
        "Mean absolute difference": shadow.get("mean_abs_difference"),
        "Requests compared": shadow.get("compared"),
        "What Driftline did": (
            "removed the shadow variant (restored the production endpoint config), deleted the candidate's "
            "model and endpoint configs, marked its model package Rejected"
        ),
        "What to do": "see docs/runbook.md, 'Candidate failed its shadow test'",
        **_report(request),
    }
    logger.warning("candidate failed its shadow test", extra={"model": request.model, "run_id": request.run_id})
    subject = f"{request.model}: candidate {variant} failed its shadow test (no traffic shifted)"
    return _page_candidate(request, subject, facts, kind="rollback")


def _page_ab(request: RollbackRequest, plan: dict[str, Any]) -> str:
    """The A/B test kept production: the decision, each metric's test and p-value."""
    from driftline.ab_test import describe_tests

    ab, production = request.ab or {}, plan.get("production") or {}
    variant = plan.get("candidate_variant") or request.run_id
    facts = {
        "What happened": (
            f"The A/B test of the candidate from run {request.run_id} ({ab.get('candidate_percent')} % of requests "
            f"for {ab.get('seconds')} s{', extended once' if ab.get('extended') else ''}) kept production: "
            f"{ab.get('reason') or (request.error or {}).get('Cause')}. The production variant "
            f"{production.get('variant')} serves all traffic again."
        ),
        "Model": request.model,
        "Endpoint": plan.get("endpoint_name"),
        "Candidate variant": variant,
        **describe_tests(ab),
        "Significance level": ab.get("alpha"),
        "What Driftline did": (
            "shifted all traffic back to production, restored its endpoint config, deleted the candidate's "
            "model and endpoint configs, marked its model package Rejected"
        ),
        "What to do": "see docs/runbook.md, 'A/B test kept production'",
    }
    logger.info("A/B test kept production", extra={"model": request.model, "run_id": request.run_id})
    subject = f"{request.model}: A/B test kept production over candidate {variant}"
    return _page_candidate(request, subject, facts, kind="ab-decision")


def _report(request: RollbackRequest) -> dict[str, str]:
    """The run report's fact: where it is and how to fetch it."""
    uri = run_report.report_uri(request.model, request.run_id)
    return {"Report": f"{uri} (fetch: {run_report.fetch_command(request.run_id)})"}


def _page_candidate(request: RollbackRequest, subject: str, facts: dict[str, Any], *, kind: str) -> str:
    """A page about the candidate a rollout withdrew: one incident per run, with the execution's console links."""
    return page(
        subject,
        facts | console_links(settings().region, execution_arn=request.execution_arn),
        kind=kind,
        model=request.model,
        incident=f"rollback/{request.run_id}",
        run_id=request.run_id,
    )


def _page_by_hand(request: RollbackRequest, plan: dict[str, Any]) -> str:
    restored = request.restore_production or {}
    production = plan.get("production") or {}
    version, replaced = restored.get("version"), restored.get("replaced_version")
    paused = state.get_pause(request.model)
    facts = {
        "What happened": (
            f"{request.requested_by} rolled model {request.model} back from run {request.run_id}"
            f"{f' (version {replaced})' if replaced else ''} to run {restored.get('run_id')}"
            f"{f' (version {version})' if version else ''}; all traffic is on variant {production.get('variant')} "
            f"(endpoint config {production.get('endpoint_config')})."
        ),
        "Model": request.model,
        "Endpoint": plan.get("endpoint_name"),
        "Reason": request.reason,
        "What Driftline did": (
            "restored the endpoint config of the version rolled back to and made it the production "
            "record, pointed the production alarms at its variant, deleted the withdrawn version's "
            "model and endpoint configs, marked its model package Rejected"
        ),
        "Paused": state.pause_note(request.model, paused) if paused else None,
        "Who": request.requested_by,
    }
    logger.info("rolled back by hand", extra={"model": request.model, "run_id": request.run_id})
    return page(
        f"{request.model}: rolled back to version {version or restored.get('run_id')}",
        facts,
        severity="info",
        run_id=request.run_id,
    )
