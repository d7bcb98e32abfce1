"""Drift windows: consecutive monitor jobs read overlapping hour inputs, yet count each capture record once.

A monitor's inputs are the capture's hour prefixes (`<variant>/yyyy/mm/dd/hh/`); SageMaker downloads an
S3Prefix input into its LocalPath without the prefix. Windows [10:30, 11:30) and [11:30, 12:30) both
read hour 11; the files of that hour must each be judged by exactly one of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftline.config import parse_model_config
from driftline.sagemaker_requests import RunContext, monitor_request, preprocess_request
from driftline_local.publish import publish_jobs
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing

from .sagemaker_testkit import ROLE, wait_for

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
JOBS = Path(__file__).resolve().parents[3] / "jobs"
ENDPOINT = "bank-marketing-endpoint"
# capture file (hour folder, mm-ss-mmm) -> records in it
FILES = {"2026/01/01/10/40-00-000": 5, "2026/01/01/11/10-00-000": 7, "2026/01/01/11/50-00-000": 11,
         "2026/01/01/12/20-00-000": 13}  # fmt: skip


def _processed(aws: Callable[[str], Any], name: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (d := aws("sagemaker").describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        180,
    )


def _capture_record(row: str, minute: str) -> str:
    record = {
        "captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": row,
                                          "encoding": "CSV"}},
        "eventMetadata": {"eventId": uuid.uuid4().hex, "inferenceTime": f"{minute}.000Z"},
        "eventVersion": "0",
    }  # fmt: skip
    return json.dumps(record, separators=(",", ":"))


def test_consecutive_windows_over_a_shared_hour_never_count_a_record_twice(aws, bucket):
    # Given a production run's baseline (a real preprocessing job) and captured traffic in three hours
    publish_jobs(aws("s3"), bucket, JOBS)
    config = parse_model_config(SAMPLE_MODEL_YAML)
    ctx = RunContext(config, f"bank-marketing-{uuid.uuid4().hex[:8]}", bucket, bucket, ROLE, XGBOOST, SKLEARN)
    data = generate_bank_marketing(400, seed=3)
    aws("s3").put_object(Bucket=bucket, Key=f"incoming/{ctx.model}/a.csv", Body=data.to_csv(index=False).encode())
    aws("s3").put_object(
        Bucket=bucket, Key=ctx.config_uri.removeprefix(f"s3://{bucket}/"), Body=config.model_dump_json().encode()
    )
    preprocess = preprocess_request(ctx)
    aws("sagemaker").create_processing_job(**preprocess)
    assert _processed(aws, preprocess["ProcessingJobName"])["ProcessingJobStatus"] == "Completed"
    rows = data.drop(columns=["y", "duration"]).to_csv(header=False, index=False).splitlines()
    root = f"{ctx.model}/datacapture/{ENDPOINT}/AllTraffic"
    for path, count in FILES.items():
        day, hour, minute = path[:10], path[11:13], path[14:].split("-")
        stamp = f"{day.replace('/', '-')}T{hour}:{minute[0]}:{minute[1]}"
        body = "\n".join(_capture_record(rows[i], stamp) for i in range(count)) + "\n"
        aws("s3").put_object(Bucket=bucket, Key=f"{root}/{path}-{uuid.uuid4().hex[:8]}.jsonl", Body=body.encode())

    # When two consecutive hourly monitors run, each over the hour prefixes its window touches
    windows = {
        "first": (("2026-01-01T10:30:00Z", "2026-01-01T11:30:00Z"), ["10", "11"]),
        "second": (("2026-01-01T11:30:00Z", "2026-01-01T12:30:00Z"), ["11", "12"]),
    }
    counted = {}
    for label, (window, hours) in windows.items():
        job = f"monitor-{label}-{uuid.uuid4().hex[:6]}"
        report = f"s3://{bucket}/{ctx.model}/monitoring/{job}/"
        aws("s3").put_object(
            Bucket=bucket,
            Key=f"{ctx.model}/monitoring/{job}/config/config.json",
            Body=config.model_dump_json().encode(),
        )
        prefixes = [f"s3://{bucket}/{root}/2026/01/01/{hour}/" for hour in hours]
        aws("sagemaker").create_processing_job(**monitor_request(ctx, job, report, prefixes, window))
        done = _processed(aws, job)
        assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
        summary = aws("s3").get_object(Bucket=bucket, Key=f"{ctx.model}/monitoring/{job}/drift_summary.json")
        counted[label] = json.loads(summary["Body"].read())["capture_records"]

    # Then each window counts the files whose first record falls in it, and no record is counted twice
    assert counted == {"first": 5 + 7, "second": 11 + 13}
    assert sum(counted.values()) == sum(FILES.values())
