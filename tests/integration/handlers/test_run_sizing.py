"""A run's summary says whether each job's instance was over- or under-sized, from the jobs' CloudWatch metrics."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from driftline import naming, state

from .conftest import REGION, invoke

MODEL = "bank-marketing"
RUN = f"{MODEL}-upload-20261128T050000"
ROLE = "arn:aws:iam::123456789012:role/driftline-sagemaker"
TRAIN_JOB = naming.job_name(RUN, "train", 1)
PREPROCESS_JOB = naming.job_name(RUN, "preprocess")


def _training_job(name: str, instance_type: str) -> None:
    boto3.client("sagemaker", region_name=REGION).create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "xgboost:3.2-0", "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://driftline-artifacts-example/out"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def _processing_job(name: str, instance_type: str, count: int = 1) -> None:
    resources = {"ClusterConfig": {"InstanceCount": count, "InstanceType": instance_type, "VolumeSizeInGB": 10}}
    boto3.client("sagemaker", region_name=REGION).create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE,
        AppSpecification={"ImageUri": "sklearn:1.4-2"},
        ProcessingResources=resources,
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    # moto records no ProcessingResources; DescribeProcessingJob on AWS returns the request's
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends["123456789012"][REGION].processing_jobs[name].processing_resources = resources


def _utilisation(namespace: str, job: str, cpu: list[float], memory: list[float], instance: int = 1) -> None:
    """Samples as SageMaker publishes them for one of the job's instances (Percent, Host=<job>/algo-<n>)."""
    host = [{"Name": "Host", "Value": f"{job}/algo-{instance}"}]
    now = datetime.now(UTC)
    data = [
        {"MetricName": name, "Value": value, "Unit": "Percent", "Timestamp": now, "Dimensions": host}
        for name, values in (("CPUUtilization", cpu), ("MemoryUtilization", memory), ("DiskUtilization", [3.0]))
        for value in values
    ]
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(Namespace=namespace, MetricData=data)


def _facts(body: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in body.splitlines() if line.startswith("Instance ("))


def test_the_summary_says_an_idle_training_instance_is_over_sized_and_a_full_one_under_sized(stack):
    # Given a run whose training job barely used its ml.m5.large and whose preprocessing filled its memory
    state.create_run(MODEL, RUN, trigger="upload", status="TRAINING")
    state.append_training_attempt(MODEL, RUN, {"job_name": TRAIN_JOB, "outcome": "completed", "spot": True})
    _training_job(TRAIN_JOB, "ml.m5.large")
    _processing_job(PREPROCESS_JOB, "ml.m5.large")
    _utilisation("/aws/sagemaker/TrainingJobs", TRAIN_JOB, cpu=[12.0, 24.0], memory=[10.0, 12.0])
    _utilisation("/aws/sagemaker/ProcessingJobs", PREPROCESS_JOB, cpu=[100.0, 120.0], memory=[80.0, 96.0])

    # When the run ends and is reported
    result = invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "succeeded"})

    # Then on-call's summary judges each job's instance with a concrete type to try
    [sent] = stack.pages()
    facts = _facts(sent["Message"])
    assert facts["Instance (train)"].startswith("over-sized: ml.m5.large CPU 18 % avg (9 % of its vCPUs)")
    assert "memory 12 % at peak" in facts["Instance (train)"]
    assert facts["Instance (train)"].endswith("try ml.t3.medium (2 vCPU, 4 GiB)")
    assert facts["Instance (preprocess)"].startswith("under-sized (memory): ml.m5.large")
    assert facts["Instance (preprocess)"].endswith("try ml.r5.large (2 vCPU, 16 GiB)")
    # and the evaluation job, which never ran, is not judged at all
    assert "Instance (evaluate)" not in facts
    # and the run's report.html carries the same verdicts
    html = (
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=stack.artifact_bucket, Key=f"{MODEL}/runs/{RUN}/report.html")["Body"]
        .read()
        .decode()
    )
    assert result["report_uri"].endswith("report.html")
    assert "try ml.t3.medium" in html and "try ml.r5.large" in html


def test_a_job_without_utilisation_metrics_is_reported_as_not_measured_never_guessed(stack):
    # Given a run whose training job left no instance metrics in CloudWatch
    state.create_run(MODEL, RUN, trigger="upload", status="TRAINING")
    state.append_training_attempt(MODEL, RUN, {"job_name": TRAIN_JOB, "outcome": "completed", "spot": True})
    _training_job(TRAIN_JOB, "ml.m5.large")

    # When the run fails and on-call is paged
    invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "failed", "failed_step": "Evaluate"})

    # Then the page says there are no metrics rather than a verdict
    [sent] = stack.pages()
    assert _facts(sent["Message"])["Instance (train)"].startswith("ml.m5.large: no utilisation metrics")


def test_a_multi_instance_job_is_judged_on_its_busiest_instance(stack):
    # Given a run whose preprocessing ran on two instances: the first idle, the second out of memory
    state.create_run(MODEL, RUN, trigger="upload", status="TRAINING")
    _processing_job(PREPROCESS_JOB, "ml.m5.large", count=2)
    _utilisation("/aws/sagemaker/ProcessingJobs", PREPROCESS_JOB, cpu=[5.0], memory=[10.0], instance=1)
    _utilisation("/aws/sagemaker/ProcessingJobs", PREPROCESS_JOB, cpu=[90.0], memory=[97.0], instance=2)

    # When the run is reported
    invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "failed", "failed_step": "Preprocess"})

    # Then the job is under-sized by its second instance's memory, and the fact says it is the busiest of two
    [sent] = stack.pages()
    fact = _facts(sent["Message"])["Instance (preprocess)"]
    assert fact.startswith("under-sized (memory): ml.m5.large") and "the busiest of 2 instances" in fact


def test_a_sharded_runs_statistics_job_is_judged_beside_its_encode_job(stack):
    # Given a run with processing.instance_count: 2, whose first job (statistics) filled its instances' memory
    statistics_job = naming.job_name(RUN, "statistics")
    state.create_run(MODEL, RUN, trigger="upload", status="TRAINING")
    _processing_job(statistics_job, "ml.m5.large", count=2)
    _processing_job(PREPROCESS_JOB, "ml.m5.large", count=2)
    for host in (1, 2):
        _utilisation("/aws/sagemaker/ProcessingJobs", statistics_job, cpu=[95.0], memory=[96.0], instance=host)
        _utilisation("/aws/sagemaker/ProcessingJobs", PREPROCESS_JOB, cpu=[60.0], memory=[50.0], instance=host)

    # When the run is reported
    invoke("report_run", {"model": MODEL, "run_id": RUN, "outcome": "failed", "failed_step": "Train"})

    # Then both sharded jobs have a verdict, the statistics job's own
    [sent] = stack.pages()
    facts = _facts(sent["Message"])
    assert facts["Instance (statistics)"].startswith("under-sized (memory): ml.m5.large")
    assert "the busiest of 2 instances" in facts["Instance (statistics)"]
    assert "Instance (preprocess)" in facts
