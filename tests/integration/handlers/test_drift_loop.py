"""Drift on moto: the monitor is started on schedule, its findings become metrics, alarms retrain and page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
from driftline import state

from .conftest import REGION, invoke, put_config, sample

MODEL = "bank-marketing"
PRODUCTION_RUN = "bank-marketing-upload-20261128T050000"
REPORT = "bank-marketing/monitoring/bank-marketing-20261128T070000-monitor/"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"


def violations(*drifts: tuple[str, float]) -> dict:
    return {
        "violations": [
            {
                "feature_name": name,
                "constraint_check_type": "baseline_drift_check",
                "description": f"Baseline drift distance {distance} (PSI) exceeds threshold 0.2",
            }
            for name, distance in drifts
        ]
        + [
            {
                "feature_name": "job",
                "constraint_check_type": "categorical_values_check",
                "description": "unseen categories: astronaut",
            }
        ]
    }


def write_report(stack, found: dict, summary: dict | None = None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=stack.artifact_bucket, Key=REPORT + "constraint_violations.json", Body=json.dumps(found))
    if summary:
        s3.put_object(Bucket=stack.artifact_bucket, Key=REPORT + "drift_summary.json", Body=json.dumps(summary))


def metric(name: str, **dimensions: str) -> list[float]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    points = cloudwatch.get_metric_statistics(
        Namespace="Driftline/Monitoring",
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return [p["Maximum"] for p in points]


def alarm(value: str, name: str = "driftline-bank-marketing-drift") -> dict:
    event = sample("alarm_drift.json")
    event["detail"]["alarmName"] = name
    event["detail"]["state"]["value"] = value
    return event


def pipeline_runs(stack) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return [e["name"] for e in sfn.list_executions(stateMachineArn=stack.pipeline_arn)["executions"]]


# --- on_monitoring_completed -----------------------------------------------------------------------------


def test_monitor_findings_become_drift_metrics_and_the_stored_report(stack):
    put_config(stack, CONFIG)
    write_report(
        stack,
        violations(("age", 0.41)),
        {"records": 500, "features": {"age": {"distance": 0.41}, "campaign": {"distance": 0.02}}},
    )

    outcome = invoke("on_monitoring_completed", sample("monitoring_job_completed.json"))

    assert outcome["action"] == "published" and outcome["drifted_features"] == 1
    assert metric("DriftedFeatures", Model=MODEL) == [1.0]
    assert metric("FeatureDrift", Model=MODEL, Feature="campaign") == [0.02]
    report = state.get_monitoring_report(MODEL)
    assert report["drifted"] == [{"feature": "age", "distance": 0.41, "threshold": 0.2}]
    assert report["report_uri"] == f"s3://{stack.artifact_bucket}/{REPORT}"


def test_model_monitor_style_violations_are_read_the_same_way(stack):
    put_config(stack, CONFIG)
    write_report(
        stack,
        {
            "violations": [
                {
                    "feature_name": "pdays",
                    "constraint_check_type": "baseline_drift_check",
                    "description": "Baseline drift distance: 0.7 exceeds threshold: 0.1",
                }
            ]
        },
    )

    invoke("on_monitoring_completed", sample("monitoring_job_completed.json"))

    assert state.get_monitoring_report(MODEL)["drifted"] == [{"feature": "pdays", "distance": 0.7, "threshold": 0.1}]


def test_duplicate_monitoring_event_publishes_once(stack):
    put_config(stack, CONFIG)
    write_report(stack, violations(("age", 0.41), ("euribor3m", 0.9)))
    event = sample("monitoring_job_completed.json")

    invoke("on_monitoring_completed", event)
    assert invoke("on_monitoring_completed", event)["action"] == "duplicate"


def test_monitor_results_need_no_tags_in_the_event(stack):
    put_config(stack, CONFIG)
    write_report(stack, violations(("age", 0.41)))
    event = sample("monitoring_job_completed.json")
    assert event["detail"]["Tags"] == {}  # as AWS's published samples show

    assert invoke("on_monitoring_completed", event)["action"] == "published"
    assert metric("DriftedFeatures", Model=MODEL) == [1.0]


def test_processing_job_that_is_not_a_monitor_is_ignored(stack):
    put_config(stack, CONFIG)
    event = sample("monitoring_job_completed.json")
    event["detail"]["ProcessingJobName"] = "bank-marketing-upload-20261128T050000-preprocess"

    assert invoke("on_monitoring_completed", event)["action"] == "ignored"


def test_a_look_alike_monitor_name_writing_elsewhere_is_ignored(stack):
    put_config(stack, CONFIG)
    event = sample("monitoring_job_completed.json")
    event["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = "s3://someone-else/reports"

    assert invoke("on_monitoring_completed", event)["action"] == "ignored"
    assert stack.pages() == []


def test_a_monitor_of_a_model_without_config_is_ignored(stack):
    assert invoke("on_monitoring_completed", sample("monitoring_job_completed.json"))["action"] == "ignored"


def test_failed_monitor_pages_with_its_reason(stack):
    put_config(stack, CONFIG)
    event = sample("monitoring_job_completed.json")
    event["detail"].update(ProcessingJobStatus="Failed", FailureReason="AlgorithmError: no baseline.csv")

    assert invoke("on_monitoring_completed", event)["action"] == "paged"
    [page] = stack.pages()
    assert "no baseline.csv" in page["Message"]
    assert (page["MessageAttributes"]["kind"]["Value"], page["MessageAttributes"]["model"]["Value"]) == (
        "monitor-failed",
        "bank-marketing",
    )


# --- on_alarm --------------------------------------------------------------------------------------------


def test_drift_alarm_starts_a_retrain_and_pages_with_the_drifted_features(stack):
    put_config(stack, CONFIG)
    write_report(stack, violations(("age", 0.41)))
    invoke("on_monitoring_completed", sample("monitoring_job_completed.json"))

    outcome = invoke("on_alarm", alarm("ALARM"))

    assert outcome["retrain"]["started"] is True
    assert pipeline_runs(stack) == [outcome["retrain"]["run_id"]] and "-drift-" in outcome["retrain"]["run_id"]
    pages = stack.pages()
    assert len(pages) == 1 and "retraining started" in pages[0]["Subject"]
    for fact in ("age: 0.410 > threshold 0.2", REPORT, "driftline-bank-marketing-drift", "docs/runbook.md"):
        assert fact in pages[0]["Message"]


def test_flapping_drift_alarm_within_the_cooldown_retrains_and_pages_once(stack):
    put_config(stack, CONFIG)

    for value in ("ALARM", "OK", "ALARM", "OK", "ALARM"):
        invoke("on_alarm", alarm(value))

    assert len(pipeline_runs(stack)) == 1
    subjects = [p["Subject"] for p in stack.pages()]
    assert len(subjects) == 2 and "resolved" in subjects[1]


def test_duplicate_alarm_event_changes_nothing(stack):
    put_config(stack, CONFIG)

    invoke("on_alarm", alarm("ALARM"))
    assert invoke("on_alarm", alarm("ALARM"))["action"] == "none"
    assert len(pipeline_runs(stack)) == 1 and len(stack.pages()) == 1


def test_drift_while_a_run_is_running_does_not_start_another(stack):
    put_config(stack, CONFIG)
    boto3.client("stepfunctions", region_name=REGION).start_execution(
        stateMachineArn=stack.pipeline_arn, name="bank-marketing-upload-20261128T065900", input="{}"
    )

    outcome = invoke("on_alarm", alarm("ALARM"))

    assert outcome["retrain"] == {
        "started": False,
        "why": "run bank-marketing-upload-20261128T065900 is already running; it trains on the newest data",
    }
    assert "did not retrain" in stack.pages()[0]["Message"]


def test_drift_after_the_cooldown_ended_retrains_again(stack):
    put_config(stack, CONFIG + "monitoring:\n  retrain_cooldown_seconds: 0\n")
    first = invoke("on_alarm", alarm("ALARM"))
    invoke("on_alarm", alarm("OK"))
    boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=first["retrain"]["execution_arn"])

    second = invoke("on_alarm", alarm("ALARM"))

    assert second["retrain"]["started"] is True


def test_ok_transition_sends_one_resolution(stack):
    put_config(stack, CONFIG)
    invoke("on_alarm", alarm("ALARM"))

    assert invoke("on_alarm", alarm("OK"))["action"] == "resolved"
    assert invoke("on_alarm", alarm("OK"))["action"] == "none"
    assert [p["Subject"] for p in stack.pages()][-1] == "[Driftline] bank-marketing: drift alarm resolved"


def test_endpoint_error_alarm_pages_with_its_context_and_retrains_nothing(stack):
    put_config(stack, CONFIG)

    outcome = invoke("on_alarm", alarm("ALARM", name="driftline-bank-marketing-5xx"))

    assert outcome["action"] == "paged" and pipeline_runs(stack) == []
    message = stack.pages()[0]["Message"]
    assert "container fails requests" in message and "driftline-bank-marketing" in message


def test_candidate_alarms_are_left_to_the_rollout(stack):
    assert invoke("on_alarm", alarm("ALARM", name="driftline-bank-marketing-candidate-5xx"))["action"] == "ignored"


# --- start_monitoring --------------------------------------------------------------------------------------


def test_scheduled_tick_starts_one_monitor_over_the_windows_capture(stack):
    put_config(stack, CONFIG)
    state.put_production(
        MODEL, run_id=PRODUCTION_RUN, endpoint_name="driftline-bank-marketing", variant="upload-20261128T050000"
    )
    key = f"{MODEL}/datacapture/driftline-bank-marketing/upload-20261128T050000/2026/11/28/06/00-00-000-x.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=stack.artifact_bucket, Key=key, Body=b"{}\n")
    tick = {"model": MODEL, "scheduled_time": "2026-11-28T07:00:00Z"}

    first = invoke("start_monitoring", tick)
    invoke("start_monitoring", tick)  # a repeated delivery names the same job

    assert first["action"] == "started" and first["captures"] == 1
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    jobs = sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
    assert [j["ProcessingJobName"] for j in jobs] == [first["job"]]
    job = sagemaker.describe_processing_job(ProcessingJobName=first["job"])
    arguments = job["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--window-start") + 1] == "2026-11-28T06:00:00Z"


def test_tick_without_a_production_endpoint_does_nothing(stack):
    put_config(stack, CONFIG)

    assert invoke("start_monitoring", {"model": MODEL})["action"] == "skipped"


def test_window_too_small_to_judge_publishes_no_drift_datapoint(stack):
    write_report(
        stack,
        {"violations": []},
        {"records": 3, "drift_judged": False, "not_judged_reason": "3 records, fewer than min_records 100"},
    )

    invoke("on_monitoring_completed", sample("monitoring_job_completed.json"))

    assert metric("DriftedFeatures", Model=MODEL) == []  # the drift alarm keeps its state
