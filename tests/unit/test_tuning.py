"""training.tuning: validated at upload with the API's limits; the tuning request mirrors the training request."""

from __future__ import annotations

import json

import pytest
from botocore.session import Session
from botocore.validate import ParamValidator
from driftline.config import ModelConfig, parse_model_config
from driftline.errors import InvalidModelConfig
from driftline.sagemaker_requests import RunContext, training_request
from driftline.tuning import TUNING_NAME_LIMIT, tuning_job_name, tuning_request

TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
PROCESSING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"

BASE = """name: churn
problem_type: binary_classification
target: y
training:
  tuning:
    max_jobs: 4
    max_parallel_jobs: 2
    ranges:
      eta: {min: 0.05, max: 0.5, scaling: Logarithmic}
      max_depth: {min: 2, max: 6}
      tree_method: {values: [hist, approx]}
"""


def refused(text: str) -> str:
    with pytest.raises(InvalidModelConfig) as caught:
        parse_model_config(text)
    return str(caught.value)


def context(**training: object) -> RunContext:
    tuning = {"max_jobs": 4, "max_parallel_jobs": 2, "ranges": {"eta": {"min": 0.05, "max": 0.5}}}
    config = ModelConfig.model_validate(
        {
            "name": "churn",
            "problem_type": "binary_classification",
            "target": "y",
            "training": {"tuning": tuning | training},
        }
    )
    return RunContext(
        config, "churn-upload-20261201T050000", "data", "artifacts", "arn:aws:iam::123456789012:role/sm",
        TRAINING_IMAGE, PROCESSING_IMAGE,
    )  # fmt: skip


def test_a_tuning_config_within_the_limits_is_accepted_with_inferred_range_types():
    tuning = parse_model_config(BASE).training.tuning

    assert tuning is not None
    assert {name: spec.kind for name, spec in tuning.ranges.items()} == {
        "eta": "continuous",
        "max_depth": "integer",
        "tree_method": "categorical",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("max_parallel_jobs: 2", "max_parallel_jobs: 5"), "max_parallel_jobs (5) cannot exceed max_jobs (4)"),
        (("max_jobs: 4", "max_jobs: 0"), "max_jobs: Input should be greater than or equal to 1"),
        (("max_jobs: 4", "max_jobs: 4\n    strategy: Grid"), "strategy: Input should be 'Bayesian', 'Random'"),
        (
            ("max_jobs: 4", "max_jobs: 4\n    strategy: Hyperband\n    early_stopping: true"),
            "early_stopping cannot be used with strategy Hyperband",
        ),
        (("max_jobs: 4", "max_jobs: 4\n    hyperband: {max_resource: 50}"), "hyperband: applies only"),
        (
            ("{min: 0.05, max: 0.5, scaling: Logarithmic}", "{min: 0.05, max: 1.0, scaling: ReverseLogarithmic}"),
            "needs 0 <= min < max < 1",
        ),
        (("{min: 0.05, max: 0.5, scaling: Logarithmic}", "{min: 0, max: 0.5, scaling: Logarithmic}"), "min > 0"),
        (("{min: 2, max: 6}", "{min: 6, max: 2}"), "min must be less than max"),
        (("{values: [hist, approx]}", "{values: [hist, hist]}"), "values must be distinct"),
        (("{values: [hist, approx]}", "{values: [hist, fast]}"), "'fast' is not one of"),
        (("{min: 2, max: 6}", "{min: 2.5, max: 6}"), "max_depth is a whole number"),
        (("tree_method:", "colsample:"), "not an XGBoost parameter Driftline passes on"),
        (("max_jobs: 4", "max_jobs: 4\n    objective: validation:logloss"), "'validation:logloss' is not reported"),
        (("training:\n", "training:\n  hyperparameters: {eta: 0.1}\n"), "ranges.eta: also set in training.hyperp"),
        (("tree_method:", "seed:"), "ranges.seed: set by Driftline or SageMaker"),
    ],
)
def test_an_invalid_tuning_config_is_refused_naming_the_field(change, message):
    old, new = change
    assert BASE.count(old) == 1

    assert message in refused(BASE.replace(old, new))


