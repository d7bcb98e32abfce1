"""Every optimized SageMaker task passes only the fields Step Functions' integration supports.

AWS refuses any other field at CreateStateMachine (`SCHEMA_VALIDATION_FAILED`), so the first deploy
would roll back; the allow-list per API is local/driftline_local/sfn_sagemaker_parameters.json, copied
from the Step Functions guide. Tasks that need more of the API use `aws-sdk:sagemaker:<api>`.
"""

from __future__ import annotations

import json

import pytest
from driftline_local.sfn_parameters import supported_parameters, unsupported_fields

from .conftest import REPO

ASL_FILES = sorted((REPO / "statemachines").glob("*.asl.json"))
OPTIMIZED = "arn:aws:states:::sagemaker:"


def _resources(definition: dict) -> list[str]:
    found = []
    for state in definition["States"].values():
        found.append(state.get("Resource", ""))
        for branch in state.get("Branches") or []:
            found += _resources(branch)
    return found


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_optimized_sagemaker_tasks_pass_only_supported_fields(path):
    assert unsupported_fields(json.loads(path.read_text())) == []


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_optimized_sagemaker_action_is_in_the_allow_list(path):
    actions = {
        r.removeprefix(OPTIMIZED).split(".")[0]
        for r in _resources(json.loads(path.read_text()))
        if r.startswith(OPTIMIZED)
    }

    assert actions <= set(supported_parameters())


def test_the_check_finds_a_field_the_integration_does_not_support():
    definition = {
        "StartAt": "Make config",
        "States": {
            "Make config": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createEndpointConfig",
                "End": True,
                "Parameters": {"EndpointConfigName": "c", "ProductionVariants": [], "DataCaptureConfig.$": "$.capture"},
            }
        },
    }

    assert unsupported_fields(definition) == [("/States/Make config/Parameters", "DataCaptureConfig")]


def test_sdk_integrations_are_not_limited_to_the_optimized_fields():
    definition = {
        "StartAt": "Make config",
        "States": {
            "Make config": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:createEndpointConfig",
                "End": True,
                "Parameters": {"EndpointConfigName": "c", "ProductionVariants": [], "DataCaptureConfig.$": "$.capture"},
            }
        },
    }

    assert unsupported_fields(definition) == []
