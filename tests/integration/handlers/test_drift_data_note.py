"""A drift retrain with no new labelled data says so, and what to upload, instead of "on the newest data"."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from driftline import reports, state

from .conftest import REGION, invoke, put_config, sample

MODEL = "bank-marketing"
PRODUCTION_RUN = f"{MODEL}-upload-20261128T050000"
DRIFT_RUN = f"{MODEL}-drift-20261128T070000"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"


def _production(cutoff: float) -> None:
    state.put_run(MODEL, PRODUCTION_RUN, trigger="upload", status="DEPLOYED", data_cutoff=int(cutoff))
    state.put_production(MODEL, run_id=PRODUCTION_RUN, endpoint_name=f"driftline-{MODEL}")


def test_a_drift_retrain_without_new_labels_says_what_to_upload(stack):
    put_config(stack, CONFIG)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.data_bucket, Key=f"incoming/{MODEL}/old.csv", Body=b"a,y\n1,0\n"
    )
    _production(time.time() + 5)  # the production model was trained after the only upload

    note = reports.drift_retrain_data_note(MODEL, DRIFT_RUN)

    assert "no labelled data arrived since the production model was trained" in note
    assert f"s3://{stack.data_bucket}/incoming/{MODEL}/" in note and "newest data" not in note


def test_a_drift_retrain_with_new_labels_counts_them(stack):
    put_config(stack, CONFIG)
    _production(time.time() - 60)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.data_bucket, Key=f"incoming/{MODEL}/new.csv", Body=b"a,y\n1,0\n"
    )

    assert reports.drift_retrain_data_note(MODEL, DRIFT_RUN).endswith(
        "on 1 labelled file(s) uploaded since the production model"
    )


def test_a_drift_runs_summary_says_it_was_retrained_on_the_same_data(stack):
    put_config(stack, CONFIG)
    state.put_run(MODEL, DRIFT_RUN, trigger="drift", status="RUNNING")

    invoke("report_run", {"model": MODEL, "run_id": DRIFT_RUN, "outcome": "succeeded"})

    [page] = stack.pages()
    assert "Data: no labelled data arrived since the previous production model" in page["Message"]
    assert f"s3://{stack.data_bucket}/incoming/{MODEL}/" in page["Message"]


def test_a_drift_run_with_new_data_says_so(stack):
    put_config(stack, CONFIG)
    state.put_run(MODEL, DRIFT_RUN, trigger="drift", status="RUNNING")
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.artifact_bucket, Key=f"{MODEL}/runs/{DRIFT_RUN}/data-manifest.json", Body=b"[]"
    )

    invoke("report_run", {"model": MODEL, "run_id": DRIFT_RUN, "outcome": "succeeded"})

    [page] = stack.pages()
    assert "Data: the labelled data uploaded since the previous production model" in page["Message"]


def test_a_drift_alarms_page_says_the_retrain_has_no_new_labels_and_keys_the_incident_on_the_alarm(stack):
    put_config(stack, CONFIG)
    _production(time.time() + 5)
    event = sample("alarm_drift.json")
    event["detail"]["alarmName"] = f"driftline-{MODEL}-drift"

    assert invoke("on_alarm", event)["retrain"]["started"] is True

    [page] = stack.pages()
    assert "no labelled data arrived since the production model was trained" in page["Message"]
    assert "newest data" not in page["Message"]
    attributes = {name: value["Value"] for name, value in page["MessageAttributes"].items()}
    assert attributes["kind"] == "drift" and attributes["incident"] == f"driftline-{MODEL}-drift"
    assert attributes["model"] == MODEL and attributes["action"] == "trigger"


@pytest.mark.parametrize("trigger", ["drift", "quality"])
def test_a_retrain_started_by_an_alarm_trains_on_the_data_uploaded_since_production(stack, trigger):
    # Given a production model trained a minute ago, and a labelled upload since
    put_config(stack, CONFIG)
    s3 = boto3.client("s3", region_name=REGION)
    _production(time.time() - 60)
    s3.put_object(Bucket=stack.data_bucket, Key=f"incoming/{MODEL}/new.csv", Body=b"a,y\n1,0\n")
    run = f"{MODEL}-{trigger}-20261128T070000"

    # When the alarm's retrain is planned
    invoke("prepare_run", {"model": MODEL, "run_id": run, "trigger": trigger})

    # Then its data manifest names only the new upload
    body = s3.get_object(Bucket=stack.artifact_bucket, Key=f"{MODEL}/runs/{run}/data-manifest.json")["Body"].read()
    assert json.loads(body)[1:] == ["new.csv"]
