"""UpdateEndpoint with a DeploymentConfig (deployment guardrails): the plan and the alarms it watches.

The new config's variants (the green fleet) start beside the old ones (blue) and take a growing share of
requests: ALL_AT_ONCE (100 %), CANARY (CanarySize of the green capacity, then 100 %) or LINEAR
(LinearStepSize more per step). Each step bakes WaitIntervalInSeconds (cloud time) while the
AutoRollbackConfiguration alarms are watched. `endpoint_host.EndpointHost` carries the plan out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._aws import LOG

ALARM_POLL_SECONDS = 0.1  # real seconds between looks at the auto-rollback alarms while baking


@dataclass(frozen=True)
class BlueGreenPlan:
    """What a DeploymentConfig asks of one UpdateEndpoint: the green fleet's traffic steps and the guardrails."""

    mode: str  # ALL_AT_ONCE | CANARY | LINEAR
    steps: tuple[float, ...]  # the green fleet's share of requests at each step; the last is 1.0
    wait_seconds: float  # WaitIntervalInSeconds: the bake after every step (cloud time)
    termination_wait_seconds: float  # TerminationWaitInSeconds: blue stays up this long after the last bake
    timeout_seconds: float | None  # MaximumExecutionTimeoutInSeconds
    alarms: tuple[str, ...]  # AutoRollbackConfiguration.Alarms


def blue_green_plan(deployment: dict[str, Any], green_instances: int) -> BlueGreenPlan:
    """The plan for a DeploymentConfig without RollingUpdatePolicy; ValueError says what AWS would refuse.

    A capacity share is of the new fleet (`green_instances` instances): CAPACITY_PERCENT directly,
    INSTANCE_COUNT as a fraction of it. Local variants have no instances to round to, so the share is the
    share of requests. Without BlueGreenUpdatePolicy SageMaker shifts all at once.
    """
    policy = deployment.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    mode = routing.get("Type")
    if mode == "ALL_AT_ONCE":
        steps: tuple[float, ...] = (1.0,)
    elif mode == "CANARY":
        canary = _capacity_share(routing.get("CanarySize"), "CanarySize", green_instances, 0.0, 0.5)
        steps = (canary, 1.0)
    elif mode == "LINEAR":
        step = _capacity_share(routing.get("LinearStepSize"), "LinearStepSize", green_instances, 0.1, 0.5)
        count = math.ceil(1.0 / step - 1e-9)
        steps = tuple(min(1.0, round(step * (index + 1), 6)) for index in range(count))
    else:
        raise ValueError(f"TrafficRoutingConfiguration.Type must be one of ALL_AT_ONCE, CANARY, LINEAR, not {mode!r}.")
    timeout = policy.get("MaximumExecutionTimeoutInSeconds")
    alarms = (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    return BlueGreenPlan(
        mode=mode,
        steps=steps,
        wait_seconds=float(routing.get("WaitIntervalInSeconds") or 0),
        termination_wait_seconds=float(policy.get("TerminationWaitInSeconds") or 0),
        timeout_seconds=float(timeout) if timeout else None,
        alarms=tuple(alarm["AlarmName"] for alarm in alarms if alarm.get("AlarmName")),
    )


def _capacity_share(size: dict[str, Any] | None, what: str, instances: int, least: float, most: float) -> float:
    if not size:
        raise ValueError(f"TrafficRoutingConfiguration.{what} is required for this traffic routing type.")
    value = float(size.get("Value") or 0)
    if size.get("Type") == "CAPACITY_PERCENT":
        share = value / 100.0
    elif size.get("Type") == "INSTANCE_COUNT":
        share = value / max(1, instances)
    else:
        raise ValueError(f"{what}.Type must be INSTANCE_COUNT or CAPACITY_PERCENT, not {size.get('Type')!r}.")
    if share <= 0 or not least <= share <= most:
        bounds = f"at most {most:.0%}" if least == 0 else f"{least:.0%}-{most:.0%}"
        raise ValueError(
            f"{what} {size.get('Value')} {size.get('Type')} is {share:.0%} of the new fleet's {instances} "
            f"instance(s); it must be {bounds} of the new fleet's capacity."
        )
    return share


def alarms_in_alarm(account: str, region: str, names: tuple[str, ...]) -> list[str]:
    """The alarms among `names` that are in ALARM in moto's CloudWatch (an unknown name is never in ALARM)."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[account][region].alarms
    return [name for name in names if getattr(alarms.get(name), "state_value", None) == "ALARM"]


def evaluate_alarms() -> None:
    """Have the local alarm evaluator judge every alarm now, when it runs (`driftline_local.alarms`)."""
    from driftline_local import alarms

    try:
        alarms.evaluate_now()
    except RuntimeError:  # not installed: alarm states change only through SetAlarmState
        return
    except Exception:  # a bad alarm must not roll an update back; the evaluator's own loop logs it too
        LOG.exception("could not evaluate the alarms")


class RollBack(Exception):
    """A blue/green update must roll back; the message becomes the endpoint's FailureReason."""


class Abandoned(Exception):
    """The endpoint was deleted (or the cloud stopped) during a blue/green update."""
