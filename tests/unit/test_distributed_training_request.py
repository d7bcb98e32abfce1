"""Distributed training requests: several instances shard the train split; the input mode is the config's."""

from __future__ import annotations

import pytest
from driftline.config import ModelConfig, parse_model_config
from driftline.errors import InvalidModelConfig
from driftline.sagemaker_requests import RunContext, training_request

TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
PROCESSING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def _request(**training: object) -> dict:
    config = ModelConfig.model_validate(
        {"name": "churn", "problem_type": "binary_classification", "target": "y", "training": training}
    )
    ctx = RunContext(
        config, "churn-20260101t000000", "data", "artifacts", "arn:aws:iam::123456789012:role/sm",
        TRAINING_IMAGE, PROCESSING_IMAGE,
    )  # fmt: skip
    return training_request(ctx)


def _channels(request: dict) -> dict[str, dict]:
    return {channel["ChannelName"]: channel for channel in request["InputDataConfig"]}


def test_two_instances_shard_the_train_split_and_replicate_the_rest():
    request = _request(instance_count=2)

    assert request["ResourceConfig"]["InstanceCount"] == 2
    distribution = {
        name: channel["DataSource"]["S3DataSource"]["S3DataDistributionType"]
        for name, channel in _channels(request).items()
    }
    assert distribution == {
        "train": "ShardedByS3Key",
        "validation": "FullyReplicated",
        "preprocessor": "FullyReplicated",
        "code": "FullyReplicated",
    }


def test_one_instance_replicates_every_channel():
    channels = _channels(_request())

    assert {c["DataSource"]["S3DataSource"]["S3DataDistributionType"] for c in channels.values()} == {"FullyReplicated"}


def test_fastfile_streams_the_data_channels_and_keeps_code_and_preprocessor_as_files():
    channels = _channels(_request(input_mode="FastFile"))

    modes = {name: channel["InputMode"] for name, channel in channels.items()}
    assert modes == {"train": "FastFile", "validation": "FastFile", "preprocessor": "File", "code": "File"}


def test_pipe_mode_is_refused_naming_the_field():
    with pytest.raises(InvalidModelConfig) as error:
        parse_model_config(
            "name: churn\nproblem_type: binary_classification\ntarget: y\ntraining:\n  input_mode: Pipe\n"
        )

    assert "input_mode" in str(error.value)


def test_distributed_training_refuses_the_exact_tree_method_naming_the_field():
    with pytest.raises(InvalidModelConfig) as error:
        parse_model_config(
            "name: churn\nproblem_type: binary_classification\ntarget: y\n"
            "training:\n  instance_count: 2\n  hyperparameters:\n    tree_method: exact\n"
        )

    assert "tree_method" in str(error.value)
