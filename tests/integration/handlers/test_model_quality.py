"""Model quality on moto: labels checked on upload, the quality job's findings become metrics, its alarm retrains."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
from driftline import state

from .conftest import REGION, invoke, put_config, sample

MODEL = "bank-marketing"
PRODUCTION_RUN = "bank-marketing-upload-20261128T050000"
QUALITY_JOB = "bank-marketing-20261128T070000-quality"
REPORT = f"bank-marketing/monitoring/{QUALITY_JOB}/"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"


def labels_event(stack, key: str, body: bytes, *, sequencer: str) -> dict:
    s3 = boto3.client("s3", region_name=REGION)
    version = s3.put_object(Bucket=stack.data_bucket, Key=key, Body=body).get("VersionId")
    event = sample("labels_uploaded.json")
    event["id"] = f"event-{sequencer}"
    event["detail"]["bucket"]["name"] = stack.data_bucket
    event["detail"]["object"].update({"key": key, "size": len(body), "version-id": version, "sequencer": sequencer})
    return event


def keys(stack, prefix: str) -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=stack.data_bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def with_classes(*classes: str) -> None:
    assert state.record_labels(MODEL, frozenset(classes), 0)


def quality_event(status: str = "Completed") -> dict:
    event = sample("monitoring_job_completed.json")
    detail = event["detail"]
    detail["ProcessingJobName"] = QUALITY_JOB
    detail["ProcessingJobStatus"] = status
    detail["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = (
        f"s3://driftline-artifacts-example/{REPORT.rstrip('/')}"
    )
    return event


def write_quality_report(stack, *, judged: bool, violations: list[str]) -> None:
    summary = {
        "quality_judged": judged,
        "labelled": 400 if judged else 3,
        "missing_labels": 100,
        "missing_label_share": 0.2,
        "metrics": {"auc": 0.61, "accuracy": 0.7, "f1": 0.3},
        "reference_metrics": {"auc": 0.8, "accuracy": 0.9, "f1": 0.5},
    }
    found = {
        "violations": [
            {"metric_name": m, "constraint_check_type": "LessThanThreshold", "description": f"Metric {m} low"}
            for m in violations
        ]
    }
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=stack.artifact_bucket, Key=REPORT + "quality_summary.json", Body=json.dumps(summary))
    s3.put_object(Bucket=stack.artifact_bucket, Key=REPORT + "constraint_violations.json", Body=json.dumps(found))


def metric(name: str) -> list[float]:
    points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace="Driftline/ModelQuality",
        MetricName=name,
        Dimensions=[{"Name": "Model", "Value": MODEL}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return [p["Maximum"] for p in points]


def alarm(value: str, name: str = "driftline-bank-marketing-quality") -> dict:
    event = sample("alarm_drift.json")
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = value
    return event


def pipeline_runs(stack) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return [e["name"] for e in sfn.list_executions(stateMachineArn=stack.pipeline_arn)["executions"]]


# --- on_labels_uploaded ------------------------------------------------------------------------------


def test_good_labels_file_is_kept_where_the_quality_job_reads_it(stack):
    put_config(stack, CONFIG)
    with_classes("no", "yes")
    key = f"labels/{MODEL}/day-1.csv"

    event = labels_event(stack, key, b"inference_id,y\nr-1,yes\nr-2,no\n", sequencer="01")

    outcome = invoke("on_labels_uploaded", event)

    assert outcome["outcome"] == "accepted" and outcome["rows"] == 2
    assert keys(stack, "labels/") == [key]
    assert stack.pages() == []


def test_label_of_an_unknown_class_is_quarantined_and_paged(stack):
    put_config(stack, CONFIG)
    with_classes("no", "yes")
    key = f"labels/{MODEL}/day-2.csv"

    outcome = invoke("on_labels_uploaded", labels_event(stack, key, b"inference_id,y\nr-1,maybe\n", sequencer="02"))

    assert outcome["outcome"] == "quarantined" and outcome["rule"] == "unknown-class"
    assert keys(stack, "labels/") == []
    quarantined = keys(stack, f"quarantine/{MODEL}/")
    assert len(quarantined) == 2 and quarantined[1].endswith(".reason.json")
    reason = json.loads(
        boto3.client("s3", region_name=REGION).get_object(Bucket=stack.data_bucket, Key=quarantined[1])["Body"].read()
    )
    assert reason["line"] == 2 and "labels/<model>/" in reason["what_to_do"]
    [page] = stack.pages()
    assert "labels rejected" in page["Subject"] and "maybe" not in page["Message"]  # cells are never quoted


def test_wrong_header_and_duplicate_ids_are_refused_with_their_rule(stack):
    put_config(stack, CONFIG)
    with_classes("no", "yes")

    header = invoke(
        "on_labels_uploaded", labels_event(stack, f"labels/{MODEL}/a.csv", b"id,y\nr-1,yes\n", sequencer="03")
    )
    twice = invoke(
        "on_labels_uploaded",
        labels_event(stack, f"labels/{MODEL}/b.csv", b"inference_id,y\nr-1,yes\nr-1,no\n", sequencer="04"),
    )

    assert (header["rule"], twice["rule"]) == ("header", "duplicate-id")


def test_duplicate_labels_event_does_nothing_twice(stack):
    put_config(stack, CONFIG)
    with_classes("no", "yes")
    event = labels_event(stack, f"labels/{MODEL}/bad.csv", b"inference_id,y\nr-1,maybe\n", sequencer="05")

    first = invoke("on_labels_uploaded", event)
    again = invoke("on_labels_uploaded", event)

    assert first["outcome"] == "quarantined"
    assert again["outcome"] == "duplicate" and again["first_outcome"] == "quarantined"
    assert len(stack.pages()) == 1


def test_labels_for_a_model_without_config_are_quarantined(stack):
    outcome = invoke(
        "on_labels_uploaded", labels_event(stack, "labels/ghost/a.csv", b"inference_id,y\nr-1,1\n", sequencer="06")
    )
    assert outcome["outcome"] == "quarantined" and outcome["rule"] == "unknown-model"


# --- start_monitoring: the quality job on the same schedule ---------------------------------------------


def test_tick_starts_the_quality_job_over_the_window_one_label_delay_earlier(stack):
    put_config(stack, CONFIG + "monitoring: {quality: {label_delay_seconds: 86400}}\n")
    state.put_production(
        MODEL, run_id=PRODUCTION_RUN, endpoint_name="driftline-bank-marketing", variant="upload-20261128T050000"
    )
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.data_bucket, Key=f"labels/{MODEL}/day.csv", Body=b"inference_id,y\nr-1,yes\n"
    )

    outcome = invoke("start_monitoring", {"model": MODEL, "scheduled_time": "2026-11-28T07:00:00Z"})

    assert outcome["quality"]["action"] == "started" and outcome["quality"]["job"] == QUALITY_JOB
    job = boto3.client("sagemaker", region_name=REGION).describe_processing_job(ProcessingJobName=QUALITY_JOB)
    arguments = job["AppSpecification"]["ContainerArguments"]
    window = arguments[arguments.index("--window-start") + 1], arguments[arguments.index("--window-end") + 1]
    assert window == ("2026-11-27T06:00:00Z", "2026-11-27T07:00:00Z")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs["labels"] == f"s3://{stack.data_bucket}/labels/{MODEL}/"
    assert inputs["evaluation"].endswith(f"{PRODUCTION_RUN}/evaluation/")


def test_repeated_tick_starts_one_quality_job(stack):
    put_config(stack, CONFIG)
    state.put_production(
        MODEL, run_id=PRODUCTION_RUN, endpoint_name="driftline-bank-marketing", variant="upload-20261128T050000"
    )
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.data_bucket, Key=f"labels/{MODEL}/day.csv", Body=b"inference_id,y\nr-1,yes\n"
    )
    tick = {"model": MODEL, "scheduled_time": "2026-11-28T07:00:00Z"}

    first = invoke("start_monitoring", tick)
    invoke("start_monitoring", tick)  # EventBridge delivers at least once: the window names the same job

    assert first["quality"]["action"] == "started"
    jobs = boto3.client("sagemaker", region_name=REGION).list_processing_jobs()["ProcessingJobSummaries"]
    assert sorted(j["ProcessingJobName"] for j in jobs if j["ProcessingJobName"].endswith("-quality")) == [QUALITY_JOB]


def test_tick_without_labels_starts_no_quality_job(stack):
    put_config(stack, CONFIG)
    state.put_production(
        MODEL, run_id=PRODUCTION_RUN, endpoint_name="driftline-bank-marketing", variant="upload-20261128T050000"
    )

    outcome = invoke("start_monitoring", {"model": MODEL, "scheduled_time": "2026-11-28T07:00:00Z"})

    assert outcome["quality"]["action"] == "skipped" and "no labels" in outcome["quality"]["why"]


# --- on_monitoring_completed -------------------------------------------------------------------------


def test_quality_findings_become_model_quality_metrics(stack):
    put_config(stack, CONFIG)
    write_quality_report(stack, judged=True, violations=["auc", "f1"])

    outcome = invoke("on_monitoring_completed", quality_event())

    assert outcome["action"] == "published" and outcome["violations"] == 2
    assert metric("QualityViolations") == [2.0]
    assert metric("AUC") == [0.61] and metric("MissingLabels") == [100.0]
    assert state.get_quality_report(MODEL)["violations"] == ["Metric auc low", "Metric f1 low"]


def test_window_with_too_few_labels_publishes_no_violation_datapoint(stack):
    put_config(stack, CONFIG)
    write_quality_report(stack, judged=False, violations=[])

    invoke("on_monitoring_completed", quality_event())

    assert metric("QualityViolations") == []  # the alarm keeps its state
    assert metric("LabelledPredictions") == [3.0]


def test_failed_quality_job_pages(stack):
    put_config(stack, CONFIG)

    outcome = invoke("on_monitoring_completed", quality_event("Failed"))

    assert outcome["action"] == "paged"
    assert "model quality monitor failed" in stack.pages()[0]["Subject"]


# --- on_alarm ----------------------------------------------------------------------------------------


def test_quality_alarm_starts_one_retrain_and_pages_with_the_metrics(stack):
    put_config(stack, CONFIG)
    write_quality_report(stack, judged=True, violations=["auc"])
    invoke("on_monitoring_completed", quality_event())

    outcome = invoke("on_alarm", alarm("ALARM"))

    assert outcome["retrain"]["started"] is True and "-quality-" in outcome["retrain"]["run_id"]
    assert pipeline_runs(stack) == [outcome["retrain"]["run_id"]]
    [page] = stack.pages()
    assert "quality alarm, retraining started" in page["Subject"]
    for fact in ("auc: 0.6100 / 0.8000", "Metric auc low", REPORT, "driftline-bank-marketing-quality"):
        assert fact in page["Message"]


def test_flapping_quality_alarm_within_the_cooldown_retrains_once(stack):
    put_config(stack, CONFIG)

    for value in ("ALARM", "OK", "ALARM"):
        invoke("on_alarm", alarm(value))

    assert len(pipeline_runs(stack)) == 1


def test_quality_alarm_after_a_drift_retrain_within_the_cooldown_starts_nothing(stack):
    put_config(stack, CONFIG)
    drift = invoke("on_alarm", alarm("ALARM", name="driftline-bank-marketing-drift"))
    boto3.client("stepfunctions", region_name=REGION).stop_execution(
        executionArn=drift["retrain"]["execution_arn"]
    )  # the drift run finished; only the cooldown remains

    outcome = invoke("on_alarm", alarm("ALARM"))

    assert outcome["retrain"]["started"] is False and "retrain_cooldown_seconds" in outcome["retrain"]["why"]
    assert pipeline_runs(stack) == [drift["retrain"]["run_id"]]
