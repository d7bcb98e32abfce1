"""Batch transform jobs act with their model's execution role (IAM enforced): a role that may not read the
input or write the output fails the job with the reason, as on AWS, and writes no `.out`."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from typing import Any

import pytest
from driftline_local.sagemaker import transform

from tests.integration.sagemaker.sagemaker_testkit import IMAGE, sourcedir

from .roles import create_service_role

ECHO = """
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return "".join("1\\n" for _ in text.splitlines()), "text/csv"
"""


def _model(aws: Any, bucket: str, actions: list[str]) -> str:
    name = f"m-{uuid.uuid4().hex[:8]}"
    role = f"arn:aws:iam::123456789012:role/{name}"
    create_service_role(aws, role, "sagemaker.amazonaws.com", actions)  # type: ignore[arg-type]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps({}).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/model.tar.gz", Body=buffer.getvalue())
    aws("s3").put_object(Bucket=bucket, Key=f"{name}/sourcedir.tar.gz", Body=sourcedir({"inference.py": ECHO}))
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=role,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/{name}/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/{name}/sourcedir.tar.gz",
            },
        },
    )
    return name


def _transform(aws: Any, model: str, bucket: str) -> dict[str, Any]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    aws("s3").put_object(Bucket=bucket, Key=f"in/{name}/a.csv", Body=b"c-1,1\nc-2,2\n")
    aws("sagemaker").create_transform_job(
        TransformJobName=name,
        ModelName=model,
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/in/{name}/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/out/{name}/", "Accept": "text/csv", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input"},
    )
    assert transform.wait(name, timeout=120)
    job = aws("sagemaker").describe_transform_job(TransformJobName=name)
    job["written"] = aws("s3").list_objects_v2(Bucket=bucket, Prefix=f"out/{name}/").get("KeyCount", 0)
    return job


@pytest.fixture(scope="module")
def bucket(aws) -> str:
    name = f"transform-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=name)
    return name


def test_a_role_that_may_read_and_write_completes_the_job(aws, bucket):
    job = _transform(aws, _model(aws, bucket, ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]), bucket)

    assert (job["TransformJobStatus"], job["written"]) == ("Completed", 1)


def test_a_role_that_may_not_write_the_output_fails_the_job_and_writes_nothing(aws, bucket):
    job = _transform(aws, _model(aws, bucket, ["s3:GetObject", "s3:ListBucket"]), bucket)

    assert job["TransformJobStatus"] == "Failed"
    assert "could not write" in job["FailureReason"] and "AccessDenied" in job["FailureReason"]
    assert job["written"] == 0


def test_a_role_that_may_not_list_the_input_fails_the_job(aws, bucket):
    job = _transform(aws, _model(aws, bucket, ["s3:GetObject", "s3:PutObject"]), bucket)

    assert job["TransformJobStatus"] == "Failed"
    assert "Access denied or missing input" in job["FailureReason"]
