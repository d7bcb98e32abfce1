"""The demo's shadow test: a faulty candidate rolled out with `deployment.strategy: shadow-canary` under steady
customer traffic is stopped by its shadow test, and no customer request fails.

For the lead's `make demo` (local/driftline_local/demo.py): call `shadow_test_story` once a model serves alone
on the endpoint. It switches the model's config to shadow-canary (`config_text` plus the shadow settings),
rolls out `model_data_url` as a new candidate, faults it (every mirrored request fails) the moment it is the
endpoint's shadow variant, waits for the rollout to end, prints what happened and returns the facts. It puts
the model's config back (`config_text`) before returning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from driftline_local.loop import Clients, Stack, Traffic, onboard_model, start_rollout, wait_for_execution
from driftline_local.sagemaker.endpoints import set_fault

SHADOW_SETTINGS = "  strategy: shadow-canary\n  shadow_seconds: {seconds}\n  shadow_min_requests: {requests}\n"


def shadow_config(config_text: str, seconds: int = 8, min_requests: int = 30) -> str:
    """`config_text` with the shadow-canary settings added to its `deployment:` section (or a new one)."""
    settings = SHADOW_SETTINGS.format(seconds=seconds, requests=min_requests)
    if "\ndeployment:\n" in config_text:
        return config_text.replace("\ndeployment:\n", "\ndeployment:\n" + settings, 1)
    return config_text.rstrip("\n") + "\ndeployment:\n" + settings


def shadow_test_story(
    clients: Clients,
    stack: Stack,
    model: str,
    config_text: str,
    model_data_url: str,
    rows: pd.DataFrame,
    say: Callable[[str], None] = print,
    run_id: str | None = None,
    per_second: float = 15.0,
) -> dict[str, Any]:
    """Roll a faulty candidate out with shadow-canary under traffic; print and return what happened."""
    endpoint = f"driftline-{model}"
    run = run_id or f"{model}-manual-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    variant = run.removeprefix(f"{model}-")
    onboard_model(clients, stack, shadow_config(config_text), model)
    say(f"== shadow test: candidate {variant} (faulty: every request it answers fails) with strategy shadow-canary")
    sagemaker = clients("sagemaker")
    try:
        with Traffic(clients, endpoint, rows, per_second=per_second) as traffic:
            execution = start_rollout(clients, stack, model, run, model_data_url)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                described = sagemaker.describe_endpoint(EndpointName=endpoint)
                if variant in [v["VariantName"] for v in described.get("ShadowProductionVariants") or []]:
                    break
                time.sleep(0.2)
            else:
                raise TimeoutError(f"{variant} never became the shadow variant of {endpoint}")
            set_fault(endpoint, variant, error_rate=1.0)
            say(f"{variant} is the shadow variant: it gets a copy of every request; fault injected")
            outcome = wait_for_execution(clients, execution)
    finally:
        onboard_model(clients, stack, config_text, model)
    item = clients("dynamodb").get_item(
        TableName=stack.state_table, Key={"pk": {"S": f"MODEL#{model}"}, "sk": {"S": f"RUN#{run}"}}
    )["Item"]
    shadow = item.get("shadow_test", {}).get("M", {})
    facts = {
        "status": outcome["status"],
        "error": outcome.get("error"),
        "customer_requests": traffic.log.sent,
        "customer_requests_failed": traffic.log.failed,
        "served_by": traffic.log.served_by(),
        "mirrored": int(shadow.get("requests", {}).get("N", 0)),
        "mirrored_failed": int(shadow.get("errors", {}).get("N", 0)),
        "reasons": [r.get("S") for r in shadow.get("reasons", {}).get("L", [])],
    }
    say(
        f"rollout ended {facts['status']} ({facts['error']}): the shadow failed {facts['mirrored_failed']} of "
        f"{facts['mirrored']} mirrored requests; customers sent {facts['customer_requests']} requests and "
        f"{facts['customer_requests_failed']} failed; served by {facts['served_by']}"
    )
    for reason in facts["reasons"]:
        say(f"  shadow test: {reason}")
    return facts
