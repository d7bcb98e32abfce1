"""A handler's init phase loads the layer modules its events use, not the ones only other handlers need.

Each case imports a handler's app.py in a fresh interpreter (as a Lambda cold start does) and reads which
driftline modules it loaded; bench/cold_start.py measures what that costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = os.environ | {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "DATA_BUCKET": "d",
    "ARTIFACT_BUCKET": "a",
    "STATE_TABLE": "t",
    "ON_CALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
    "PYTHONPATH": str(REPO / "layers" / "common"),
}
PROBE = "import sys, json; sys.path.insert(0, sys.argv[1]); import app; print(json.dumps(sorted(sys.modules)))"


def loaded(handler: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "functions" / handler)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("handler", ["on_alarm", "start_monitoring", "watch_canary"])
def test_handlers_that_read_no_csv_and_judge_no_instance_skip_those_modules(handler: str) -> None:
    modules = loaded(handler)
    assert "driftline.observability" in modules  # the probe did load the handler's chain
    assert not {"driftline.datasets", "driftline.sizing", "driftline.instance_types"} & modules


@pytest.mark.parametrize(
    ("handler", "module"), [("on_data_uploaded", "driftline.datasets"), ("report_run", "driftline.sizing")]
)
def test_handlers_that_use_them_still_load_them_at_init(handler: str, module: str) -> None:
    assert module in loaded(handler)


IDEMPOTENCY = "aws_lambda_powertools.utilities.idempotency"
DEDUPING = [
    "on_data_uploaded",
    "on_batch_uploaded",
    "on_labels_uploaded",
    "on_monitoring_completed",
    "on_transform_state_change",
]


def test_page_forwarding_builds_no_pydantic_model_at_init() -> None:
    # Given the on-call topic's subscriber, whose only inputs are its own settings and SNS records
    modules = loaded("forward_pages")
    # Then its cold start neither imports pydantic nor builds a model (frozen dataclasses hold both)
    assert "driftline.page_forwarding" in modules
    assert not {"pydantic", "pydantic_core"} & modules


@pytest.mark.parametrize(
    "handler", ["on_alarm", "start_monitoring", "watch_canary", "plan_deployment", "roll_back", "record_deployment"]
)
def test_handlers_that_never_deduplicate_skip_powertools_idempotency(handler: str) -> None:
    modules = loaded(handler)
    assert "driftline.observability" in modules
    assert IDEMPOTENCY not in modules


@pytest.mark.parametrize("handler", DEDUPING)
def test_handlers_that_deduplicate_every_event_load_idempotency_at_init(handler: str) -> None:
    assert IDEMPOTENCY in loaded(handler)


def test_a_canary_watch_loads_neither_the_model_config_nor_the_ab_and_shadow_judges() -> None:
    modules = loaded("watch_canary")
    assert "driftline.canary" in modules
    assert not {"driftline.config", "driftline.ab_test", "driftline.shadow", "driftline.quality"} & modules


def test_planning_a_deployment_loads_neither_operations_nor_monitoring() -> None:
    modules = loaded("plan_deployment")
    assert "driftline.deployment" in modules
    assert not {"driftline.operations", "driftline.monitoring", "driftline.quality", "driftline.uploads"} & modules


@pytest.mark.parametrize("handler", ["prepare_run", "prepare_evaluation", "check_quality_gate", "register_model"])
def test_pipeline_steps_load_tuning_only_for_a_model_that_tunes(handler: str) -> None:
    modules = loaded(handler)
    assert "driftline.pipeline" in modules
    assert not {"driftline.tuning", "driftline.training"} & modules


def test_a_training_job_state_change_builds_none_of_the_model_configs_models() -> None:
    # Given the handler that completes the pipeline's training wait (it reads the claimed token, never a config)
    modules = loaded("on_training_state_change")
    # Then model.yaml's models and the request builders are not loaded at its init
    assert "driftline.training" in modules
    assert not {"driftline.config", "driftline.tuning_config", "driftline.sagemaker_requests"} & modules


@pytest.mark.parametrize("handler", ["start_training", "report_run"])
def test_handlers_whose_every_event_reads_a_config_build_its_models_at_init(handler: str) -> None:
    assert "driftline.config" in loaded(handler)


def test_model_yaml_models_declare_their_fields_as_types_not_strings() -> None:
    # Every string annotation costs pydantic a compile() and an eval per field at each cold start (~116 fields here);
    # model.yaml's modules therefore do not use `from __future__ import annotations`.
    from driftline import config, tuning_config
    from pydantic import BaseModel

    models = [
        value
        for module in (config, tuning_config)
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
    ]
    assert len(models) > 10
    assert [
        (m.__name__, n) for m in models for n, a in vars(m).get("__annotations__", {}).items() if isinstance(a, str)
    ] == []


@pytest.mark.parametrize("handler", ["start_monitoring", "on_monitoring_completed", "record_deployment"])
def test_handlers_of_the_quality_job_skip_the_labels_upload_code(handler: str) -> None:
    # Given handlers that start, publish or alarm on the model quality job (driftline.quality)
    modules = loaded(handler)
    # Then the labels upload's checks and the upload/quarantine code they use are not loaded at their init
    assert "driftline.quality" in modules
    assert not {"driftline.labels", "driftline.uploads", "driftline.drops"} & modules


def test_the_labels_upload_handler_loads_its_checks_at_init() -> None:
    assert {"driftline.labels", "driftline.drops"} <= loaded("on_labels_uploaded")
