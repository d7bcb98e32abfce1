"""Endpoints really host the model: InvokeEndpoint, updates, weighted variants, data capture."""

from __future__ import annotations

import base64
import io
import json
import tarfile
import uuid
from collections import Counter
from typing import Any

import pytest
from driftline_local.sagemaker import flush_data_capture

from .sagemaker_testkit import IMAGE, ROLE, at_least, wait_for


def _model(aws: Any, bucket: str, code: str, factor: float, image: str = IMAGE, **extra: Any) -> str:
    """Upload a model.tar.gz holding model.json and register a SageMaker model serving it."""
    name = f"model-{uuid.uuid4().hex[:8]}"
    data = json.dumps({"factor": factor, **extra}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    aws("s3").put_object(Bucket=bucket, Key=f"models/{name}/model.tar.gz", Body=buffer.getvalue())
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": image,
            "ModelDataUrl": f"s3://{bucket}/models/{name}/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"{code}/sourcedir.tar.gz",
            },
        },
    )
    return name


def _config(aws: Any, variants: dict[str, tuple[str, float]], capture: dict[str, Any] | None = None) -> str:
    name = f"config-{uuid.uuid4().hex[:8]}"
    kwargs: dict[str, Any] = {"DataCaptureConfig": capture} if capture else {}
    aws("sagemaker").create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": weight,
            }
            for variant, (model, weight) in variants.items()
        ],
        **kwargs,
    )
    return name


def _in_service(aws: Any, endpoint: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (d := aws("sagemaker").describe_endpoint(EndpointName=endpoint))["EndpointStatus"]
            not in ("Creating", "Updating")
            and d
        )
    )


def _invoke(aws: Any, endpoint: str, body: str = "1,2", **kwargs: Any) -> tuple[dict[str, Any], str]:
    response = aws("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType=kwargs.pop("ContentType", "text/csv"), **kwargs
    )
    return response, response["Body"].read().decode()


def test_endpoint_serves_the_model_and_captures_requests(aws, bucket, code, event_queue):
    # Given a model and a config capturing CSV input and JSON output
    model = _model(aws, bucket, code, factor=2)
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/m/datacapture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    config = _config(aws, {"AllTraffic": (model, 1.0)}, capture)
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    events = event_queue(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Endpoint State Change"],
            "detail": {"EndpointName": [endpoint]},
        }
    )

    # When the endpoint is created
    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)

    # Then it goes Creating -> InService and answers with the model's prediction
    assert aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"
    described = _in_service(aws, endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentWeight"] == 1.0
    response, body = _invoke(aws, endpoint, "1,2.5", Accept="application/json", InferenceId="req-1")
    assert json.loads(body) == {"predictions": [2.0, 5.0]}
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ContentType"] == "application/json"
    statuses = [e["detail"]["EndpointStatus"] for e in at_least(events, 2)]
    assert statuses == ["CREATING", "IN_SERVICE"]

    # And the request is captured in SageMaker's JSONL format and S3 layout
    flush_data_capture()
    objects = aws("s3").list_objects_v2(Bucket=bucket, Prefix=f"m/datacapture/{endpoint}/AllTraffic/")["Contents"]
    assert len(objects) == 1
    key = objects[0]["Key"]
    assert len(key.split("/")) == 9 and key.endswith(".jsonl")  # m/datacapture/ep/variant/yyyy/mm/dd/hh/file
    record = json.loads(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()[0])
    assert record["eventVersion"] == "0"
    assert record["eventMetadata"]["inferenceId"] == "req-1"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "1,2.5",
        "encoding": "CSV",
    }
    output = record["captureData"]["endpointOutput"]
    assert (output["mode"], output["encoding"]) == ("OUTPUT", "BASE64")  # JSON not listed: base64, as on AWS
    assert json.loads(base64.b64decode(output["data"])) == {"predictions": [2.0, 5.0]}


