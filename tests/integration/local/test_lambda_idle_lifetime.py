"""Lambda reclaims idle execution environments; so does the local cloud (`lambda_runtime`'s idle lifetime)."""

from __future__ import annotations

import base64
import json

from driftline_local.lambda_runtime import active_runtime

from .waiting import eventually


def _invoke(aws, name):
    response = aws("lambda").invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    return json.loads(response["Payload"].read()), base64.b64decode(response["LogResult"]).decode()


def test_an_idle_environment_is_shut_down_and_the_next_invocation_starts_a_fresh_one(stack, aws, cloud):
    name = stack.resources["InitializedAtFunction"]
    runtime = active_runtime()
    runtime.wait_until_initialized()
    first, _ = _invoke(aws, name)
    assert runtime.environments(name) == 1
    try:
        # Given an idle lifetime of 60 cloud seconds (1 s at this cloud's time scale)
        runtime.set_idle_lifetime(60)
        # When the environment stays idle: it is shut down
        eventually(lambda: runtime.environments(name) == 0, timeout=30)
    finally:
        runtime.set_idle_lifetime(cloud.ctx.lambda_idle_seconds)

    second, log_tail = _invoke(aws, name)

    # Then the next invocation ran in a fresh environment that imported the handler module again
    assert second["pid"] != first["pid"]
    assert second["initialized_at"] > first["initialized_at"]
    assert "Init Duration:" in log_tail  # its REPORT line says it waited for an init phase, as on Lambda


def test_an_environment_used_within_its_idle_lifetime_stays_warm(stack, aws):
    name = stack.resources["InitializedAtFunction"]
    first, _ = _invoke(aws, name)

    second, log_tail = _invoke(aws, name)

    assert second == first
    assert "Init Duration:" not in log_tail
