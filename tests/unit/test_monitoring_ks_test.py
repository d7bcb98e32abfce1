"""monitoring.ks_test: off by default, checked at upload, and handed to the drift monitor job as --ks-test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from driftline.config import parse_model_config
from driftline.errors import InvalidModelConfig
from driftline.sagemaker_requests import RunContext, monitor_request

JOBS = Path(__file__).resolve().parents[2] / "jobs"
BINARY = "name: churn\nproblem_type: binary_classification\ntarget: churned\n"


def rejected(text: str) -> str:
    with pytest.raises(InvalidModelConfig) as raised:
        parse_model_config(text)
    return str(raised.value)


def request_for(text: str) -> dict:
    config = parse_model_config(text)
    ctx = RunContext(
        config, "churn-20260101t000000", "data", "artifacts", "arn:aws:iam::123456789012:role/sm", "t", "p"
    )
    window = ("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    return monitor_request(
        ctx, "churn-monitor", "s3://artifacts/churn/monitoring/j/", [], window, ks_test=config.monitoring.ks_test
    )


def job_arguments(request: dict) -> list[str]:
    """The container's arguments, as the monitor job's own parser reads them."""
    if str(JOBS) not in sys.path:
        sys.path.insert(0, str(JOBS))
    spec = importlib.util.spec_from_file_location("driftline_job_monitor_args", JOBS / "monitor.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_args(request["AppSpecification"]["ContainerArguments"])


def test_a_config_without_ks_test_leaves_it_off():
    assert parse_model_config(BINARY).monitoring.ks_test is False


def test_ks_test_true_is_accepted():
    assert parse_model_config(BINARY + "monitoring:\n  ks_test: true\n").monitoring.ks_test is True


def test_a_ks_test_that_is_not_a_boolean_is_rejected_naming_the_field():
    assert "monitoring.ks_test" in rejected(BINARY + "monitoring:\n  ks_test: sometimes\n")


def test_ks_test_with_a_model_monitor_schedule_is_rejected():
    message = rejected(BINARY + "monitoring:\n  ks_test: true\n  model_monitor_schedule: churn-schedule\n")

    assert message.startswith("monitoring.ks_test: ") and "model_monitor_schedule" in message


def test_the_monitor_job_runs_without_ks_by_default():
    args = job_arguments(request_for(BINARY))

    assert args.ks_test is False


def test_ks_test_in_the_config_reaches_the_monitor_job():
    args = job_arguments(request_for(BINARY + "monitoring:\n  ks_test: true\n"))

    assert args.ks_test is True and args.window_end == args.window_start.replace(hour=1)
