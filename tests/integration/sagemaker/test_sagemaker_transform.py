"""Batch transform jobs really run: Line split, MultiRecord mini-batches bounded by MaxPayloadInMB, the id
filtered out of what the model sees and joined back, `<input>.out` written, state-change events sent."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from driftline_local.sagemaker import transform

from .sagemaker_testkit import IMAGE, ROLE, sourcedir, wait_for

# One answer line per CSV line: the row's sum times the model's factor, "x" for a row that is not numbers.
ROW_SUMS = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        return json.load(f)

def transform_fn(model, body, content_type, accept):
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    answers = []
    for line in text.splitlines():
        try:
            answers.append(str(sum(float(v) for v in line.split(",")) * model["factor"]))
        except ValueError:
            answers.append("x")
    return "\\n".join(answers) + "\\n", "text/csv"
"""
EVENT = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Transform Job State Change"]}


def _model(aws: Any, bucket: str) -> str:
    name = f"model-{uuid.uuid4().hex[:8]}"
    data = json.dumps({"factor": 2}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    aws("s3").put_object(Bucket=bucket, Key=f"models/{name}/model.tar.gz", Body=buffer.getvalue())
    aws("s3").put_object(Bucket=bucket, Key=f"code/{name}/sourcedir.tar.gz", Body=sourcedir({"inference.py": ROW_SUMS}))
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/models/{name}/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/{name}/sourcedir.tar.gz",
            },
        },
    )
    return name


def _request(name: str, model: str, bucket: str, prefix: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "MaxPayloadInMB": 1,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{bucket}/predictions/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"},
        "Tags": [{"Key": "driftline:model", "Value": "demo"}],
    }
    return request | overrides


def _run(aws: Any, request: dict[str, Any]) -> dict[str, Any]:
    aws("sagemaker").create_transform_job(**request)
    assert transform.wait(request["TransformJobName"], timeout=120)
    return aws("sagemaker").describe_transform_job(TransformJobName=request["TransformJobName"])


def test_each_output_row_is_its_input_row_then_the_prediction_of_the_filtered_columns(aws, bucket):
    model = _model(aws, bucket)
    aws("s3").put_object(Bucket=bucket, Key="in/2026/nov.csv", Body=b"c-1,1,2\nc-2,3,4\nc-3,5,6\n")
    name = f"transform-{uuid.uuid4().hex[:8]}"

    job = _run(aws, _request(name, model, bucket, "in/"))

    assert job["TransformJobStatus"] == "Completed"
    written = aws("s3").get_object(Bucket=bucket, Key="predictions/2026/nov.csv.out")["Body"].read()
    assert written == b"c-1,1,2,6.0\nc-2,3,4,14.0\nc-3,5,6,22.0\n"
    assert transform.requests_of(name) == [b"1,2\n3,4\n5,6\n"]  # one MultiRecord request, without the ids


def test_a_header_line_reaches_the_model_as_a_record_like_any_other(aws, bucket):
    model = _model(aws, bucket)
    aws("s3").put_object(Bucket=bucket, Key="hdr/a.csv", Body=b"id,a,b\nc-1,1,2\n")
    name = f"transform-{uuid.uuid4().hex[:8]}"

    _run(aws, _request(name, model, bucket, "hdr/"))

    assert transform.requests_of(name) == [b"a,b\n1,2\n"]
    written = aws("s3").get_object(Bucket=bucket, Key="predictions/a.csv.out")["Body"].read()
    assert written == b"id,a,b,x\nc-1,1,2,6.0\n"


def test_multirecord_batches_stop_at_max_payload_and_singlerecord_sends_one_each(aws, bucket):
    model = _model(aws, bucket)
    row = b"r," + b",".join([b"1"] * 200_000) + b"\n"  # about 400 KB: two fit in 1 MB, three do not
    aws("s3").put_object(Bucket=bucket, Key="big/a.csv", Body=row * 3)
    multi, single = f"transform-{uuid.uuid4().hex[:8]}", f"transform-{uuid.uuid4().hex[:8]}"

    _run(aws, _request(multi, model, bucket, "big/"))
    _run(aws, _request(single, model, bucket, "big/", BatchStrategy="SingleRecord"))

    assert [body.count(b"\n") for body in transform.requests_of(multi)] == [2, 1]
    assert [body.count(b"\n") for body in transform.requests_of(single)] == [1, 1, 1]


def test_a_record_above_max_payload_fails_the_job_with_its_reason_and_events(aws, bucket, event_queue):
    read = event_queue(EVENT)
    model = _model(aws, bucket)
    aws("s3").put_object(Bucket=bucket, Key="huge/a.csv", Body=b"r," + b"1," * 600_000 + b"1\n")
    name = f"transform-{uuid.uuid4().hex[:8]}"

    job = _run(aws, _request(name, model, bucket, "huge/"))

    assert job["TransformJobStatus"] == "Failed"
    assert "larger than MaxPayloadInMB (1 MB)" in job["FailureReason"]
    named = lambda: [e for e in read() if e["detail"]["TransformJobName"] == name]  # noqa: E731
    events = wait_for(lambda: named() if len(named()) >= 2 else None)
    assert [e["detail"]["TransformJobStatus"] for e in events] == ["InProgress", "Failed"]
    assert events[-1]["detail"]["Tags"] == {"driftline:model": "demo"}
    assert "larger than MaxPayloadInMB" in events[-1]["detail"]["FailureReason"]
    assert "predictions/a.csv.out" not in str(aws("s3").list_objects_v2(Bucket=bucket, Prefix="predictions/"))


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"MaxPayloadInMB": 30, "MaxConcurrentTransforms": 4}, "must not exceed 100 MB"),
        ({"ModelName": "no-such-model"}, 'Could not find model "no-such-model"'),
        # moto stores any tag; SageMaker checks the model's pattern (botocore: TagValue)
        ({"Tags": [{"Key": "file", "Value": "batch/m/dec (v2).csv"}]}, "Member must satisfy regular expression"),
    ],
)
def test_requests_sagemaker_refuses_are_refused(aws, bucket, overrides, words):
    model = _model(aws, bucket)

    with pytest.raises(ClientError) as caught:
        aws("sagemaker").create_transform_job(
            **_request(f"t-{uuid.uuid4().hex[:8]}", model, bucket, "in/", **overrides)
        )

    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert words in caught.value.response["Error"]["Message"]


def test_a_second_job_of_the_same_name_is_refused(aws, bucket):
    model = _model(aws, bucket)
    aws("s3").put_object(Bucket=bucket, Key="dup/a.csv", Body=b"c-1,1,2\n")
    request = _request(f"transform-{uuid.uuid4().hex[:8]}", model, bucket, "dup/")
    _run(aws, request)

    with pytest.raises(ClientError, match="a job with this name already exists"):
        aws("sagemaker").create_transform_job(**request)


def test_an_output_filter_index_beyond_the_joined_row_fails_the_job(aws, bucket):
    model = _model(aws, bucket)
    aws("s3").put_object(Bucket=bucket, Key="narrow/a.csv", Body=b"c-1,1,2\n")
    processing = {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,7]"}

    job = _run(aws, _request(f"transform-{uuid.uuid4().hex[:8]}", model, bucket, "narrow/", DataProcessing=processing))

    assert job["TransformJobStatus"] == "Failed"
    assert "selects column 7 of a record with 4 columns" in job["FailureReason"]
