"""monitoring.instance_count: 1 by default, SageMaker's processing range (1-100), checked at upload."""

from __future__ import annotations

import pytest
from driftline.config import parse_model_config
from driftline.errors import InvalidModelConfig

BINARY = "name: churn\nproblem_type: binary_classification\ntarget: churned\n"


def rejected(text: str) -> str:
    with pytest.raises(InvalidModelConfig) as raised:
        parse_model_config(text)
    return str(raised.value)


def test_a_config_without_it_monitors_on_one_instance():
    assert parse_model_config(BINARY).monitoring.instance_count == 1


@pytest.mark.parametrize("count", [0, 101])
def test_a_count_outside_sagemakers_processing_range_is_rejected_naming_the_field(count):
    assert "monitoring.instance_count" in rejected(BINARY + f"monitoring:\n  instance_count: {count}\n")


def test_several_instances_with_a_model_monitor_schedule_are_rejected():
    message = rejected(BINARY + "monitoring:\n  instance_count: 2\n  model_monitor_schedule: churn-schedule\n")

    assert message.startswith("monitoring.instance_count: ") and "model_monitor_schedule" in message
