"""Shadow variants: a copy of every request goes to the shadow; its answers, errors and latency never reach the
caller; its metrics and captured answers are published under its own variant name."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from driftline_local.sagemaker import endpoints, flush_data_capture, flush_metrics, set_fault

from .sagemaker_testkit import wait_for
from .test_endpoint_faults_and_metrics import _metric
from .test_sagemaker_endpoints import _in_service, _invoke, _model

CAPTURE_TYPES = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


def _variant(name: str, model: str) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1.0,
    }


def _shadowed_endpoint(aws: Any, bucket: str, code: str) -> tuple[str, str]:
    """An InService endpoint: production doubles its input, the shadow triples it; capture on."""
    config = f"config-{uuid.uuid4().hex[:8]}"
    prefix = f"m-{uuid.uuid4().hex[:6]}/datacapture"
    aws("sagemaker").create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[_variant("Production", _model(aws, bucket, code, factor=2))],
        ShadowProductionVariants=[_variant("Shadow", _model(aws, bucket, code, factor=3))],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{bucket}/{prefix}",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": CAPTURE_TYPES,
        },
    )
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    assert _in_service(aws, endpoint)["EndpointStatus"] == "InService"
    return endpoint, prefix


def _mirrored_at_least(count: int) -> None:
    wait_for(lambda: endpoints.host().mirrored >= count, timeout=60)


def test_shadow_failures_and_slowness_never_reach_the_caller(aws, bucket, code):
    # Given an endpoint whose shadow variant fails every request and takes 300 ms more
    endpoint, _ = _shadowed_endpoint(aws, bucket, code)
    described = aws("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Production"]
    assert [v["VariantName"] for v in described["ShadowProductionVariants"]] == ["Shadow"]
    set_fault(endpoint, "Shadow", error_rate=1.0, latency_ms=300)
    before = endpoints.host().mirrored

    # When callers send 10 requests
    started = time.monotonic()
    answers = [_invoke(aws, endpoint, "1,2", Accept="application/json") for _ in range(10)]
    elapsed = time.monotonic() - started

    # Then every caller got production's answer from the production variant, without the shadow's delay
    assert all(response["InvokedProductionVariant"] == "Production" for response, _ in answers)
    assert all(json.loads(body) == {"predictions": [2.0, 4.0]} for _, body in answers)
    assert elapsed < 10 * 0.3
    # and the shadow got all 10 copies: they failed, counted under its own variant name
    _mirrored_at_least(before + 10)
    flush_metrics()
    assert _metric(aws, endpoint, "Shadow", "Invocations", "Sum") == 10
    assert _metric(aws, endpoint, "Shadow", "Invocation5XXErrors", "Sum") == 10
    assert _metric(aws, endpoint, "Production", "Invocation5XXErrors", "Sum") == 0


def test_shadow_answers_are_captured_under_the_shadow_variant(aws, bucket, code):
    # Given an endpoint with a healthy shadow variant and data capture on
    endpoint, prefix = _shadowed_endpoint(aws, bucket, code)
    before = endpoints.host().mirrored

    # When a caller sends 3 requests
    for _ in range(3):
        _invoke(aws, endpoint, "1,2", Accept="application/json")
    _mirrored_at_least(before + 3)
    flush_data_capture()

    # Then the capture holds both variants' answers to the same input, each under its variant's name
    def outputs(variant: str) -> list[Any]:
        listed = aws("s3").list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{endpoint}/{variant}/").get("Contents")
        records = [
            json.loads(line)
            for item in listed or []
            for line in aws("s3").get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode().splitlines()
        ]
        return [json.loads(r["captureData"]["endpointOutput"]["data"])["predictions"] for r in records]

    assert wait_for(lambda: len(outputs("Shadow")) == 3 and len(outputs("Production")) == 3)
    assert outputs("Shadow") == [[3.0, 6.0]] * 3 and outputs("Production") == [[2.0, 4.0]] * 3


def test_two_production_variants_with_a_shadow_are_refused(aws, bucket, code):
    model = _model(aws, bucket, code, factor=2)

    with pytest.raises(aws("sagemaker").exceptions.ClientError, match="exactly one variant"):
        aws("sagemaker").create_endpoint_config(
            EndpointConfigName=f"config-{uuid.uuid4().hex[:8]}",
            ProductionVariants=[_variant("A", model), _variant("B", model)],
            ShadowProductionVariants=[_variant("Shadow", model)],
        )
