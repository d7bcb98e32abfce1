"""What CreateTrainingJob/CreateProcessingJob and StopTrainingJob/StopProcessingJob refuse, in AWS's words."""

from __future__ import annotations

import uuid

import pytest

from .sagemaker_testkit import processing_request, training_request, wait_for
from .test_sagemaker_jobs import _ended, _put_training_data


def _processing_ended(aws, name: str) -> str:
    return wait_for(
        lambda: (
            (status := aws("sagemaker").describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"])
            != "InProgress"
            and status
        )
    )


def test_duplicate_processing_job_name_is_rejected_with_the_existing_jobs_arn(aws, bucket, code):
    # Given a processing job that exists (and fails at once)
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"x\n")
    name = f"process-dup-{uuid.uuid4().hex[:8]}"
    arn = aws("sagemaker").create_processing_job(**processing_request(name, bucket, code, "--fail", "no config"))[
        "ProcessingJobArn"
    ]

    # When a second one is created with its name, then it is refused, naming the first
    with pytest.raises(aws("sagemaker").exceptions.ClientError) as error:
        aws("sagemaker").create_processing_job(**processing_request(name, bucket, code, "--fail", "no config"))
    assert error.value.response["Error"]["Message"] == (
        f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})"
    )
    _processing_ended(aws, name)


def test_stopping_a_processing_job_that_ended_is_rejected_with_its_status(aws, bucket, code):
    # Given a processing job that failed
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"x\n")
    name = f"process-ended-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_processing_job(**processing_request(name, bucket, code, "--fail", "no config"))
    assert _processing_ended(aws, name) == "Failed"

    # When it is stopped, then the request is refused with its status
    with pytest.raises(aws("sagemaker").exceptions.ClientError) as error:
        aws("sagemaker").stop_processing_job(ProcessingJobName=name)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        "The request was rejected because the processing job is in status Failed."
    )


def test_stopping_a_training_job_that_ended_is_rejected_with_its_status(aws, bucket, code):
    # Given a training job that failed
    _put_training_data(aws, bucket)
    name = f"train-ended-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_training_job(**training_request(name, bucket, code, fail="label column missing"))
    assert _ended(aws, name)["TrainingJobStatus"] == "Failed"

    # When it is stopped, then the request is refused with its status
    with pytest.raises(aws("sagemaker").exceptions.ClientError) as error:
        aws("sagemaker").stop_training_job(TrainingJobName=name)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        "The request was rejected because the training job is in status Failed."
    )