def test_handler_error_is_a_model_error_whose_traceback_is_in_the_log(aws, bucket, code, cloud):
    config = _config(aws, {"AllTraffic": (_model(aws, bucket, code, factor=2), 1.0)})
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    _in_service(aws, endpoint)

    with pytest.raises(aws("sagemaker-runtime").exceptions.ModelError) as error:
        _invoke(aws, endpoint, "x", ContentType="application/x-unknown")

    # As in the XGBoost container: any exception from the script is a 500 with Flask's generic page;
    # what went wrong is only in the endpoint's log
    assert error.value.response["OriginalStatusCode"] == 500
    assert "500 Internal Server Error" in error.value.response["OriginalMessage"]
    assert "unsupported content type" not in error.value.response["OriginalMessage"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    logs = "".join(log.read_text() for log in (cloud.workdir / "endpoints" / endpoint).glob("*/model_server.log"))
    assert "ValueError: unsupported content type application/x-unknown" in logs


def test_model_that_cannot_load_fails_the_endpoint(aws, bucket, code):
    config = _config(aws, {"AllTraffic": (_model(aws, bucket, code, factor=1, broken=True), 1.0)})
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"

    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)

    described = _in_service(aws, endpoint)
    assert described["EndpointStatus"] == "Failed"
    assert "cannot load a broken model" in described["FailureReason"]


def test_model_whose_image_does_not_exist_fails_the_endpoint(aws, bucket, code):
    unknown = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-server:latest"
    config = _config(aws, {"AllTraffic": (_model(aws, bucket, code, factor=1, image=unknown), 1.0)})
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"

    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)

    described = _in_service(aws, endpoint)
    assert described["EndpointStatus"] == "Failed"
    assert unknown in described["FailureReason"] and "cannot be pulled" in described["FailureReason"]


def test_update_endpoint_switches_to_the_new_model(aws, bucket, code):
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint(
        EndpointName=endpoint, EndpointConfigName=_config(aws, {"AllTraffic": (_model(aws, bucket, code, 2), 1.0)})
    )
    _in_service(aws, endpoint)
    new_config = _config(aws, {"AllTraffic": (_model(aws, bucket, code, 10), 1.0)})

    aws("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config)

    assert aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Updating"
    assert json.loads(_invoke(aws, endpoint, "1")[1]) in ({"predictions": [2.0]}, {"predictions": [10.0]})
    described = _in_service(aws, endpoint)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", new_config)
    assert json.loads(_invoke(aws, endpoint, "1")[1]) == {"predictions": [10.0]}


def test_two_weighted_variants_split_traffic_and_weights_can_shift(aws, bucket, code):
    config = _config(
        aws, {"Production": (_model(aws, bucket, code, 1), 0.8), "Candidate": (_model(aws, bucket, code, 100), 0.2)}
    )
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    _in_service(aws, endpoint)

    served = Counter(_invoke(aws, endpoint)[0]["InvokedProductionVariant"] for _ in range(100))

    assert 60 <= served["Production"] <= 95 and served["Production"] + served["Candidate"] == 100
    response, body = _invoke(aws, endpoint, "1", TargetVariant="Candidate")
    assert (response["InvokedProductionVariant"], json.loads(body)) == ("Candidate", {"predictions": [100.0]})

    aws("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[
            {"VariantName": "Production", "DesiredWeight": 0.0},
            {"VariantName": "Candidate", "DesiredWeight": 1.0},
        ],
    )
    assert aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Updating"
    assert _in_service(aws, endpoint)["EndpointStatus"] == "InService"
    assert {_invoke(aws, endpoint)[0]["InvokedProductionVariant"] for _ in range(20)} == {"Candidate"}


def test_invoking_a_missing_endpoint_is_a_validation_error(aws):
    with pytest.raises(aws("sagemaker-runtime").exceptions.ClientError, match="not found") as error:
        _invoke(aws, "no-such-endpoint")
    assert error.value.response["Error"]["Code"] == "ValidationError"
