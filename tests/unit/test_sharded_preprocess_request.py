"""processing.instance_count > 1 plans preprocessing as two sharded jobs (preprocess.py --stage statistics, encode)."""

from __future__ import annotations

from typing import Any

from driftline.config import ModelConfig
from driftline.sagemaker_requests import RunContext, preprocess_request, statistics_request

TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
PROCESSING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
RUN = "churn-20260101t000000"


def _context(**processing: object) -> RunContext:
    config = ModelConfig.model_validate(
        {"name": "churn", "problem_type": "binary_classification", "target": "y", "processing": processing}
    )
    return RunContext(
        config, RUN, "data", "artifacts", "arn:aws:iam::123456789012:role/sm", TRAINING_IMAGE, PROCESSING_IMAGE
    )


def _inputs(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}


def _outputs(request: dict[str, Any]) -> dict[str, str]:
    return {o["OutputName"]: o["S3Output"]["S3Uri"] for o in request["ProcessingOutputConfig"]["Outputs"]}


def test_one_instance_is_one_unsharded_job():
    ctx = _context()

    request = preprocess_request(ctx)

    assert statistics_request(ctx) is None
    assert request["ProcessingJobName"] == f"{RUN}-preprocess"
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert {i["S3DataDistributionType"] for i in _inputs(request).values()} == {"FullyReplicated"}
    assert "--stage" not in request["AppSpecification"]["ContainerArguments"]
    assert set(_outputs(request)) == {"train", "validation", "test", "preprocessor", "baseline"}


def test_two_instances_compute_sharded_statistics_then_encode_with_all_of_them():
    ctx = _context(instance_count=2)

    statistics = statistics_request(ctx)
    encode = preprocess_request(ctx)

    # the statistics job: each of 2 instances reads its share of the uploads and writes statistics/
    assert statistics is not None
    assert statistics["ProcessingJobName"] == f"{RUN}-statistics"
    assert statistics["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert _inputs(statistics)["data"]["S3DataDistributionType"] == "ShardedByS3Key"
    arguments = statistics["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--stage") + 1] == "statistics"
    assert _outputs(statistics) == {"statistics": f"s3://artifacts/churn/runs/{RUN}/statistics/"}
    # each instance learns which host it is (it names its statistics and shards after it) from SageMaker's file
    assert arguments[arguments.index("--resource-config") + 1] == "/opt/ml/config/resourceconfig.json"
    # the encode job: the same shares of the data, every instance's statistics on every instance
    assert encode["ProcessingJobName"] == f"{RUN}-preprocess"
    assert encode["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    inputs = _inputs(encode)
    assert inputs["data"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert inputs["statistics"]["S3DataDistributionType"] == "FullyReplicated"
    assert inputs["statistics"]["S3Uri"] == _outputs(statistics)["statistics"]
    arguments = encode["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--stage") + 1] == "encode"
    assert arguments[arguments.index("--statistics-dir") + 1] == inputs["statistics"]["LocalPath"]
    assert arguments[arguments.index("--resource-config") + 1] == "/opt/ml/config/resourceconfig.json"
    assert set(_outputs(encode)) == {"train", "validation", "test", "preprocessor", "baseline"}


def test_a_drift_retrain_manifest_is_sharded_too():
    ctx = _context(instance_count=3)
    manifest = f"s3://artifacts/churn/runs/{RUN}/manifest/data.manifest"

    for request in (statistics_request(ctx, manifest), preprocess_request(ctx, manifest)):
        assert request is not None
        assert _inputs(request)["data"] == _inputs(request)["data"] | {
            "S3Uri": manifest,
            "S3DataType": "ManifestFile",
            "S3DataDistributionType": "ShardedByS3Key",
        }
