"""SageMaker requests: jobs run without network, on their image, with Driftline's KMS key where AWS takes one."""

from __future__ import annotations

import json

import pytest
from driftline.config import ModelConfig
from driftline.sagemaker_requests import (
    RunContext,
    endpoint_config_request,
    evaluation_request,
    monitor_request,
    preprocess_request,
    production_variant,
    training_request,
)

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
PROCESSING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def context(kms_key_arn: str = KEY, **sections: dict) -> RunContext:
    config = ModelConfig.model_validate(
        {"name": "churn", "problem_type": "binary_classification", "target": "y", **sections}
    )
    return RunContext(
        config, "churn-20260101t000000", "data", "artifacts", "arn:aws:iam::123456789012:role/sm",
        TRAINING_IMAGE, PROCESSING_IMAGE, kms_key_arn,
    )  # fmt: skip


def processing_requests(ctx: RunContext) -> list[dict]:
    model = "s3://artifacts/churn/runs/r/model/model.tar.gz"
    return [
        preprocess_request(ctx),
        evaluation_request(ctx, model, model),
        monitor_request(ctx, "churn-monitor", "s3://artifacts/churn/monitoring/j/", [], ("a", "b")),
    ]


def endpoint_config(ctx: RunContext) -> dict:
    return endpoint_config_request(ctx, "config", [production_variant(ctx, "candidate", "churn-model", 1.0)])


def test_training_runs_without_network_and_gets_its_code_as_a_channel():
    request = training_request(context())

    assert request["EnableNetworkIsolation"] is True
    # the toolkit cannot download an s3:// sourcedir without network: the SDK's isolated layout instead
    assert json.loads(request["HyperParameters"]["sagemaker_submit_directory"]) == (
        "/opt/ml/input/data/code/sourcedir.tar.gz"
    )
    code = next(c for c in request["InputDataConfig"] if c["ChannelName"] == "code")
    assert code["DataSource"]["S3DataSource"]["S3Uri"] == "s3://artifacts/code/jobs/sourcedir.tar.gz"


def test_processing_jobs_run_without_network():
    for request in processing_requests(context()):
        assert request["NetworkConfig"] == {"EnableNetworkIsolation": True}, request["ProcessingJobName"]


def test_the_key_encrypts_training_volumes_and_model_output():
    request = training_request(context())

    assert request["ResourceConfig"]["VolumeKmsKeyId"] == KEY
    assert request["OutputDataConfig"]["KmsKeyId"] == KEY


def test_the_key_encrypts_processing_volumes_and_outputs():
    for request in processing_requests(context()):
        assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY
        assert request["ProcessingOutputConfig"]["KmsKeyId"] == KEY


def test_the_key_encrypts_endpoint_storage_and_data_capture():
    request = endpoint_config(context())

    assert request["KmsKeyId"] == KEY
    assert request["DataCaptureConfig"]["KmsKeyId"] == KEY


def test_without_a_key_no_kms_field_is_sent():
    ctx = context(kms_key_arn="")
    text = json.dumps([training_request(ctx), endpoint_config(ctx), *processing_requests(ctx)])

    assert "KmsKeyId" not in text


@pytest.mark.parametrize("instance_type", ["ml.m5d.xlarge", "ml.g4dn.xlarge", "ml.g5.2xlarge", "ml.p4d.24xlarge"])
def test_instances_with_only_local_storage_get_no_volume_key(instance_type: str):
    # AWS refuses VolumeKmsKeyId / an endpoint KmsKeyId for instance types with NVMe instance storage
    ctx = context(
        training={"instance_type": instance_type},
        processing={"instance_type": instance_type},
        deployment={"instance_type": instance_type},
    )

    assert "VolumeKmsKeyId" not in training_request(ctx)["ResourceConfig"]
    assert "VolumeKmsKeyId" not in preprocess_request(ctx)["ProcessingResources"]["ClusterConfig"]
    assert "KmsKeyId" not in endpoint_config(ctx)
    assert training_request(ctx)["OutputDataConfig"]["KmsKeyId"] == KEY  # S3 outputs are still encrypted
    assert endpoint_config(ctx)["DataCaptureConfig"]["KmsKeyId"] == KEY


def test_jobs_run_in_the_stacks_subnets_when_it_names_them() -> None:
    base = context()
    in_vpc = RunContext(**{**base.__dict__, "subnet_ids": ("subnet-1", "subnet-2"), "security_group_ids": ("sg-1",)})
    vpc = {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}

    assert training_request(in_vpc)["VpcConfig"] == vpc
    assert all(request["NetworkConfig"]["VpcConfig"] == vpc for request in processing_requests(in_vpc))
    assert "VpcConfig" not in training_request(base)
    assert all("VpcConfig" not in request["NetworkConfig"] for request in processing_requests(base))