def test_more_than_thirty_categorical_values_are_refused():
    values = ", ".join(f"v{i}" for i in range(31))

    assert "at most 30 values" in refused(BASE.replace("[hist, approx]", f"[{values}]"))


def test_hyperband_max_resource_beyond_num_round_is_refused():
    text = BASE.replace("max_jobs: 4", "max_jobs: 4\n    strategy: Hyperband\n    hyperband: {max_resource: 500}")

    assert "500 rounds is more than num_round (100)" in refused(text)


def test_the_tuning_request_is_valid_for_the_sagemaker_api():
    request = tuning_request(context(strategy="Hyperband"), parent_tuning_job="churn-upload-2026113-hpo")

    model = Session().get_service_model("sagemaker").operation_model("CreateHyperParameterTuningJob")
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_every_trial_is_the_plain_training_job_on_spot_with_checkpoints_and_its_metrics():
    ctx = context()
    plain = training_request(ctx)

    definition = tuning_request(ctx)["TrainingJobDefinition"]

    assert definition["EnableManagedSpotTraining"] is True
    assert definition["StoppingCondition"] == plain["StoppingCondition"]
    assert definition["CheckpointConfig"]["S3Uri"].endswith("/checkpoints/tuning/")
    assert definition["AlgorithmSpecification"]["TrainingImage"] == plain["AlgorithmSpecification"]["TrainingImage"]
    assert (
        definition["AlgorithmSpecification"]["MetricDefinitions"]
        == plain["AlgorithmSpecification"]["MetricDefinitions"]
    )  # noqa: E501
    assert definition["InputDataConfig"] == plain["InputDataConfig"]
    # the tuned parameter is not also static
    assert "eta" not in definition["StaticHyperParameters"]
    assert definition["StaticHyperParameters"]["max_depth"] == plain["HyperParameters"]["max_depth"]


def test_the_objective_is_the_validation_metric_training_reports():
    request = tuning_request(context())
    config = request["HyperParameterTuningJobConfig"]
    names = [d["Name"] for d in request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]]

    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert "validation:auc" in names
    assert config["TrainingJobEarlyStoppingType"] == "Off"


def test_the_objective_regex_reads_the_line_train_py_logs():
    import re

    definitions = tuning_request(context())["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    regex = next(d["Regex"] for d in definitions if d["Name"] == "validation:auc")

    assert float(re.search(regex, "round=40 validation-auc=0.912345 validation-aucpr=0.5").group(1)) == 0.912345


def test_categorical_values_are_json_encoded_like_static_hyperparameters():
    ranges = {"tree_method": {"values": ["hist", "approx"]}, "max_depth": {"min": 2, "max": 6}}

    request = tuning_request(context(ranges=ranges))

    parameter_ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert parameter_ranges["CategoricalParameterRanges"] == [
        {"Name": "tree_method", "Values": [json.dumps("hist"), json.dumps("approx")]}
    ]
    assert parameter_ranges["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "2", "MaxValue": "6", "ScalingType": "Auto"}
    ]


def test_warm_start_from_the_previous_tuning_job_is_transfer_learning():
    request = tuning_request(context(), parent_tuning_job="churn-upload-20261128-hpo")

    assert request["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "churn-upload-20261128-hpo"}],
        "WarmStartType": "TransferLearning",
    }
    assert "WarmStartConfig" not in tuning_request(context())


def test_tuning_job_names_fit_sagemakers_32_characters_and_differ_per_run():
    long_runs = [f"a-very-long-model-name-here-{t}-20261201T05000{i}" for t in ("upload", "drift") for i in (0, 1)]

    names = [tuning_job_name(run) for run in long_runs]

    assert all(len(n) <= TUNING_NAME_LIMIT for n in names)
    assert len(set(names)) == len(names)
    assert tuning_job_name("churn-upload-1") == "churn-upload-1-hpo"
