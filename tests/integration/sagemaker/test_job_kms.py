"""A job's KMS keys (volumes, outputs) must exist: an unknown key fails the job and names the field."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from .sagemaker_testkit import processing_request, training_request, wait_for


def _ended(aws: Callable[[str], Any], kind: str, name: str) -> dict[str, Any]:
    describe = getattr(aws("sagemaker"), f"describe_{kind}_job")
    key = "ProcessingJobName" if kind == "processing" else "TrainingJobName"
    status = "ProcessingJobStatus" if kind == "processing" else "TrainingJobStatus"
    return wait_for(lambda: (d := describe(**{key: name}))[status] in ("Completed", "Failed", "Stopped") and d, 60)


def test_a_processing_job_with_an_existing_key_runs(aws, bucket, code):
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"1,2\n")
    key = aws("kms").create_key()["KeyMetadata"]["Arn"]
    name = f"kms-{uuid.uuid4().hex[:8]}"
    request = processing_request(name, bucket, code)
    request["ProcessingOutputConfig"]["KmsKeyId"] = key
    request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = key

    aws("sagemaker").create_processing_job(**request)

    job = _ended(aws, "processing", name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")


def test_a_processing_job_with_an_unknown_key_fails_naming_the_field(aws, bucket, code):
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"1,2\n")
    missing = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    name = f"kms-{uuid.uuid4().hex[:8]}"
    request = processing_request(name, bucket, code)
    request["ProcessingOutputConfig"]["KmsKeyId"] = missing

    aws("sagemaker").create_processing_job(**request)

    job = _ended(aws, "processing", name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: ProcessingOutputConfig.KmsKeyId ")
    assert missing in job["FailureReason"]


def test_a_training_job_with_a_volume_key_of_another_region_fails(aws, bucket, code):
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n")
    key_id = aws("kms").create_key()["KeyMetadata"]["KeyId"]
    name = f"kms-{uuid.uuid4().hex[:8]}"
    request = training_request(name, bucket, code, epochs=1)
    request["ResourceConfig"]["VolumeKmsKeyId"] = f"arn:aws:kms:eu-west-1:123456789012:key/{key_id}"

    aws("sagemaker").create_training_job(**request)

    job = _ended(aws, "training", name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: ResourceConfig.VolumeKmsKeyId ")
