"""CanaryRollout: plan how a candidate reaches the endpoint, and promote it once the rollout finished.

Strategies (chosen by `plan_deployment`):
- `first`: no endpoint yet; create it with the candidate as the only variant;
- `replace`: the endpoint exists but failed; update it straight to the candidate (nothing serves anyway);
- `canary`: the candidate joins the production variant at the first traffic step, Step Functions shifts
  the rest step by step while `driftline.canary` watches its alarms;
- `guardrails`: SageMaker's own blue/green canary with auto-rollback on the same alarms;
- `shadow-canary`: the candidate first answers a copy of production's traffic as the endpoint's shadow variant
  (`shadow_config`; its answers reach no caller) and is judged by `driftline.shadow` after `shadow_seconds`;
  only a passed shadow test starts the canary (the same `canary_config` as `canary`);
- `ab`: production and candidate serve side by side at `ab_candidate_percent` (`canary_config`) for `ab_seconds`,
  then `driftline.ab_test` decides: promote (the candidate becomes the only variant) or keep production.
A model has one rollout at a time (a lock in the state table); a second candidate is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from driftline import aws, naming, state
from driftline.alarms import candidate_alarms, put_candidate_alarms, put_production_alarms
from driftline.errors import EndpointFailed, EndpointNotSettled, ModelPaused, RolloutInProgress
from driftline.observability import logger
from driftline.pipeline import run_context
from driftline.registry import set_approval
from driftline.sagemaker_requests import RunContext, endpoint_config_request, model_request, production_variant

GUARDRAILS_TIMEOUT_SECONDS = 14400  # SageMaker's upper bound for MaximumExecutionTimeoutInSeconds


class DeployRequest(BaseModel):
    model: str
    run_id: str
    model_data_url: str
    model_package_arn: str | None = None
    execution: str | None = None  # the rollout's execution name: the lock's holder


def refuse_rollout_if_paused(model: str, run_id: str) -> None:
    """CanaryRollout's planning refuses a paused model's rollout (`driftline pause`, driftline.operations); its way
    back holds the candidate (`rollback`)."""
    paused = state.get_pause(model)
    if paused:
        raise ModelPaused(f"rollout of run {run_id} held: {state.pause_note(model, paused)}")


def plan_deployment(request: DeployRequest) -> dict[str, Any]:
    ctx = run_context(request.model, request.run_id)
    deployment = ctx.config.deployment
    holder = request.execution or request.run_id
    other = state.acquire_rollout_lock(request.model, holder)
    if other:
        raise RolloutInProgress(
            f"model '{request.model}' is already being rolled out by {other}; candidate {request.run_id} was not "
            "deployed and stays registered (PendingManualApproval). Start CanaryRollout for it again once that "
            "rollout has finished, or upload new data."
        )
    model = model_request(ctx, request.model_data_url)
    variant = naming.variant_name(request.model, request.run_id)
    endpoint = naming.endpoint_name(request.model)
    production = live_production(endpoint)
    strategy = _strategy(production, deployment.strategy)
    plan: dict[str, Any] = {
        "strategy": strategy,
        "endpoint_name": endpoint,
        "model": model,
        "candidate_variant": variant,
        "endpoint_config": endpoint_config_request(
            ctx, "config", [production_variant(ctx, variant, model["ModelName"], 1.0)]
        ),
        "production": production,
        "poll_seconds": ctx.config.timings.endpoint_poll_seconds,
        "alarm_poll_seconds": ctx.config.timings.alarm_poll_seconds,
        "bake_seconds": deployment.bake_seconds,
        "steps": deployment.traffic_steps_percent,
        "alarms": [],
        "canary_config": None,
        "deployment_config": None,
        "shadow_config": None,
        "shadow": None,
        "ab": None,
    }
    if strategy in ("canary", "guardrails", "shadow-canary", "ab"):
        assert production is not None
        put_candidate_alarms(ctx, endpoint, variant)
        plan["alarms"] = candidate_alarms(ctx.model) + list(deployment.extra_alarms)
    if strategy in ("canary", "shadow-canary"):
        assert production is not None
        plan["canary_config"] = _canary_config(ctx, production, variant, model["ModelName"])
    if strategy == "ab":
        assert production is not None
        share = deployment.ab_candidate_percent
        plan["canary_config"] = _canary_config(ctx, production, variant, model["ModelName"], share)
        plan["ab"] = _ab_judge(ctx, endpoint, plan["canary_config"], production, variant, plan["alarms"])
    if strategy == "shadow-canary":
        assert production is not None
        plan["shadow_config"] = _shadow_config(ctx, production, variant, model["ModelName"])
        plan["shadow"] = _shadow_judge(ctx, endpoint, plan["shadow_config"], production, variant)
    if strategy == "guardrails":
        plan["deployment_config"] = _guardrails(ctx, plan["alarms"])
    logger.info("rollout planned", extra={"strategy": strategy, "endpoint": endpoint, "variant": variant})
    return plan


def _strategy(production: dict[str, Any] | None, configured: str) -> str:
    if production is None:
        return "first"
    if production["status"] == "Failed":
        return "replace"
    return configured


def describe_endpoint(endpoint: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when there is no such endpoint."""
    try:
        return dict(aws.client("sagemaker").describe_endpoint(EndpointName=endpoint))
    except Exception as exc:
        # SageMaker answers ValidationException "Could not find endpoint" for a missing endpoint.
        if aws.error_code(exc) in {"ValidationException", "ResourceNotFound"}:
            return None
        raise


