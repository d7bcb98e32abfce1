"""The preprocessing request writes one train file per training instance (preprocess.py --train-files)."""

from __future__ import annotations

from driftline.config import ModelConfig
from driftline.sagemaker_requests import RunContext, preprocess_request

TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
PROCESSING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"


def _arguments(**training: object) -> list[str]:
    config = ModelConfig.model_validate(
        {"name": "churn", "problem_type": "binary_classification", "target": "y", "training": training}
    )
    ctx = RunContext(
        config, "churn-20260101t000000", "data", "artifacts", "arn:aws:iam::123456789012:role/sm",
        TRAINING_IMAGE, PROCESSING_IMAGE,
    )  # fmt: skip
    return preprocess_request(ctx)["AppSpecification"]["ContainerArguments"]


def test_several_training_instances_get_as_many_train_files():
    arguments = _arguments(instance_count=3)

    assert arguments[arguments.index("--train-files") + 1] == "3"


def test_one_training_instance_keeps_the_single_train_file():
    assert "--train-files" not in _arguments()
