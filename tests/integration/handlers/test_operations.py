"""driftline.operations on moto: what a person's retrain, promote, rollback, pause and resume do and refuse.

The whole rollback (endpoint updates) runs on the local cloud (tests/integration/cli/test_cli_act.py): moto
does not implement UpdateEndpoint.
"""

from __future__ import annotations

import contextlib
import json

import boto3
import pytest
from driftline import operations, settings, state
from driftline.errors import UnknownModel

from .conftest import REGION, put_config

MODEL = "bank-marketing"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
WHO = "arn:aws:sts::123456789012:assumed-role/OnCall/alice"
NOW = 1_796_000_000.0  # 2026-11-28T...


def executions(arn: str) -> list[dict]:
    return boto3.client("stepfunctions", region_name=REGION).list_executions(stateMachineArn=arn)["executions"]


@pytest.fixture
def model(stack):
    put_config(stack, CONFIG)
    return stack


@pytest.fixture
def rollout_machine(model, monkeypatch):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(
        name="driftline-canary-rollout",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    monkeypatch.setenv("CANARY_ROLLOUT_ARN", arn)
    settings.settings.cache_clear()
    return arn


def register(run: str, approval: str) -> str:
    """A model package version of MODEL made by `run` (as register_model records it)."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    with contextlib.suppress(sagemaker.exceptions.ClientError):
        sagemaker.create_model_package_group(ModelPackageGroupName=f"driftline-{MODEL}")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=f"driftline-{MODEL}",
        ModelApprovalStatus=approval,
        InferenceSpecification={
            "Containers": [{"Image": "xgboost", "ModelDataUrl": f"s3://artifacts/{run}/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"run_id": run},
    )["ModelPackageArn"]
    state.put_run(MODEL, run, status="REGISTERED", model_package_arn=arn)
    return arn


# --- retrain -------------------------------------------------------------------------------------------


def test_retrain_of_an_unknown_model_is_refused(stack):
    with pytest.raises(UnknownModel, match="unknown model 'nope'"):
        operations.retrain("nope", who=WHO)


def test_retrain_starts_a_manual_run_audits_it_and_announces_it(model):
    outcome = operations.retrain(MODEL, who=WHO, reason="new labels from the call centre", now=NOW)

    run = outcome["run_id"]
    assert run.startswith(f"{MODEL}-manual-")
    [execution] = executions(model.pipeline_arn)
    assert execution["name"] == run
    started = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(started["input"])["trigger"] == "manual"
    record = state.get_run(MODEL, run)
    assert record["trigger"] == "manual" and record["requested_by"] == WHO
    [audit] = state.audits(MODEL)
    assert (audit["op"], audit["who"], audit["reason"], audit["run_id"]) == (
        "retrain",
        WHO,
        "new labels from the call centre",
        run,
    )
    [page] = model.pages()
    assert "retraining run" in page["Subject"] and "alice" in page["Subject"]
    assert "new labels from the call centre" in page["Message"]


def test_retrain_typed_twice_starts_one_run(model):
    first = operations.retrain(MODEL, who=WHO, now=NOW)
    second = operations.retrain(MODEL, who=WHO, now=NOW + 5)

    assert second["duplicate"] is True and second["run_id"] == first["run_id"]
    assert len(executions(model.pipeline_arn)) == 1
    assert len(model.pages()) == 1


def test_retrain_while_a_run_is_running_is_refused(model):
    boto3.client("stepfunctions", region_name=REGION).start_execution(
        stateMachineArn=model.pipeline_arn, name=f"{MODEL}-upload-20261128T065900", input="{}"
    )

    with pytest.raises(operations.OperationInProgress, match=f"{MODEL}-upload-20261128T065900 .* already running"):
        operations.retrain(MODEL, who=WHO)


def test_retrain_of_a_paused_model_is_refused_with_who_paused_it_and_why(model):
    operations.pause(MODEL, who=WHO, reason="INC-42")

    with pytest.raises(operations.ModelPaused, match="paused by .*alice.*INC-42"):
        operations.retrain(MODEL, who=WHO)
    assert executions(model.pipeline_arn) == []


# --- pause / resume --------------------------------------------------------------------------------------


def test_pause_is_recorded_once_and_resume_ends_it(model):
    first = operations.pause(MODEL, who=WHO, reason="INC-42", now=NOW)
    again = operations.pause(MODEL, who="arn:aws:iam::123456789012:user/bob", reason="other", now=NOW + 1)

    assert first["changed"] is True and again["changed"] is False
    paused = state.get_pause(MODEL)
    assert (paused["paused_by"], paused["reason"]) == (WHO, "INC-42")

    ended = operations.resume(MODEL, who=WHO, now=NOW + 60)

    assert ended["changed"] is True and state.get_pause(MODEL) is None
    assert [a["op"] for a in state.audits(MODEL)] == ["resume", "pause"]
    pages = model.pages()
    assert [p["Subject"] for p in pages] == [
        f"[Driftline] {MODEL}: paused by alice",
        f"[Driftline] {MODEL}: resumed by alice",
    ]
    assert {p["MessageAttributes"]["kind"]["Value"] for p in pages} == {"operation"}


def test_resume_of_a_model_that_is_not_paused_changes_nothing(model):
    assert operations.resume(MODEL, who=WHO)["changed"] is False
    assert model.pages() == [] and state.audits(MODEL) == []


# --- promote ---------------------------------------------------------------------------------------------


def test_promote_starts_canary_rollout_with_the_pipelines_input(model, rollout_machine):
    arn = register(f"{MODEL}-upload-20261128T050000", "Approved")

    outcome = operations.promote(MODEL, "1", who=WHO, reason="hand-checked", now=NOW)

    [execution] = executions(rollout_machine)
    assert execution["name"] == outcome["execution"] and outcome["version"] == 1
    started = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(started["input"]) == {
        "model": MODEL,
        "run_id": f"{MODEL}-upload-20261128T050000",
        "model_data_url": f"s3://artifacts/{MODEL}-upload-20261128T050000/model.tar.gz",
        "model_package_arn": arn,
    }
    assert state.audits(MODEL)[0]["op"] == "promote"


def test_promote_typed_twice_starts_one_rollout(model, rollout_machine):
    register(f"{MODEL}-upload-20261128T050000", "Approved")

    operations.promote(MODEL, "1", who=WHO, now=NOW)
    again = operations.promote(MODEL, "1", who=WHO, now=NOW + 3)

    assert again["duplicate"] is True and len(executions(rollout_machine)) == 1


def test_promote_of_an_unknown_version_names_the_versions_there_are(model, rollout_machine):
    register(f"{MODEL}-upload-20261128T050000", "Approved")

    with pytest.raises(operations.UnknownVersion, match=r"no registered version '7'.*1 \(Approved"):
        operations.promote(MODEL, "7", who=WHO)


def test_promote_of_an_unapproved_version_says_how_to_approve_it(model, rollout_machine):
    register(f"{MODEL}-upload-20261128T050000", "PendingManualApproval")

    with pytest.raises(operations.VersionNotUsable, match="PendingManualApproval.*update-model-package"):
        operations.promote(MODEL, "1", who=WHO)
    assert executions(rollout_machine) == []


def test_promote_while_a_rollout_runs_is_refused(model, rollout_machine):
    register(f"{MODEL}-upload-20261128T050000", "Approved")
    state.acquire_rollout_lock(MODEL, f"{MODEL}-upload-20261128T060000")

    with pytest.raises(operations.OperationInProgress, match="upload-20261128T060000"):
        operations.promote(MODEL, "1", who=WHO)


def test_promote_of_a_paused_model_is_refused(model, rollout_machine):
    register(f"{MODEL}-upload-20261128T050000", "Approved")
    operations.pause(MODEL, who=WHO, reason="INC-42")

    with pytest.raises(operations.ModelPaused):
        operations.promote(MODEL, "1", who=WHO)
    assert executions(rollout_machine) == []


# --- rollback (refusals; the rollback itself: tests/integration/cli/test_cli_act.py) -----------------------


def test_rollback_without_a_production_version_is_refused(model):
    with pytest.raises(operations.NothingToRollBack, match="no production version"):
        operations.rollback(MODEL, who=WHO)


def test_rollback_to_a_version_that_never_served_is_refused(model):
    serving = f"{MODEL}-upload-20261128T050000"
    register(serving, "Approved")
    register(f"{MODEL}-upload-20261128T060000", "Approved")
    state.update_run(MODEL, serving, status="DEPLOYED", endpoint_name=f"driftline-{MODEL}")
    state.put_production(MODEL, run_id=serving, endpoint_name=f"driftline-{MODEL}")

    with pytest.raises(operations.VersionNotUsable, match="never served production.*driftline promote"):
        operations.rollback(MODEL, who=WHO, to="2")
    with pytest.raises(operations.NothingToRollBack, match="no earlier deployed version"):
        operations.rollback(MODEL, who=WHO)


def test_rollback_while_a_rollout_runs_is_refused(model):
    state.put_production(MODEL, run_id=f"{MODEL}-upload-20261128T050000", endpoint_name=f"driftline-{MODEL}")
    state.acquire_rollout_lock(MODEL, f"{MODEL}-upload-20261128T060000")

    with pytest.raises(operations.OperationInProgress, match="rolls back by itself"):
        operations.rollback(MODEL, who=WHO)
