"""strategy ab on model quality, on moto: after the A/B window the judge runs the quality job over exactly that
window, waits for it, then tests both variants' labelled outcomes (keep / promote); too few labels waits for more
until ab_quality_wait_seconds, then is "not tested" (never guessed). The quality job's per-variant figures become
Driftline/ModelQuality metrics with a VariantName dimension."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
from driftline import state

from .conftest import REGION, invoke, put_config
from .test_ab_steps import CANDIDATE, PRODUCTION, plan_ab, traffic
from .test_model_quality import QUALITY_JOB, REPORT, quality_event
from .test_rollout_steps import ENDPOINT, MODEL, RUN

AB_QUALITY = (
    "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
    "deployment:\n  strategy: ab\n  ab_seconds: 60\n  ab_min_requests: 100\n  ab_candidate_percent: 30\n"
    "  ab_metrics: [error_rate, quality]\n  ab_quality_wait_seconds: 600\n"
    "monitoring:\n  quality:\n    min_labels: 200\n"
)


def plan_ab_on_quality(stack) -> dict:
    plan = plan_ab(stack)
    put_config(stack, AB_QUALITY)
    state.put_production(MODEL, run_id=f"{MODEL}-{PRODUCTION}", endpoint_name=ENDPOINT, variant=PRODUCTION)
    plan["ab"]["metrics"] = ["error_rate", "quality"]
    traffic(PRODUCTION, 700, 0)
    traffic(CANDIDATE, 300, 0)
    captured(stack, PRODUCTION, "2026/12/01/09/58-00-000")
    captured(stack, CANDIDATE, "2026/12/01/10/00-01-250")
    captured(stack, CANDIDATE, "2026/12/01/10/00-59-000")
    return plan


def drop_labels(stack, name: str = "batch-1.csv") -> None:
    body = b"inference_id,y\nr1,yes\n"
    boto3.client("s3", region_name=REGION).put_object(Bucket=stack.data_bucket, Key=f"labels/{MODEL}/{name}", Body=body)


def captured(stack, variant: str, when: str) -> None:
    """A data-capture file of `variant` whose first record is at `when` (yyyy/mm/dd/hh/mm-ss-mmm), as SageMaker
    names them."""
    key = f"{MODEL}/datacapture/{ENDPOINT}/{variant}/{when}-0a1b.jsonl"
    boto3.client("s3", region_name=REGION).put_object(Bucket=stack.artifact_bucket, Key=key, Body=b"{}\n")


def quality_jobs() -> list[dict]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    names = [j["ProcessingJobName"] for j in sagemaker.list_processing_jobs()["ProcessingJobSummaries"]]
    return [sagemaker.describe_processing_job(ProcessingJobName=n) for n in names if n.endswith("-quality")]


def report_of(stack, job: str, variants: dict) -> None:
    summary = {"quality_judged": True, "labelled": 0, "metrics": {}, "variants": variants}
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.artifact_bucket,
        Key=f"{MODEL}/monitoring/{job}/quality_summary.json",
        Body=json.dumps(summary).encode(),
    )


def decide(plan: dict, started_at: float) -> dict:
    return invoke("watch_canary", {"ab": plan["ab"], "started_at": started_at, "extended": False})


def test_judge_runs_the_quality_job_over_the_ab_window_then_keeps_a_less_accurate_candidate(stack):
    plan = plan_ab_on_quality(stack)
    drop_labels(stack)
    started = time.time() - 61

    # When the A/B time is over, the judge starts the quality job over the span the candidate's capture covers
    first = decide(plan, started)
    assert first["action"] == "wait"
    [job] = quality_jobs()
    arguments = job["AppSpecification"]["ContainerArguments"]
    window = arguments[arguments.index("--window-start") + 1 : arguments.index("--window-end") + 2]
    assert window == ["2026-12-01T10:00:01Z", "--window-end", "2026-12-01T10:01:00Z"]
    assert job["ProcessingJobName"].startswith(f"{MODEL}-ab-")
    # Given the job found production right on 900 of 1000 labelled predictions and the candidate on 340 of 400
    report_of(
        stack,
        job["ProcessingJobName"],
        {PRODUCTION: {"labelled": 1000, "correct": 900}, CANDIDATE: {"labelled": 400, "correct": 340}},
    )

    second = decide(plan, started)

    # Then production is kept, with the accuracy test and its p-value recorded on the run
    assert second["action"] == "keep" and "quality" in second["error"]["Cause"]
    test = state.get_run(MODEL, RUN)["ab_test"]["tests"]["quality"]
    assert test["measure"] == "accuracy" and test["candidate_worse"] is True and float(test["p_value"]) < 0.05


def test_as_accurate_candidate_is_promoted_with_the_quality_test_in_the_page(stack):
    plan = plan_ab_on_quality(stack)
    drop_labels(stack)
    started = time.time() - 61
    decide(plan, started)
    [job] = quality_jobs()
    report_of(
        stack,
        job["ProcessingJobName"],
        {PRODUCTION: {"labelled": 1000, "correct": 880}, CANDIDATE: {"labelled": 400, "correct": 356}},
    )

    answer = decide(plan, started)

    assert answer["action"] == "promote"
    page = next(p for p in stack.pages() if "A/B test promotes candidate" in p.get("Subject", ""))
    assert "quality (accuracy)" in page["Message"] and "p-value" in page["Message"]


def test_too_few_labels_waits_for_more_and_a_new_label_file_reruns_the_job(stack):
    plan = plan_ab_on_quality(stack)
    drop_labels(stack)
    started = time.time() - 61
    decide(plan, started)
    [job] = quality_jobs()
    report_of(
        stack,
        job["ProcessingJobName"],
        {PRODUCTION: {"labelled": 1000, "correct": 880}, CANDIDATE: {"labelled": 20, "correct": 10}},
    )

    # Too few labelled candidate predictions, within ab_quality_wait_seconds: wait (no decision guessed)
    assert decide(plan, started)["action"] == "wait"
    assert len(quality_jobs()) == 1
    # A new label file: the judge scores the window again
    drop_labels(stack, "batch-2.csv")
    assert decide(plan, started)["action"] == "wait"
    assert len(quality_jobs()) == 2


def test_labels_that_never_come_are_not_tested_and_extend_the_test(stack):
    plan = plan_ab_on_quality(stack)

    # No label file at all, and ab_quality_wait_seconds (600 s) after the window are over
    answer = decide(plan, time.time() - 61 - 601)

    assert answer["action"] == "wait" and answer["extended"] is True
    quality = state.get_run(MODEL, RUN)["ab_test"]["tests"]["quality"]
    assert quality["tested"] is False and f"no labels under labels/{MODEL}/" in quality["why"]


def test_a_candidate_that_captured_nothing_is_not_tested_after_the_wait(stack):
    plan = plan_ab_on_quality(stack)
    drop_labels(stack)
    boto3.client("s3", region_name=REGION).delete_object(
        Bucket=stack.artifact_bucket,
        Key=f"{MODEL}/datacapture/{ENDPOINT}/{CANDIDATE}/2026/12/01/10/00-01-250-0a1b.jsonl",
    )
    boto3.client("s3", region_name=REGION).delete_object(
        Bucket=stack.artifact_bucket,
        Key=f"{MODEL}/datacapture/{ENDPOINT}/{CANDIDATE}/2026/12/01/10/00-59-000-0a1b.jsonl",
    )

    assert decide(plan, time.time() - 61)["action"] == "wait"  # capture may still be flushed
    answer = decide(plan, time.time() - 61 - 601)

    assert answer["extended"] is True and quality_jobs() == []
    why = state.get_run(MODEL, RUN)["ab_test"]["tests"]["quality"]["why"]
    assert why == f"the data capture holds no prediction of {CANDIDATE}"


def test_per_variant_quality_becomes_metrics_with_a_variant_dimension(stack):
    put_config(stack, "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n")
    s3 = boto3.client("s3", region_name=REGION)
    summary = {
        "quality_judged": True,
        "labelled": 500,
        "missing_labels": 0,
        "metrics": {"accuracy": 0.8},
        "variants": {
            "AllTraffic": {"labelled": 300, "judged": True, "metrics": {"accuracy": 0.9}},
            "candidate-1": {"labelled": 20, "judged": False, "metrics": {"accuracy": 0.5}},
        },
    }
    s3.put_object(Bucket=stack.artifact_bucket, Key=REPORT + "quality_summary.json", Body=json.dumps(summary))
    s3.put_object(Bucket=stack.artifact_bucket, Key=REPORT + "constraint_violations.json", Body=b'{"violations": []}')

    invoke("on_monitoring_completed", quality_event())

    assert variant_metric("Accuracy", "AllTraffic") == [0.9]
    assert variant_metric("LabelledPredictions", "candidate-1") == [20.0]
    assert variant_metric("Accuracy", "candidate-1") == []  # too few labels: not published
    assert QUALITY_JOB in REPORT


def variant_metric(name: str, variant: str) -> list[float]:
    points = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace="Driftline/ModelQuality",
        MetricName=name,
        Dimensions=[{"Name": "Model", "Value": MODEL}, {"Name": "VariantName", "Value": variant}],
        StartTime=datetime.now(UTC) - timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return [p["Maximum"] for p in points]
