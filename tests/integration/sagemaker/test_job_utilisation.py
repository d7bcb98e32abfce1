"""Jobs report their instance's utilisation as SageMaker does, measured on the job's real processes."""

from __future__ import annotations

import re
import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .sagemaker_testkit import job_log, processing_request, wait_for

# Busy: burns one core until the deadline. Idle: sleeps as long. Each logs the CPU share it got itself (on a
# shared machine a busy loop gets less than a core), which the published metric must agree with.
SCRIPT = """
import sys, time
mode, seconds = sys.argv[1], float(sys.argv[2])
started, cpu = time.monotonic(), time.process_time()
deadline = started + seconds
if mode == "busy":
    while time.monotonic() < deadline:
        sum(i * i for i in range(10000))
else:
    time.sleep(seconds)
share = (time.process_time() - cpu) / (time.monotonic() - started) * 100
print(f"{mode} done cpu_percent={share:.1f}", flush=True)
"""


def _run(aws: Callable[[str], Any], bucket: str, mode: str, instances: int = 1) -> str:
    aws("s3").put_object(Bucket=bucket, Key="code/jobs/src/load.py", Body=textwrap.dedent(SCRIPT).encode())
    aws("s3").put_object(Bucket=bucket, Key="incoming/rows.csv", Body=b"a\n1\n")
    name = f"{mode}-{uuid.uuid4().hex[:8]}"
    request = processing_request(name, bucket, f"s3://{bucket}/code/jobs")
    request["AppSpecification"]["ContainerEntrypoint"] = ["python3", "/opt/ml/processing/input/code/load.py"]
    request["AppSpecification"]["ContainerArguments"] = [mode, "3"]
    request["ProcessingInputs"][0]["S3Input"]["S3Uri"] = f"s3://{bucket}/code/jobs/src/load.py"
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = instances
    aws("sagemaker").create_processing_job(**request)
    job = wait_for(
        lambda: (
            (d := aws("sagemaker").describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        timeout=60,
    )
    assert job["ProcessingJobStatus"] == "Completed", job.get("ExitMessage") or job.get("FailureReason")
    return name


def _utilisation(aws: Callable[[str], Any], name: str, host: str = "algo-1") -> dict[str, dict[str, float]]:
    """Average and Maximum of each metric over the job, read as a person would in CloudWatch."""
    now = datetime.now(UTC)
    queries = [
        {
            "Id": f"{metric.lower()}_{stat.lower()}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "/aws/sagemaker/ProcessingJobs",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "Host", "Value": f"{name}/{host}"}],
                },
                "Period": 3600,
                "Stat": stat,
            },
        }
        for metric in ("CPUUtilization", "MemoryUtilization", "DiskUtilization")
        for stat in ("Average", "Maximum", "SampleCount")
    ]
    results = aws("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=30)
    )["MetricDataResults"]
    found: dict[str, dict[str, float]] = {}
    for result in results:
        metric, stat = result["Id"].split("_")
        found.setdefault(metric, {})[stat] = sum(result["Values"]) if result["Values"] else None
    return found


def test_a_busy_jobs_cpu_is_in_cloudwatch_under_sagemakers_names_and_above_an_idle_jobs(aws, bucket):
    # Given a job that keeps one core busy and one that sleeps as long
    busy = _run(aws, bucket, "busy")
    idle = _run(aws, bucket, "idle")

    # When their instance metrics are read from CloudWatch (namespace, names and Host as SageMaker's)
    busy_use, idle_use = _utilisation(aws, busy), _utilisation(aws, idle)

    # Then both jobs have CPU, memory and disk samples, in SageMaker's ranges (CPU: 0-100 % per vCPU)
    for use in (busy_use, idle_use):
        for metric in ("cpuutilization", "memoryutilization", "diskutilization"):
            assert use[metric]["samplecount"] and use[metric]["samplecount"] >= 2, (metric, use)
        assert 0 <= use["cpuutilization"]["maximum"] <= 200  # ml.m5.large: 2 vCPUs
        assert 0 < use["memoryutilization"]["maximum"] < 100
        assert 0 <= use["diskutilization"]["maximum"] < 100
    # and the busy job's CPU agrees with the share it measured itself, and is well above the idle job's
    own = float(re.search(r"cpu_percent=([0-9.]+)", job_log(aws, busy)).group(1))
    assert 0.5 * own <= busy_use["cpuutilization"]["average"] <= 1.5 * own + 5, (own, busy_use)
    assert idle_use["cpuutilization"]["average"] < 0.5 * busy_use["cpuutilization"]["average"], (idle_use, busy_use)


def test_each_instance_of_a_multi_instance_job_reports_its_own_utilisation(aws, bucket):
    # Given a busy processing job on two instances
    name = _run(aws, bucket, "busy", instances=2)

    # When each instance's metrics are read (Host=<job>/algo-1, <job>/algo-2, as on AWS)
    first, second = _utilisation(aws, name, "algo-1"), _utilisation(aws, name, "algo-2")

    # Then both instances have their own CPU samples, each from a busy process
    for use in (first, second):
        assert use["cpuutilization"]["samplecount"] and use["cpuutilization"]["samplecount"] >= 2, use
        assert use["cpuutilization"]["average"] > 0
