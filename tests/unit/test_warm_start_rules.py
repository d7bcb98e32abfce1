"""SageMaker's warm start restrictions, as Driftline checks them before asking for a warm start (a refused
CreateHyperParameterTuningJob would fail the run; a cold start is always accepted)."""

import pytest
from driftline.tuning import warm_start_problem

PARENT = {
    "static": {"num_round": "100", "max_depth": "6", "objective": "binary:logistic"},
    "tuned": {
        "eta": {"type": "continuous", "values": []},
        "tree_method": {"type": "categorical", "values": ["a", "b"]},
    },
}


def test_the_same_hyperparameters_with_other_ranges_warm_start():
    assert warm_start_problem(PARENT, PARENT) is None


def test_one_more_hyperparameter_is_refused():
    child = {"static": {**PARENT["static"], "gamma": "1"}, "tuned": PARENT["tuned"]}

    assert "6 static plus tuned hyperparameters instead of the parent's 5" in warm_start_problem(PARENT, child)


def test_a_tuned_hyperparameter_of_another_type_is_refused():
    child = {"static": PARENT["static"], "tuned": {**PARENT["tuned"], "eta": {"type": "integer", "values": []}}}

    assert "eta is tuned as integer instead of the parent's continuous" in warm_start_problem(PARENT, child)


def test_more_than_ten_changes_are_refused():
    parent = {"static": {f"p{i}": "1" for i in range(6)}, "tuned": PARENT["tuned"]}
    child = {"static": {f"p{i}": "2" for i in range(6)}, "tuned": PARENT["tuned"]}

    assert "12 hyperparameter changes" in warm_start_problem(parent, child)


def test_a_parent_recorded_without_its_hyperparameters_is_not_used():
    assert warm_start_problem(None, PARENT) is not None


def test_a_categorical_value_too_long_once_json_quoted_is_refused_at_upload():
    # CategoricalParameterRange values are at most 256 characters, and the request sends "<value>" in quotes
    from driftline.tuning_config import Range
    from pydantic import ValidationError

    Range(values=["x" * 254])
    with pytest.raises(ValidationError, match="254 for a text value"):
        Range(values=["x" * 255])
