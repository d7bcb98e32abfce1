"""Every request this session's features send is one AWS accepts, checked against botocore's own model with what
botocore leaves to the service: maximum lengths and values, enums and patterns (driftline_local.api_shapes).

botocore's ParamValidator alone passes a tag value with a parenthesis or a 300-character name; SageMaker answers
both with a ValidationException, and moto with nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from driftline.batch import job_name, transform_request
from driftline.config import ModelConfig
from driftline.deployment import _canary_config, _guardrails, _shadow_config
from driftline.sagemaker_requests import RunContext, quality_request
from driftline.tuning import tuning_request
from driftline.uploads import UploadedObject
from driftline_local.api_shapes import problems

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
TUNING = {
    "max_jobs": 4,
    "max_parallel_jobs": 2,
    "ranges": {"eta": {"min": 0.05, "max": 0.5, "scaling": "Logarithmic"}, "max_depth": {"min": 2, "max": 6}},
}


def _context(**extra: object) -> RunContext:
    config = ModelConfig.model_validate(
        {"name": "bank-marketing", "problem_type": "binary_classification", "target": "y", **extra}
    )
    return RunContext(
        config, "bank-marketing-upload-20261128T060000", "data-bucket", "artifact-bucket",
        "arn:aws:iam::123456789012:role/sm", XGBOOST, SKLEARN, KEY,
        subnet_ids=("subnet-1",), security_group_ids=("sg-1",),
    )  # fmt: skip


PRODUCTION = {"variant": "upload-20261101T000000", "model_name": "bank-marketing-upload-20261101T000000-model"}
CANDIDATE = ("upload-20261128T060000", "bank-marketing-upload-20261128T060000-model")


def _upload(key: str) -> UploadedObject:
    return UploadedObject(
        bucket="data-bucket",
        key=key,
        size=100,
        version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
        etag="e",
        sequencer="0062",
        event_id="id",
        event_time=datetime(2026, 12, 1, tzinfo=UTC),
    )


def _transform(key: str) -> dict:
    config = ModelConfig.model_validate(
        {"name": "bank-marketing", "problem_type": "binary_classification", "target": "y"}
    )
    job = job_name(config.name, _upload(key))
    return transform_request(
        config,
        job,
        model_name="bank-marketing-upload-20261101T000000-model",
        input_uri=f"s3://artifact-bucket/bank-marketing/batch/{job}/input/",
        output_uri="s3://data-bucket/predictions/bank-marketing/",
        kms_key_arn=KEY,
        source_key=key,
    )


@pytest.mark.parametrize(
    "key",
    [
        "batch/bank-marketing/customers.csv",
        "batch/bank-marketing/december (final), v2.csv",  # S3 keys may hold what tag values may not
        "batch/bank-marketing/kunden-übersicht #3 & more!.csv",
        "batch/bank-marketing/" + "x" * 400 + ".csv",
    ],
)
def test_the_transform_request_is_one_sagemaker_accepts_whatever_the_file_is_called(key):
    assert problems("sagemaker", "CreateTransformJob", _transform(key)) == []


def test_the_transform_request_still_names_its_file_in_a_tag():
    tags = {t["Key"]: t["Value"] for t in _transform("batch/bank-marketing/customers.csv")["Tags"]}

    assert tags["driftline:batch"] == "batch/bank-marketing/customers.csv"


def test_the_shadow_endpoint_config_is_one_sagemaker_accepts():
    config = _shadow_config(_context(), PRODUCTION, *CANDIDATE)

    assert problems("sagemaker", "CreateEndpointConfig", config) == []


def test_the_canary_endpoint_config_is_one_sagemaker_accepts():
    config = _canary_config(_context(), PRODUCTION, *CANDIDATE)

    assert problems("sagemaker", "CreateEndpointConfig", config) == []


def test_the_guardrails_update_is_one_sagemaker_accepts():
    ctx = _context()
    request = {
        "EndpointName": "bank-marketing",
        "EndpointConfigName": "bank-marketing-upload-20261128T060000-config",
        "DeploymentConfig": _guardrails(ctx, ["driftline-bank-marketing-candidate-5xx"]),
    }

    assert problems("sagemaker", "UpdateEndpoint", request) == []


@pytest.mark.parametrize("strategy", ["Bayesian", "Random", "Hyperband"])
def test_the_warm_started_tuning_request_is_one_sagemaker_accepts(strategy):
    ctx = _context(training={"tuning": {**TUNING, "strategy": strategy}})

    request = tuning_request(ctx, parent_tuning_job="bank-marketing-up-0123456789-hpo")

    assert problems("sagemaker", "CreateHyperParameterTuningJob", request) == []


def test_the_checker_refuses_what_botocore_alone_lets_through():
    request = {
        "TransformJobName": "a" * 64,
        "ModelName": "m",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/p"}}},
        "TransformOutput": {"S3OutputPath": "s3://b/o", "AssembleWith": "Lines"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "MaxPayloadInMB": 101,
        "Tags": [{"Key": "k", "Value": "a (b)"}],
    }

    found = problems("sagemaker", "CreateTransformJob", request)

    assert len(found) == 4, found  # name too long, unknown AssembleWith, payload above 100, the tag's "("


def test_the_quality_job_over_a_long_window_of_two_variants_is_one_sagemaker_accepts():
    ctx = _context()
    capture = "s3://artifact-bucket/bank-marketing/datacapture/bank-marketing"
    hours = [
        f"{capture}/{variant}/2026/12/01/{hour:02d}/"
        for variant in ("upload-20261101T000000", "upload-20261128T060000")
        for hour in range(24)
    ]

    request = quality_request(
        ctx,
        "bank-marketing-20261201T060000-quality",
        "s3://artifact-bucket/bank-marketing/monitoring/bank-marketing-20261201T060000-quality/",
        hours,
        "s3://data-bucket/labels/bank-marketing/",
        ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"),
    )

    assert problems("sagemaker", "CreateProcessingJob", request) == []


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def put_metric_data(self, **request: object) -> None:
        self.calls.append(request)


def test_the_quality_metrics_of_an_ab_test_are_one_put_metric_data_cloudwatch_accepts(monkeypatch):
    from driftline import aws, quality

    cloudwatch = _Recorder()
    monkeypatch.setattr(aws, "client", lambda name: cloudwatch)
    summary = {
        "labelled": 1200,
        "missing_labels": 40,
        "missing_label_share": 0.032,
        "quality_judged": True,
        "metrics": {"auc": 0.91, "accuracy": 0.88, "f1": 0.61},
        "variants": {
            "upload-20261101T000000": {"labelled": 600, "judged": True, "metrics": {"auc": 0.9}},
            "upload-20261128T060000": {"labelled": 600, "judged": True, "metrics": {"auc": 0.92}},
        },
    }

    quality.put_quality_metrics("bank-marketing", summary, [{"description": "auc below the threshold"}])

    assert cloudwatch.calls
    for request in cloudwatch.calls:
        assert problems("cloudwatch", "PutMetricData", request) == []


def test_a_pattern_the_checker_cannot_read_leaves_the_member_unchecked_rather_than_failing():
    # AthenaDatasetDefinition.Catalog's Java pattern pairs UTF-16 surrogates, which the regex module cannot compile
    athena = {"Catalog": "c", "Database": "d", "QueryString": "q", "WorkGroup": "w", "OutputS3Uri": "s3://b/p"}
    request = {
        "ProcessingJobName": "j",
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "AppSpecification": {"ImageUri": "i"},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        "ProcessingInputs": [
            {
                "InputName": "athena",
                "DatasetDefinition": {
                    "AthenaDatasetDefinition": athena,
                    "LocalPath": "/opt/ml/processing/input/a",
                },
            }
        ],
    }

    assert [f for f in problems("sagemaker", "CreateProcessingJob", request) if "catalog" in f.lower()] == []