def live_production(endpoint: str) -> dict[str, Any] | None:
    """What the endpoint serves now (None if there is no endpoint); refuses an endpoint mid-change."""
    described = describe_endpoint(endpoint)
    if described is None:
        return None
    status = described["EndpointStatus"]
    if status == "Failed":
        return {"status": status, "endpoint_config": described.get("EndpointConfigName")}
    if status != "InService":
        raise EndpointNotSettled(f"endpoint {endpoint} is {status}; a rollout starts only from InService")
    config_name = described["EndpointConfigName"]
    described_config = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)
    variants = described_config["ProductionVariants"]
    if len(variants) != 1 or described_config.get("ShadowProductionVariants"):
        raise EndpointNotSettled(
            f"endpoint {endpoint} serves {len(variants)} variants ({config_name}); an earlier rollout did not "
            "finish. Restore a single-variant endpoint config, then roll out again."
        )
    return {
        "status": status,
        "endpoint_config": config_name,
        "variant": variants[0]["VariantName"],
        "model_name": variants[0]["ModelName"],
    }


def _canary_config(
    ctx: RunContext, production: dict[str, Any], variant: str, model_name: str, percent: int | None = None
) -> dict[str, Any]:
    share = (percent or ctx.config.deployment.traffic_steps_percent[0]) / 100
    return endpoint_config_request(
        ctx,
        "canary",
        [
            production_variant(ctx, production["variant"], production["model_name"], round(1 - share, 4)),
            production_variant(ctx, variant, model_name, share),
        ],
    )


def _shadow_config(ctx: RunContext, production: dict[str, Any], variant: str, model_name: str) -> dict[str, Any]:
    """Production alone answers callers; the candidate gets a copy of every request as the shadow variant.

    SageMaker allows one production and one shadow variant in such a config; data capture covers both, each
    under its own variant name, which is what the disagreement is computed from."""
    config = endpoint_config_request(
        ctx, "shadow", [production_variant(ctx, production["variant"], production["model_name"], 1.0)]
    )
    config["ShadowProductionVariants"] = [production_variant(ctx, variant, model_name, 1.0)]
    return config


def _shadow_judge(
    ctx: RunContext, endpoint: str, config: dict[str, Any], production: dict[str, Any], variant: str
) -> dict[str, Any]:
    """What `driftline.shadow.judge_shadow` needs, fixed at planning time."""
    deployment = ctx.config.deployment
    capture = config["DataCaptureConfig"]
    return {
        "model": ctx.model,
        "run_id": ctx.run_id,
        "endpoint_name": endpoint,
        "expected_config": config["EndpointConfigName"],
        "candidate_variant": variant,
        "production_variant": production["variant"],
        "problem_type": str(ctx.config.problem_type),
        "capture_uri": capture["DestinationS3Uri"] if capture.get("EnableCapture") else None,
        "shadow_seconds": deployment.shadow_seconds,
        "min_requests": deployment.shadow_min_requests,
        "max_error_rate": deployment.shadow_max_error_rate,
        "max_latency_ms": deployment.shadow_max_latency_ms,
        "max_disagreement": deployment.shadow_max_disagreement,
        "max_mean_abs_difference": deployment.shadow_max_mean_abs_difference,
        "poll_seconds": ctx.config.timings.alarm_poll_seconds,
    }


