"""Every Retry/Catch on a SageMaker task names an error that integration can raise.

Step Functions names a SageMaker API error after the SDK exception class it becomes:
- optimized `sagemaker:<api>` tasks: the modelled codes (`SageMaker.ResourceInUseException`, ...) and,
  for every other code (ThrottlingException, ValidationException, InternalFailure, ...),
  `SageMaker.AmazonSageMakerException` (the guide's own examples retry on it);
- `aws-sdk:sagemaker:<api>` tasks: `SageMaker.<Code>Exception` for the modelled codes and the SDK's
  base exception `SageMaker.SageMakerException` for the rest.
A name no integration raises (`SageMaker.ThrottlingException`) makes a Retry that never fires.
"""

from __future__ import annotations

import json

import pytest

from .conftest import REPO

ASL_FILES = sorted((REPO / "statemachines").glob("*.asl.json"))
MODELLED = {
    "SageMaker.ResourceLimitExceededException",
    "SageMaker.ResourceInUseException",
    "SageMaker.ResourceNotFoundException",
    "SageMaker.ConflictException",
}
RAISED = {
    "arn:aws:states:::sagemaker:": MODELLED | {"SageMaker.AmazonSageMakerException"},
    "arn:aws:states:::aws-sdk:sagemaker:": MODELLED | {"SageMaker.SageMakerException"},
}


def _unraisable(definition: dict) -> list[tuple[str, str]]:
    found = []
    for name, state in definition["States"].items():
        resource = state.get("Resource", "")
        raised = next((names for prefix, names in RAISED.items() if resource.startswith(prefix)), None)
        if raised is None:
            continue
        for handler in state.get("Retry", []) + state.get("Catch", []):
            found += [(name, e) for e in handler["ErrorEquals"] if not e.startswith("States.") and e not in raised]
    return found


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_sagemaker_tasks_retry_and_catch_only_errors_their_integration_raises(path):
    assert _unraisable(json.loads(path.read_text())) == []


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_every_sagemaker_task_retries_transient_errors(path):
    for name, state in json.loads(path.read_text())["States"].items():
        resource = state.get("Resource", "")
        transient = {
            "arn:aws:states:::sagemaker:": "SageMaker.AmazonSageMakerException",
            "arn:aws:states:::aws-sdk:sagemaker:": "SageMaker.SageMakerException",
        }
        wanted = next((e for prefix, e in transient.items() if resource.startswith(prefix)), None)
        if wanted:
            assert any(wanted in r["ErrorEquals"] for r in state.get("Retry", [])), name
