"""Every field a request builder sets reaches SageMaker: the ASL copies requests field by field, so a
field the builder adds and the state machine does not pass is dropped without a word (network
isolation, a VPC or a KMS key that was never applied)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from driftline.config import ModelConfig
from driftline.deployment import _shadow_config
from driftline.sagemaker_requests import (
    RunContext,
    endpoint_config_request,
    evaluation_request,
    model_request,
    preprocess_request,
    production_variant,
    statistics_request,
)

REPO = Path(__file__).resolve().parents[2]
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = RunContext(
    ModelConfig.model_validate({"name": "churn", "problem_type": "binary_classification", "target": "y"}),
    "churn-upload-20260101T000000", "data", "artifacts", "arn:aws:iam::123456789012:role/sm",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    KEY, subnet_ids=("subnet-1",), security_group_ids=("sg-1",),
)  # fmt: skip
SHARDED = RunContext(
    ModelConfig.model_validate(
        {"name": "churn", "problem_type": "binary_classification", "target": "y", "processing": {"instance_count": 2}}
    ),
    *(CONTEXT.run_id, CONTEXT.data_bucket, CONTEXT.artifact_bucket, CONTEXT.role_arn),
    *(CONTEXT.training_image, CONTEXT.processing_image, KEY),
    subnet_ids=("subnet-1",), security_group_ids=("sg-1",),
)  # fmt: skip
MODEL_URI = "s3://artifacts/churn/runs/r/model/model.tar.gz"
VARIANTS = [production_variant(CONTEXT, "v1", "m", 1.0)]

# Which builder fills the object a state reads its fields from (the last segment of the path), and
# the SageMaker API whose request it is.
BUILDERS = {
    "preprocess": ("createProcessingJob", preprocess_request(CONTEXT)),
    # processing.instance_count > 1: the sharded statistics job before preprocess (None with one instance)
    "statistics": ("createProcessingJob", statistics_request(SHARDED)),
    "request": ("createProcessingJob", evaluation_request(CONTEXT, MODEL_URI, MODEL_URI)),
    "model": ("createModel", model_request(CONTEXT, MODEL_URI)),
    "endpoint_config": ("createEndpointConfig", endpoint_config_request(CONTEXT, "config", VARIANTS)),
    "canary_config": ("createEndpointConfig", endpoint_config_request(CONTEXT, "canary", VARIANTS)),
    "shadow_config": (
        "createEndpointConfig",
        _shadow_config(CONTEXT, {"variant": "v1", "model_name": "m"}, "v2", "m2"),
    ),
}
# Fields a state sets itself instead of reading them from the builder's request.
SET_BY_THE_STATE = {"RoleArn"}
# Fields knowingly not passed, each with the reason (docs/decisions.md).
NOT_PASSED = {
    # The endpoint's storage-volume key is optional (AWS refuses it on NVMe-only instance types), and a
    # JSONPath Parameters block cannot pass a field only when present; see docs/decisions.md.
    ("endpoint_config", "KmsKeyId"),
    ("canary_config", "KmsKeyId"),
    ("shadow_config", "KmsKeyId"),
}
_SOURCE = re.compile(r"^\$\.(?:[\w.]+\.)?(\w+)\.(\w+)$")


def _tasks(states: dict) -> Iterator[tuple[str, dict]]:
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])
        if "Iterator" in state or "ItemProcessor" in state:
            yield from _tasks((state.get("ItemProcessor") or state["Iterator"])["States"])


def _sagemaker_tasks() -> Iterator[tuple[str, str, str, set[str]]]:
    for path in sorted((REPO / "statemachines").glob("*.asl.json")):
        for name, state in _tasks(json.loads(path.read_text())["States"]):
            if ":sagemaker:" not in state["Resource"]:
                continue
            sources: dict[str, set[str]] = {}
            for field, value in state.get("Parameters", {}).items():
                match = _SOURCE.match(value) if field.endswith(".$") and isinstance(value, str) else None
                if match and match.group(2) == field[:-2]:
                    sources.setdefault(match.group(1), set()).add(field[:-2])
            api = state["Resource"].rsplit(":", 1)[-1].split(".")[0]
            for source, fields in sources.items():
                if source in BUILDERS and BUILDERS[source][0] == api:
                    yield path.name, name, source, fields | (set(state["Parameters"]) & SET_BY_THE_STATE)


TASKS = list(_sagemaker_tasks())


def test_every_builder_is_read_by_some_state() -> None:
    assert {source for _, _, source, _ in TASKS} == set(BUILDERS)


@pytest.mark.parametrize(("machine", "state", "source", "passed"), TASKS, ids=[f"{m}:{s}" for m, s, _, _ in TASKS])
def test_state_passes_every_field_its_request_builder_sets(
    machine: str, state: str, source: str, passed: set[str]
) -> None:
    built = set(BUILDERS[source][1]) - {field for src, field in NOT_PASSED if src == source}
    dropped = sorted(built - passed)
    assert not dropped, f"{machine} '{state}' drops {dropped} that the request builder sets"
