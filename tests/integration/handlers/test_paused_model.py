"""A paused model (`driftline pause`): the automatic paths keep their hands off and say so."""

from __future__ import annotations

import boto3
import pytest
from driftline import operations, state

from .conftest import REGION, invoke, put_config, sample, upload

MODEL = "bank-marketing"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
GOOD = b"age,job,y\n41,admin.,no\n35,technician,yes\n52,retired,no\n"
WHO = "arn:aws:iam::123456789012:user/alice"
RAGGED = b"age,job,y\n41,admin.,no,oops\n"


def pipeline_runs(stack) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return [e["name"] for e in sfn.list_executions(stateMachineArn=stack.pipeline_arn)["executions"]]


def drift_alarm() -> dict:
    event = sample("alarm_drift.json")
    event["detail"]["alarmName"] = f"driftline-{MODEL}-drift"
    event["detail"]["state"]["value"] = "ALARM"
    return event


@pytest.fixture
def paused(stack):
    put_config(stack, CONFIG)
    operations.pause(MODEL, who=WHO, reason="label feed broken, INC-42")
    stack.pages()  # the pause's own announcement
    return stack


def test_drift_alarm_of_a_paused_model_starts_no_retrain_and_the_page_says_paused(paused):
    outcome = invoke("on_alarm", drift_alarm())

    assert outcome["retrain"]["started"] is False and outcome["retrain"]["paused"] is True
    assert pipeline_runs(paused) == []
    [page] = paused.pages()
    assert "model paused" in page["Subject"]
    assert "paused by arn:aws:iam::123456789012:user/alice" in page["Message"]
    assert "label feed broken, INC-42" in page["Message"]
    assert f"driftline resume {MODEL}" in page["Message"]


def test_drift_alarm_after_resume_retrains_again(paused):
    operations.resume(MODEL, who=WHO)

    outcome = invoke("on_alarm", drift_alarm())

    assert outcome["retrain"]["started"] is True
    assert pipeline_runs(paused) == [outcome["retrain"]["run_id"]]


def test_upload_for_a_paused_model_is_kept_starts_no_run_and_pages_once(paused):
    first = invoke("on_data_uploaded", upload(paused, f"incoming/{MODEL}/a.csv", GOOD, sequencer="01"))
    second = invoke("on_data_uploaded", upload(paused, f"incoming/{MODEL}/b.csv", GOOD, sequencer="02"))

    assert first["outcome"] == second["outcome"] == "kept"
    assert "paused" in first["reason"]
    assert pipeline_runs(paused) == []
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=paused.data_bucket, Prefix="incoming/")
    assert sorted(o["Key"] for o in listing["Contents"]) == [f"incoming/{MODEL}/a.csv", f"incoming/{MODEL}/b.csv"]
    [page] = paused.pages()
    assert "upload kept, model paused" in page["Subject"]
    assert "label feed broken, INC-42" in page["Message"] and f"driftline retrain {MODEL}" in page["Message"]
    assert state.get_pause(MODEL)["uploads_kept"] == 2


def test_upload_after_resume_starts_a_run(paused):
    operations.resume(MODEL, who=WHO)

    outcome = invoke("on_data_uploaded", upload(paused, f"incoming/{MODEL}/a.csv", GOOD, sequencer="01"))

    assert outcome["outcome"] == "started" and pipeline_runs(paused) == [outcome["run_id"]]


def test_rollout_of_a_paused_model_is_held_and_its_candidate_kept_for_promote(paused):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=f"driftline-{MODEL}")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=f"driftline-{MODEL}",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "xgboost", "ModelDataUrl": "s3://a/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    run = f"{MODEL}-upload-20261128T050000"
    state.put_run(MODEL, run, status="REGISTERED", model_package_arn=arn)
    deploy = {"model": MODEL, "run_id": run, "model_data_url": "s3://a/model.tar.gz", "model_package_arn": arn}

    # When CanaryRollout plans the rollout: refused, and its Catch hands the error to the rollback step
    with pytest.raises(operations.ModelPaused) as refused:
        invoke("plan_deployment", deploy)
    invoke(
        "roll_back",
        deploy
        | {
            "execution": run,
            "plan": None,
            "failed_step": "Plan the rollout",
            "error": {"Error": type(refused.value).__name__, "Cause": str(refused.value)},
        },
    )

    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert state.get_run(MODEL, run)["status"] == "HELD"
    assert sagemaker.list_endpoints()["Endpoints"] == []
    [page] = paused.pages()
    assert "held, model paused" in page["Subject"]
    assert f"driftline promote {MODEL} 1" in page["Message"] and "INC-42" in page["Message"]


def test_a_bad_upload_for_a_paused_model_is_still_validated_and_quarantined(paused):
    outcome = invoke("on_data_uploaded", upload(paused, f"incoming/{MODEL}/ragged.csv", RAGGED, sequencer="01"))

    assert outcome["outcome"] == "quarantined" and "line 2 has 4 fields" in outcome["reason"]
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=paused.data_bucket, Prefix="incoming/")
    assert listing.get("Contents", []) == []
    assert pipeline_runs(paused) == []
    [page] = paused.pages()
    assert "upload rejected" in page["Subject"]
    assert not state.get_pause(MODEL).get("uploads_kept")


def test_a_repeated_event_of_a_kept_upload_counts_it_once(paused):
    event = upload(paused, f"incoming/{MODEL}/a.csv", GOOD, sequencer="01")

    assert invoke("on_data_uploaded", event)["outcome"] == "kept"
    assert invoke("on_data_uploaded", event)["outcome"] == "duplicate"
    assert state.get_pause(MODEL)["uploads_kept"] == 1
