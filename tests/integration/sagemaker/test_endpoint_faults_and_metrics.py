"""Endpoints fail and slow down on demand, publish SageMaker's invocation metrics, split traffic by weight
and change weights and configs the way SageMaker does."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from driftline_local.sagemaker import clear_fault, flush_metrics, set_fault

from .sagemaker_testkit import wait_for
from .test_sagemaker_endpoints import _config, _in_service, _invoke, _model


def _endpoint(aws: Any, bucket: str, code: str, variants: dict[str, tuple[float, float]]) -> str:
    """An InService endpoint; `variants`: name -> (model factor, initial weight)."""
    config = _config(
        aws, {name: (_model(aws, bucket, code, factor), weight) for name, (factor, weight) in variants.items()}
    )
    endpoint = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    assert _in_service(aws, endpoint)["EndpointStatus"] == "InService"
    return endpoint


def _try_invoke(aws: Any, endpoint: str, **kwargs: Any) -> tuple[str, float, dict[str, Any]]:
    """('ok' | 'ModelError', seconds taken, response or error response)."""
    started = time.monotonic()
    try:
        response, _ = _invoke(aws, endpoint, "1", **kwargs)
        return "ok", time.monotonic() - started, response
    except aws("sagemaker-runtime").exceptions.ModelError as error:
        return "ModelError", time.monotonic() - started, error.response


def _metric(aws: Any, endpoint: str, variant: str, name: str, statistic: str) -> float | None:
    """`statistic` of an AWS/SageMaker metric over the last ten minutes (summed over its datapoints)."""
    now = datetime.now(UTC)
    points = aws("cloudwatch").get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=name,
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=600,
        Statistics=[statistic],
    )["Datapoints"]
    if not points:
        return None
    values = [p[statistic] for p in points]
    return {"Sum": sum, "SampleCount": sum, "Minimum": min, "Maximum": max}[statistic](values)


def test_fault_fails_a_share_of_invocations_and_adds_latency(aws, bucket, code):
    # Given a serving endpoint whose variant answers quickly
    endpoint = _endpoint(aws, bucket, code, {"AllTraffic": (2, 1.0)})
    assert _try_invoke(aws, endpoint)[0] == "ok"

    # When half its invocations are made to fail and every one to take 100 ms longer
    set_fault(endpoint, "AllTraffic", error_rate=0.5, latency_ms=100)
    results = [_try_invoke(aws, endpoint) for _ in range(24)]

    # Then about half fail the way a container error surfaces (ModelError, original status 500)
    outcomes = Counter(outcome for outcome, _, _ in results)
    assert 6 <= outcomes["ModelError"] <= 18 and outcomes["ok"] + outcomes["ModelError"] == 24
    error = next(response for outcome, _, response in results if outcome == "ModelError")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500
    assert error["Error"]["Code"] == "ModelError"
    # And every invocation, failed or not, took the added latency
    assert min(seconds for _, seconds, _ in results) >= 0.1

    # When the fault is cleared, every invocation succeeds again
    clear_fault(endpoint, "AllTraffic")
    assert {_try_invoke(aws, endpoint)[0] for _ in range(5)} == {"ok"}


def test_fault_on_an_unknown_endpoint_or_variant_is_refused(aws, bucket, code):
    endpoint = _endpoint(aws, bucket, code, {"AllTraffic": (2, 1.0)})

    with pytest.raises(ValueError, match="Could not find endpoint"):
        set_fault("no-such-endpoint", "AllTraffic", error_rate=1.0)
    with pytest.raises(ValueError, match='has no variant "Candidate"'):
        set_fault(endpoint, "Candidate", error_rate=1.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        set_fault(endpoint, "AllTraffic", error_rate=1.5)


def test_invocation_metrics_are_published_per_variant(aws, bucket, code):
    # Given two variants, the candidate failing every request and 100 ms slower
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 0.5), "Candidate": (100, 0.5)})
    set_fault(endpoint, "Candidate", error_rate=1.0, latency_ms=100)

    # When each variant is invoked directly
    production = [_try_invoke(aws, endpoint, TargetVariant="Production")[0] for _ in range(6)]
    candidate = [_try_invoke(aws, endpoint, TargetVariant="Candidate")[0] for _ in range(3)]
    flush_metrics()

    # Then CloudWatch has SageMaker's metrics per variant, in AWS/SageMaker with EndpointName + VariantName
    assert (production, candidate) == (["ok"] * 6, ["ModelError"] * 3)
    assert _metric(aws, endpoint, "Production", "Invocations", "Sum") == 6
    assert _metric(aws, endpoint, "Candidate", "Invocations", "Sum") == 3
    assert _metric(aws, endpoint, "Production", "Invocation5XXErrors", "Sum") == 0
    assert _metric(aws, endpoint, "Candidate", "Invocation5XXErrors", "Sum") == 3
    assert _metric(aws, endpoint, "Candidate", "Invocation4XXErrors", "Sum") == 0
    # 0 or 1 per request, so the Average is the error rate
    assert _metric(aws, endpoint, "Candidate", "Invocation5XXErrors", "SampleCount") == 3
    # latencies in microseconds: the injected 100 ms shows in ModelLatency, not in OverheadLatency
    assert _metric(aws, endpoint, "Candidate", "ModelLatency", "Minimum") >= 100_000
    assert _metric(aws, endpoint, "Production", "ModelLatency", "Maximum") < 100_000
    assert _metric(aws, endpoint, "Candidate", "OverheadLatency", "Maximum") < 100_000
    listed = aws("cloudwatch").list_metrics(
        Namespace="AWS/SageMaker", MetricName="ModelLatency", Dimensions=[{"Name": "EndpointName", "Value": endpoint}]
    )["Metrics"]
    assert {d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "VariantName"} == {
        "Production",
        "Candidate",
    }


def test_metrics_are_aggregated_not_one_datapoint_per_request(aws, bucket, code):
    from moto.cloudwatch.models import cloudwatch_backends

    endpoint = _endpoint(aws, bucket, code, {"AllTraffic": (1, 1.0)})

    for _ in range(10):
        _invoke(aws, endpoint)
    flush_metrics()

    backend = cloudwatch_backends["123456789012"]["us-east-1"]
    stored = [
        d
        for d in backend.metric_data
        if d.name == "Invocations" and {(x.name, x.value) for x in d.dimensions} >= {("EndpointName", endpoint)}
    ]
    assert 1 <= len(stored) <= 3  # one statistic set per second the ten requests spanned
    assert _metric(aws, endpoint, "AllTraffic", "Invocations", "Sum") == 10


def test_weighted_variants_split_traffic_by_weight(aws, bucket, code):
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 3.0), "Candidate": (100, 1.0)})

    served = Counter(_invoke(aws, endpoint)[0]["InvokedProductionVariant"] for _ in range(300))

    # weights 3:1 -> 75 % / 25 % (seeded routing: the count is stable; the bounds are ~4.5 sigma)
    assert 190 <= served["Production"] <= 260
    assert served["Production"] + served["Candidate"] == 300
    flush_metrics()
    assert _metric(aws, endpoint, "Candidate", "Invocations", "Sum") == served["Candidate"]


def test_new_weights_take_effect_only_when_the_update_completes(aws, bucket, code):
    # Given all traffic on Production
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 1.0), "Candidate": (100, 0.0)})

    # When the weights are shifted to the candidate
    aws("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[
            {"VariantName": "Production", "DesiredWeight": 0.0},
            {"VariantName": "Candidate", "DesiredWeight": 1.0},
        ],
    )

    # Then while Updating the desired weights show but traffic still follows the current ones
    described = aws("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "Updating"
    weights = {v["VariantName"]: (v["CurrentWeight"], v["DesiredWeight"]) for v in described["ProductionVariants"]}
    assert weights == {"Production": (1.0, 0.0), "Candidate": (0.0, 1.0)}
    assert {_invoke(aws, endpoint)[0]["InvokedProductionVariant"] for _ in range(3)} == {"Production"}
    # And once InService the candidate has it all, instance counts untouched
    described = _in_service(aws, endpoint)
    assert {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]} == {
        "Production": 0.0,
        "Candidate": 1.0,
    }
    assert {v["CurrentInstanceCount"] for v in described["ProductionVariants"]} == {1}
    assert {_invoke(aws, endpoint)[0]["InvokedProductionVariant"] for _ in range(10)} == {"Candidate"}


def test_update_endpoint_reports_the_pending_config_until_it_serves(aws, bucket, code):
    endpoint = _endpoint(aws, bucket, code, {"AllTraffic": (2, 1.0)})
    old_config = aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    new_config = _config(aws, {"AllTraffic": (_model(aws, bucket, code, 10), 1.0)})

    aws("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config)

    described = aws("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("Updating", old_config)
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == new_config
    described = _in_service(aws, endpoint)
    assert described["EndpointConfigName"] == new_config
    assert "PendingDeploymentSummary" not in described
    assert json.loads(_invoke(aws, endpoint, "1")[1]) == {"predictions": [10.0]}


def test_update_endpoint_can_retain_the_current_weights(aws, bucket, code):
    # Given weights shifted away from the config's initial ones
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 1.0), "Candidate": (100, 1.0)})
    aws("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=endpoint,
        DesiredWeightsAndCapacities=[{"VariantName": "Production", "DesiredWeight": 0.25}],
    )
    _in_service(aws, endpoint)
    new_config = _config(
        aws, {"Production": (_model(aws, bucket, code, 2), 1.0), "Candidate": (_model(aws, bucket, code, 200), 1.0)}
    )

    # When the endpoint moves to a new config retaining variant properties
    aws("sagemaker").update_endpoint(
        EndpointName=endpoint, EndpointConfigName=new_config, RetainAllVariantProperties=True
    )

    # Then the new models serve with the weights the endpoint had
    described = wait_for(
        lambda: (
            (d := aws("sagemaker").describe_endpoint(EndpointName=endpoint))["EndpointConfigName"] == new_config
            and d["EndpointStatus"] == "InService"
            and d
        )
    )
    assert {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]} == {
        "Production": 0.25,
        "Candidate": 1.0,
    }
