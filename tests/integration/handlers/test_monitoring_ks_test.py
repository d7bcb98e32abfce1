"""monitoring.ks_test travels from the uploaded model.yaml to the scheduled drift monitor's arguments."""

from __future__ import annotations

import boto3
import pytest
from driftline import state

from .conftest import REGION, invoke, put_config

MODEL = "bank-marketing"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"


@pytest.mark.parametrize(("monitoring", "expected"), [("", False), ("monitoring:\n  ks_test: true\n", True)])
def test_the_scheduled_monitor_runs_the_ks_test_only_when_the_config_asks(stack, monitoring, expected):
    put_config(stack, CONFIG + monitoring)
    state.put_production(
        MODEL,
        run_id="bank-marketing-upload-20261128T050000",
        endpoint_name="driftline-bank-marketing",
        variant="upload-20261128T050000",
    )

    started = invoke("start_monitoring", {"model": MODEL, "scheduled_time": "2026-11-28T07:00:00Z"})

    job = boto3.client("sagemaker", region_name=REGION).describe_processing_job(ProcessingJobName=started["job"])
    assert started["action"] == "started"
    assert ("--ks-test" in job["AppSpecification"]["ContainerArguments"]) is expected
