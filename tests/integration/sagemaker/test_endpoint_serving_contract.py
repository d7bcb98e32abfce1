"""Endpoints answer as the XGBoost container's serving stack does (aws/sagemaker-xgboost-container serving.py on
aws/sagemaker-containers 2.8.6.post2 and Flask): what a script's result becomes (status, Content-Type), how
exceptions and Accept are handled, what data capture records, and which invocation metric counts a failure.
The rules and their upstream files are listed in docs/internals.md ("Hosting: the XGBoost container's serving
contract")."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import uuid
from typing import Any

import pytest
from driftline_local.sagemaker import flush_data_capture, flush_metrics

from .sagemaker_testkit import IMAGE, ROLE, sourcedir
from .test_endpoint_faults_and_metrics import _metric
from .test_sagemaker_endpoints import _config, _in_service

# The body selects what the script returns; otherwise it echoes what the container handed it.
CONTRACT_PY = """
import json

def model_fn(model_dir):
    return {}

def rejection(environ, start_response):
    start_response("415 UNSUPPORTED MEDIA TYPE", [("Content-Type", "application/json")])
    return [b'{"message": "send text/csv"}']

def transform_fn(model, content, content_type, accept):
    text = content if isinstance(content, str) else content.decode("latin-1")
    seen = json.dumps({"content_type": content_type, "accept": accept, "as_text": isinstance(content, str)})
    if text == "bare":
        return seen
    if text == "csv":
        return "0.5\\n", "text/csv"
    if text == "raise":
        raise ValueError("cannot score this row")
    if text == "reject":
        return rejection
    return seen, "application/json"
"""

BOTH_PY = """
def model_fn(model_dir):
    return {}

def input_fn(content, content_type):
    return content

def transform_fn(model, content, content_type, accept):
    return content, "text/csv"
