import pytest
from driftline.config import ModelConfig, ProblemType, parse_model_config
from driftline.errors import InvalidModelConfig

MINIMAL = "name: churn\nproblem_type: binary_classification\ntarget: churned\n"


def test_minimal_config_gets_sensible_defaults():
    config = parse_model_config(MINIMAL)

    assert config.problem_type is ProblemType.BINARY
    assert config.features is None
    assert config.training.use_spot is True
    assert config.training.max_wait_seconds >= config.training.max_runtime_seconds
    assert config.gate_metric == "auc"
    assert config.timings.settle_seconds == 60


def test_regression_gates_on_rmse_with_squared_error_objective():
    config = parse_model_config("name: price\nproblem_type: regression\ntarget: price\n")

    assert config.gate_metric == "rmse"
    assert config.xgboost_hyperparameters()["objective"] == "reg:squarederror"


def test_config_hyperparameters_override_defaults():
    config = parse_model_config(MINIMAL + "training:\n  hyperparameters:\n    max_depth: 3\n    num_round: 7\n")

    params = config.xgboost_hyperparameters()
    assert params["max_depth"] == 3
    assert params["num_round"] == 7
    assert params["objective"] == "binary:logistic"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: churn\ntarget: churned\n", "problem_type"),
        ("name: churn\nproblem_type: clustering\ntarget: c\n", "problem_type"),
        ("name: Churn_Model\nproblem_type: regression\ntarget: c\n", "name"),
        (MINIMAL + "training:\n  max_wait_seconds: 100\n  max_runtime_seconds: 3600\n", "training"),
        (MINIMAL + "gate:\n  min_improvement_over_baseline: -1\n", "gate.min_improvement_over_baseline"),
        (MINIMAL + "colour: blue\n", "colour"),
        (MINIMAL + "drop_columns: [churned]\n", "target"),
    ],
)
def test_invalid_config_names_the_wrong_field(text, field):
    with pytest.raises(InvalidModelConfig) as raised:
        parse_model_config(text)

    assert field in str(raised.value)


def test_config_must_live_in_its_own_models_folder():
    with pytest.raises(InvalidModelConfig, match="models/other/"):
        parse_model_config(MINIMAL, expected_name="other")


def test_yaml_that_is_not_a_mapping_is_rejected():
    with pytest.raises(InvalidModelConfig, match="mapping"):
        parse_model_config("- just\n- a list\n")


def test_config_round_trips_through_json():
    config = parse_model_config(MINIMAL)

    assert ModelConfig.model_validate_json(config.model_dump_json()) == config