def _ab_judge(
    ctx: RunContext, endpoint: str, config: dict[str, Any], production: dict[str, Any], variant: str, alarms: list[str]
) -> dict[str, Any]:
    """What `driftline.ab_test.judge_ab` needs, fixed at planning time."""
    deployment = ctx.config.deployment
    return {
        "model": ctx.model,
        "run_id": ctx.run_id,
        "endpoint_name": endpoint,
        "expected_config": config["EndpointConfigName"],
        "production_variant": production["variant"],
        "candidate_variant": variant,
        "candidate_percent": deployment.ab_candidate_percent,
        "ab_seconds": deployment.ab_seconds,
        "min_requests": deployment.ab_min_requests,
        "metrics": list(deployment.ab_metrics),
        "alpha": deployment.ab_alpha,
        "alarms": alarms,
        "poll_seconds": ctx.config.timings.alarm_poll_seconds,
    }


def _guardrails(ctx: RunContext, alarms: list[str]) -> dict[str, Any]:
    deployment = ctx.config.deployment
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": deployment.traffic_steps_percent[0]},
                "WaitIntervalInSeconds": min(deployment.bake_seconds, 3600),
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": GUARDRAILS_TIMEOUT_SECONDS,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]},
    }


def record_deployment(request: DeployRequest, endpoint_name: str, endpoint_config: str) -> dict[str, Any]:
    """Promote the candidate: the endpoint serves it alone; record it, approve it, watch it, free the model."""
    described = aws.client("sagemaker").describe_endpoint(EndpointName=endpoint_name)
    if described.get("EndpointConfigName") != endpoint_config:
        raise EndpointFailed(
            f"endpoint {endpoint_name} serves {described.get('EndpointConfigName')}, not the candidate's "
            f"{endpoint_config}: {described.get('FailureReason') or 'the update did not take effect'}"
        )
    ctx = run_context(request.model, request.run_id)
    variant = naming.variant_name(request.model, request.run_id)
    previous = state.get_production(request.model)
    state.put_production(
        request.model,
        run_id=request.run_id,
        model_data_url=request.model_data_url,
        model_package_arn=request.model_package_arn,
        endpoint_name=endpoint_name,
        endpoint_config=endpoint_config,
        variant=variant,
        deployed_at=datetime.now(UTC).isoformat(),
    )
    if request.model_package_arn:
        set_approval(request.model_package_arn, "Approved", f"serving on {endpoint_name}")
    put_production_alarms(ctx, endpoint_name, variant)
    from driftline.monitoring import schedule_monitoring  # record_deployment's app loads it at init; planning not

    schedule_monitoring(ctx.config)
    for step in ("canary", "shadow"):
        delete_quietly("endpoint_config", naming.job_name(request.run_id, step))
    state.update_run(request.model, request.run_id, status="DEPLOYED", endpoint_name=endpoint_name)
    state.release_rollout_lock(request.model, request.execution or request.run_id)
    logger.info("production model recorded", extra={"endpoint": endpoint_name, "run_id": request.run_id})
    return {"endpoint_name": endpoint_name, "previous_run_id": previous.get("run_id") if previous else None}


def delete_quietly(kind: str, name: str) -> None:
    """Delete a model or endpoint config the rollout made; one that does not exist is already gone."""
    sagemaker = aws.client("sagemaker")
    try:
        if kind == "model":
            sagemaker.delete_model(ModelName=name)
        else:
            sagemaker.delete_endpoint_config(EndpointConfigName=name)
    except Exception as exc:
        if aws.error_code(exc) not in {"ValidationException", "ResourceNotFound"}:
            raise
