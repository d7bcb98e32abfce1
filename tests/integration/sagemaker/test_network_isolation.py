"""EnableNetworkIsolation: the container reaches nothing, not even S3; inputs and code come through SageMaker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from .sagemaker_testkit import processing_request, training_request, wait_for


def _training_ended(aws: Callable[[str], Any], name: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (d := aws("sagemaker").describe_training_job(TrainingJobName=name))["TrainingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        60,
    )


def _isolated_training(bucket: str, code: str, name: str, code_as_channel: bool) -> dict[str, Any]:
    request = training_request(name, bucket, code, epochs=1)
    request["EnableNetworkIsolation"] = True
    request["EnableManagedSpotTraining"] = False
    request["StoppingCondition"].pop("MaxWaitTimeInSeconds")
    if code_as_channel:  # what the SageMaker SDK does for an isolated estimator
        request["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(
            "/opt/ml/input/data/code/sourcedir.tar.gz"
        )
        request["InputDataConfig"].append(
            {
                "ChannelName": "code",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"{code}/sourcedir.tar.gz"}},
            }
        )
    return request


def test_isolated_script_mode_cannot_fetch_its_sourcedir_from_s3(aws, bucket, code):
    # Given training data and an isolated job whose sagemaker_submit_directory is an s3:// URI
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n")
    name = f"isolated-{uuid.uuid4().hex[:8]}"

    # When it runs
    aws("sagemaker").create_training_job(**_isolated_training(bucket, code, name, code_as_channel=False))

    # Then the toolkit's download from S3 fails, as it does in a container without network
    job = _training_ended(aws, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert "EndpointConnectionError" in job["FailureReason"]


def test_isolated_script_mode_runs_its_code_from_the_code_channel(aws, bucket, code):
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n3,4\n")
    name = f"isolated-{uuid.uuid4().hex[:8]}"

    aws("sagemaker").create_training_job(**_isolated_training(bucket, code, name, code_as_channel=True))

    job = _training_ended(aws, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")


def test_an_isolated_processing_job_cannot_call_aws(aws, bucket, code, cloud):
    # Given a processing job with network isolation whose script calls S3 itself
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"1,2\n")
    script = "import boto3\nboto3.client('s3', region_name='us-east-1').list_buckets()\n"
    aws("s3").put_object(Bucket=bucket, Key="code/jobs/src/process.py", Body=script.encode())
    name = f"isolated-{uuid.uuid4().hex[:8]}"
    request = processing_request(name, bucket, code)
    request["NetworkConfig"] = {"EnableNetworkIsolation": True}

    # When it runs
    aws("sagemaker").create_processing_job(**request)

    # Then the call cannot leave the container and the job fails
    job = wait_for(
        lambda: (
            (d := aws("sagemaker").describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
            in ("Completed", "Failed")
            and d
        ),
        60,
    )
    assert job["ProcessingJobStatus"] == "Failed"
    assert "EndpointConnectionError" in (cloud.workdir / "jobs" / name / "job.log").read_text()
