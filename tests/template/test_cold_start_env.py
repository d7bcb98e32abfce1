"""Every function runs with what keeps its cold start short (bench/cold_start.py measures it)."""

from __future__ import annotations


def test_functions_skip_pydantic_plugin_scan(template: dict) -> None:
    # pydantic looks for plugins in every installed distribution's entry points at the first model class it
    # builds; Driftline uses none, so the scan is only a cold-start cost.
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env.get("PYDANTIC_DISABLE_PLUGINS") in ("__all__", "1", "true")
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            own = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            assert "PYDANTIC_DISABLE_PLUGINS" not in own, name
