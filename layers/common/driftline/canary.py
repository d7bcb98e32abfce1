"""CanaryRollout's watch: bake each traffic step while the candidate's alarms stay quiet, then shift on.

Called in a loop by the state machine; every call is a fresh look (idempotent) and answers what to do
next: `wait` (keep baking), `shift` (next traffic step), `finalize` (all steps baked: make the
candidate the only variant), `promote` (guardrails: SageMaker kept the candidate) or `rollback`.
Before a shadow-canary's canary, the same step judges the shadow test (`driftline.shadow`): `wait`, `pass`, `fail`.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from driftline import aws
from driftline.alarms import firing
from driftline.observability import logger


class CanaryWatch(BaseModel):
    model: str
    run_id: str
    strategy: str  # canary | guardrails
    endpoint_name: str
    expected_config: str  # the endpoint config that must be live while this step bakes
    candidate_variant: str
    production_variant: str | None = None
    alarms: list[str]
    steps: list[int]
    step_index: int = 0
    bake_seconds: int
    alarm_poll_seconds: int
    started_at: float | None = None


def watch(event: dict[str, Any]) -> dict[str, Any]:
    """The shadow test's judge when the event carries one (`judge`), the A/B test's (`ab`), else the canary's watch."""
    # The A/B and shadow judges (and the quality-job and capture modules the A/B test reads) load only for a model
    # whose strategy uses them: a plain canary's watch does not build their models at init.
    if event.get("ab"):
        from driftline.ab_test import ABJudge, judge_ab

        ab = {**event["ab"], "started_at": event.get("started_at"), "extended": bool(event.get("extended"))}
        return judge_ab(ABJudge.model_validate(ab))
    if event.get("judge"):
        from driftline.shadow import ShadowJudge, judge_shadow

        return judge_shadow(ShadowJudge.model_validate({**event["judge"], "started_at": event.get("started_at")}))
    return watch_canary(CanaryWatch.model_validate(event))


def watch_canary(watch: CanaryWatch, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    described = aws.client("sagemaker").describe_endpoint(EndpointName=watch.endpoint_name)
    step = f"{watch.steps[watch.step_index]}% of traffic on the candidate"
    if described.get("EndpointConfigName") != watch.expected_config:
        if watch.strategy == "guardrails":
            step = "SageMaker blue/green canary"
        return _rollback(
            watch,
            step,
            error={
                "Error": "EndpointUpdateFailed",
                "Cause": (
                    f"endpoint {watch.endpoint_name} serves {described.get('EndpointConfigName')} instead of "
                    f"{watch.expected_config}: {described.get('FailureReason') or 'the update was rolled back'}"
                ),
            },
            alarms=firing(watch.alarms),
        )
    if watch.strategy == "guardrails":
        return {"action": "promote"}
    alarms = firing(watch.alarms)
    if alarms:
        return _rollback(watch, step, alarms=alarms)
    started = watch.started_at or now
    remaining = watch.bake_seconds - (now - started)
    if remaining > 0:
        return {
            "action": "wait",
            "step_index": watch.step_index,
            "started_at": started,
            "wait_seconds": max(1, int(min(remaining, watch.alarm_poll_seconds) + 0.999)),
        }
    if watch.step_index + 1 < len(watch.steps):
        index = watch.step_index + 1
        share = watch.steps[index] / 100
        logger.info("shifting traffic", extra={"endpoint": watch.endpoint_name, "percent": watch.steps[index]})
        return {
            "action": "shift",
            "step_index": index,
            "percent": watch.steps[index],
            "started_at": None,
            "weights": [
                {"VariantName": watch.production_variant, "DesiredWeight": round(1 - share, 4)},
                {"VariantName": watch.candidate_variant, "DesiredWeight": share},
            ],
        }
    return {"action": "finalize"}


def _rollback(
    watch: CanaryWatch, step: str, *, alarms: list[dict[str, Any]] | None = None, error: dict[str, str] | None = None
) -> dict[str, Any]:
    logger.warning("rolling back", extra={"endpoint": watch.endpoint_name, "step": step, "alarms": alarms})
    return {"action": "rollback", "failed_step": step, "alarm": alarms[0] if alarms else None, "error": error}
