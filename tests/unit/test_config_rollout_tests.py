"""Upload-time rules of the shadow and A/B tests: a test judged more often than an execution's history holds is
refused; the defaults are accepted."""

from __future__ import annotations

import pytest
from driftline.config import parse_model_config
from driftline.errors import InvalidModelConfig

BINARY = "name: churn\nproblem_type: binary_classification\ntarget: churned\n"


def test_default_shadow_canary_and_ab_configs_are_accepted():
    for strategy in ("shadow-canary", "ab"):
        config = parse_model_config(BINARY + f"deployment:\n  strategy: {strategy}\n")
        assert config.deployment.strategy == strategy


def test_shadow_test_checked_more_often_than_an_execution_holds_is_refused():
    text = (
        BINARY + "deployment:\n  strategy: shadow-canary\n  shadow_seconds: 86400\ntimings:\n  alarm_poll_seconds: 30\n"
    )

    with pytest.raises(InvalidModelConfig, match="deployment.shadow_seconds: with an alarm check every 30 s"):
        parse_model_config(text)


def test_ab_test_counts_its_one_extension():
    text = BINARY + "deployment:\n  strategy: ab\n  ab_seconds: 36000\ntimings:\n  alarm_poll_seconds: 30\n"

    with pytest.raises(InvalidModelConfig, match="deployment.ab_seconds: .* makes 2400 checks"):
        parse_model_config(text)


def test_ab_candidate_share_must_leave_production_some_traffic():
    with pytest.raises(InvalidModelConfig, match="ab_candidate_percent"):
        parse_model_config(BINARY + "deployment:\n  strategy: ab\n  ab_candidate_percent: 100\n")
