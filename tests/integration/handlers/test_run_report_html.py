"""report_run writes the run's report.html beside its artifacts, from what the run left there."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from driftline import state

from tests.run_report_samples import EVALUATION, interrupted_history

from .conftest import REGION, invoke

MODEL = "bank-marketing"
RUN = f"{MODEL}-upload-20261128T050000"
JOBS = [f"{RUN}-train-1", f"{RUN}-train-2"]


@pytest.fixture
def rollout_machine(stack, monkeypatch):
    arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="driftline-canary-rollout",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    monkeypatch.setenv("CANARY_ROLLOUT_ARN", arn)
    return arn


def _tar_gz(name: str, payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _report(stack) -> str:
    key = f"{MODEL}/runs/{RUN}/report.html"
    return (
        boto3.client("s3", region_name=REGION).get_object(Bucket=stack.artifact_bucket, Key=key)["Body"].read().decode()
    )


def test_a_finished_run_gets_a_report_with_its_training_curve_and_evaluation(stack, rollout_machine):
    # Given a run whose training was interrupted once and which was evaluated
    s3 = boto3.client("s3", region_name=REGION)
    state.put_run(
        MODEL,
        RUN,
        trigger="upload",
        status="RUNNING",
        attempts=[
            {"job_name": JOBS[0], "outcome": "spot_capacity_lost"},
            {"job_name": JOBS[1], "outcome": "completed"},
        ],
    )
    s3.put_object(
        Bucket=stack.artifact_bucket,
        Key=f"{MODEL}/runs/{RUN}/model/{JOBS[1]}/output/output.tar.gz",
        Body=_tar_gz("metric_history.json", interrupted_history()),
    )
    s3.put_object(
        Bucket=stack.artifact_bucket,
        Key=f"{MODEL}/runs/{RUN}/evaluation/evaluation.json",
        Body=json.dumps(EVALUATION).encode(),
    )

    # When the pipeline reports the run as rejected by the gate
    result = invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "rejected", "gate": {"summary": "no"}})

    # Then its report sits beside the artifacts, with the curve, the interruption and the three-way evaluation
    assert result["report_uri"] == f"s3://{stack.artifact_bucket}/{MODEL}/runs/{RUN}/report.html"
    html = _report(stack)
    assert 'data-series="validation auc"' in html and "interrupted at 130" in html and "resumed at 130" in html
    assert 'data-series="trivial baseline"' in html and "REJECTED" in html
    assert "not available: the run started no rollout" in html
    assert "not available: this run was started by &#x27;upload&#x27;, not by a drift alarm" in html


def test_a_run_that_failed_before_training_gets_a_report_that_says_why_each_part_is_missing(stack, rollout_machine):
    invoke(
        "report_run",
        {
            "model": MODEL,
            "run_id": RUN,
            "outcome": "failed",
            "failed_step": "Preprocess the data",
            "error": "InvalidDataset",
            "cause": "ragged rows",
        },
    )

    html = _report(stack)
    assert (
        "not available: the run has no finished training job (status FAILED, failed step Preprocess the data)" in html
    )
    assert "not available: the run wrote no evaluation" in html
    assert stack.pages()  # the page went out as before


def test_a_report_that_cannot_be_written_never_fails_the_runs_report(stack, monkeypatch):
    # The artifact bucket is gone (or the function may not write it): the run is still reported and paged
    monkeypatch.setenv("ARTIFACT_BUCKET", "no-such-bucket")
    from driftline.settings import settings

    settings.cache_clear()
    result = invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "failed", "error": "X", "cause": "y"})

    assert result["status"] == "FAILED" and result["report_uri"] is None
    assert stack.pages()


def _monitor_window(stack, job: str, age: float, job_share: float) -> None:
    """What jobs/monitor.py leaves for one window: drift_summary.json and statistics.json."""
    s3 = boto3.client("s3", region_name=REGION)
    prefix = f"{MODEL}/monitoring/{job}/"
    features = {
        "age": {"type": "numeric", "distance": round(0.05 + age, 4), "threshold": 0.2, "drifted": 0.05 + age > 0.2},
        "job": {"type": "categorical", "distance": 0.01, "threshold": 0.2, "drifted": False},
    }
    summary = {
        "version": 1,
        "method": "psi",
        "records": 400,
        "drift_judged": True,
        "drift_threshold": 0.2,
        "features": features,
    }
    statistics = {
        "version": 0,
        "dataset": {"item_count": 400},
        "features": [
            {
                "name": "age",
                "inferred_type": "Integral",
                "numerical_statistics": {
                    "distribution": {
                        "kll": {
                            "buckets": [
                                {"lower_bound": 50.0, "upper_bound": 60.0, "count": 300},
                                {"lower_bound": 60.0, "upper_bound": 70.0, "count": 100},
                            ]
                        }
                    }
                },
            },
            {
                "name": "job",
                "inferred_type": "String",
                "string_statistics": {
                    "distribution": {"categorical": {"buckets": [{"value": "admin.", "count": int(400 * job_share)}]}}
                },
            },
        ],
    }
    s3.put_object(Bucket=stack.artifact_bucket, Key=prefix + "drift_summary.json", Body=json.dumps(summary).encode())
    s3.put_object(Bucket=stack.artifact_bucket, Key=prefix + "statistics.json", Body=json.dumps(statistics).encode())


def test_a_drift_retrain_report_shows_drift_over_time_and_the_drifted_feature_against_its_baseline(stack):
    # Given two monitor windows against production's baseline, the second over the threshold on age
    from datetime import UTC, datetime

    s3 = boto3.client("s3", region_name=REGION)
    production = f"{MODEL}-upload-20261120T000000"
    baseline = "age,job\n" + "".join(f"{30 + i % 20},admin.\n" for i in range(200))
    s3.put_object(
        Bucket=stack.artifact_bucket, Key=f"{MODEL}/runs/{production}/baseline/baseline.csv", Body=baseline.encode()
    )
    jobs = [f"{MODEL}-20261128T0{n}0000-monitor" for n in (1, 2)]
    for job, age in zip(jobs, (0.0, 0.4), strict=True):
        _monitor_window(stack, job, age, 1.0)
    boto3.client("sagemaker", region_name=REGION).create_processing_job(
        ProcessingJobName=jobs[1],
        RoleArn="arn:aws:iam::123456789012:role/driftline-sagemaker",
        AppSpecification={"ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2"},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        ProcessingInputs=[
            {
                "InputName": "baseline",
                "S3Input": {
                    "S3Uri": f"s3://{stack.artifact_bucket}/{MODEL}/runs/{production}/baseline/",
                    "LocalPath": "/opt/ml/processing/input/baseline/training",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
    )
    run = f"{MODEL}-drift-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    state.put_run(MODEL, run, trigger="drift", status="RUNNING")

    invoke(
        "report_run",
        {
            "model": MODEL,
            "run_id": run,
            "outcome": "failed",
            "failed_step": "Preprocess the data",
            "error": "InvalidDataset",
            "cause": "no new rows",
        },
    )

    html = (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=stack.artifact_bucket, Key=f"{MODEL}/runs/{run}/report.html")["Body"]
        .read()
        .decode()
    )
    assert f"Monitor window that started this run: {jobs[1]}" in html
    for series in ("age", "job", "threshold", "baseline", "window"):
        assert f'data-series="{series}"' in html
    assert "age: baseline vs window" in html and "job: baseline vs window" not in html  # only the drifted one
    assert "baseline not available" not in html