"""


def _script_model(aws: Any, bucket: str, script: str, **environment: str) -> str:
    name = f"contract-{uuid.uuid4().hex[:8]}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    aws("s3").put_object(Bucket=bucket, Key=f"models/{name}/model.tar.gz", Body=buffer.getvalue())
    aws("s3").put_object(Bucket=bucket, Key=f"code/{name}/sourcedir.tar.gz", Body=sourcedir({"serve.py": script}))
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/models/{name}/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "serve.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/code/{name}/sourcedir.tar.gz",
                **environment,
            },
        },
    )
    return name


def _endpoint(aws: Any, model: str, capture: dict[str, Any] | None = None) -> str:
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint(
        EndpointName=endpoint, EndpointConfigName=_config(aws, {"AllTraffic": (model, 1.0)}, capture)
    )
    _in_service(aws, endpoint)
    return endpoint


def _call(aws: Any, endpoint: str, body: str, **kwargs: Any) -> tuple[str, str]:
    response = aws("sagemaker-runtime").invoke_endpoint(EndpointName=endpoint, Body=body, **kwargs)
    return response["ContentType"], response["Body"].read().decode()


@pytest.fixture(scope="module")
def served(aws: Any) -> str:
    """One endpoint serving CONTRACT_PY (module scope: the rules below share it)."""
    bucket = f"contract-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=bucket)
    return _endpoint(aws, _script_model(aws, bucket, CONTRACT_PY))


def test_a_bare_string_goes_out_as_text_html(aws, served):
    content_type, _ = _call(aws, served, "bare", ContentType="text/csv", Accept="text/csv")

    assert content_type == "text/html; charset=utf-8"  # flask.Response's default mimetype


def test_a_tuple_goes_out_with_its_content_type_as_flask_spells_it(aws, served):
    assert _call(aws, served, "csv", ContentType="text/csv", Accept="text/csv") == (
        "text/csv; charset=utf-8",
        "0.5\n",
    )
    content_type, _ = _call(aws, served, "echo", ContentType="text/csv", Accept="application/json")
    assert content_type == "application/json"


@pytest.mark.parametrize(
    ("accept", "seen"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("text/csv, application/json", "text/csv, application/json"),
    ],
)
def test_accept_reaches_the_script_as_sent_unless_missing_or_any(aws, served, accept, seen):
    kwargs = {"Accept": accept} if accept else {}

    _, body = _call(aws, served, "echo", ContentType="text/csv", **kwargs)

    assert json.loads(body)["accept"] == seen


def test_a_missing_or_any_accept_becomes_the_models_default_invocations_accept(aws, bucket):
    model = _script_model(aws, bucket, CONTRACT_PY, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT="text/csv")
    endpoint = _endpoint(aws, model)

    _, body = _call(aws, endpoint, "echo", ContentType="text/csv", Accept="*/*")

    assert json.loads(body)["accept"] == "text/csv"


@pytest.mark.parametrize(
    ("content_type", "as_text"),
    [("text/csv", True), ("application/json", True), ("text/csv; charset=utf-8", False), ("application/x-npy", False)],
)
def test_the_body_reaches_the_script_as_text_only_for_exactly_csv_and_json(aws, served, content_type, as_text):
    _, body = _call(aws, served, "echo", ContentType=content_type)

    assert json.loads(body) == {"content_type": content_type, "accept": "application/json", "as_text": as_text}


def test_an_exception_is_a_500_and_a_returned_4xx_is_a_client_error_each_in_its_metric(aws, bucket):
    endpoint = _endpoint(aws, _script_model(aws, bucket, CONTRACT_PY))
    runtime = aws("sagemaker-runtime")

    with pytest.raises(runtime.exceptions.ModelError) as raised:
        _call(aws, endpoint, "raise", ContentType="text/csv")
    with pytest.raises(runtime.exceptions.ModelError) as rejected:
        _call(aws, endpoint, "reject", ContentType="text/csv")
    _call(aws, endpoint, "echo", ContentType="text/csv")
    flush_metrics()

    assert raised.value.response["OriginalStatusCode"] == 500
    assert "500 Internal Server Error" in raised.value.response["OriginalMessage"]  # Flask's page, not the error
    assert rejected.value.response["OriginalStatusCode"] == 415
    assert json.loads(rejected.value.response["OriginalMessage"]) == {"message": "send text/csv"}
    assert rejected.value.response["Error"]["Code"] == "ModelError"
    assert _metric(aws, endpoint, "AllTraffic", "Invocations", "Sum") == 3
    assert _metric(aws, endpoint, "AllTraffic", "Invocation4XXErrors", "Sum") == 1
    assert _metric(aws, endpoint, "AllTraffic", "Invocation5XXErrors", "Sum") == 1


def test_capture_records_the_content_types_sagemaker_observed(aws, bucket):
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
    }
    endpoint = _endpoint(aws, _script_model(aws, bucket, CONTRACT_PY), capture)

    _call(aws, endpoint, "csv", ContentType="text/csv", Accept="text/csv")
    _call(aws, endpoint, "bare", ContentType="text/csv")
    flush_data_capture()

    objects = aws("s3").list_objects_v2(Bucket=bucket, Prefix=f"capture/{endpoint}/")["Contents"]
    lines = [
        json.loads(line)["captureData"]
        for obj in objects
        for line in aws("s3").get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().splitlines()
    ]
    csv_answer, html_answer = lines
    # As AWS's data capture guide shows for the XGBoost container: the answer's header, charset included,
    # captured as CSV because its media type is listed
    assert csv_answer["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "csv",
        "encoding": "CSV",
    }
    assert csv_answer["endpointOutput"] == {
        "observedContentType": "text/csv; charset=utf-8",
        "mode": "OUTPUT",
        "data": "0.5\n",
        "encoding": "CSV",
    }
    assert html_answer["endpointOutput"]["observedContentType"] == "text/html; charset=utf-8"
    assert html_answer["endpointOutput"]["encoding"] == "BASE64"
    assert json.loads(base64.b64decode(html_answer["endpointOutput"]["data"]))["content_type"] == "text/csv"


def test_a_script_with_transform_fn_and_input_fn_fails_the_endpoint(aws, bucket):
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    config = _config(aws, {"AllTraffic": (_script_model(aws, bucket, BOTH_PY), 1.0)})
    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)

    described = _in_service(aws, endpoint)

    assert described["EndpointStatus"] == "Failed"
    assert "Cannot use transform_fn implementation with input_fn" in described["FailureReason"]
