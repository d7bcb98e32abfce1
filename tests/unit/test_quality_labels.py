"""The labels file rules (driftline.labels.check_labels_csv) and the quality window, without AWS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from driftline.config import ModelConfig
from driftline.errors import InvalidDataset
from driftline.labels import check_labels_csv
from driftline.quality import quality_model, quality_window

BINARY = ModelConfig.model_validate({"name": "churn", "problem_type": "binary_classification", "target": "y"})
REGRESSION = ModelConfig.model_validate({"name": "price", "problem_type": "regression", "target": "price"})
CLASSES = frozenset({"no", "yes"})


def check(text: str, config: ModelConfig = BINARY, classes: frozenset[str] = CLASSES) -> int:
    return check_labels_csv(text.splitlines(keepends=True), config, classes)


def refused(text: str, config: ModelConfig = BINARY) -> InvalidDataset:
    with pytest.raises(InvalidDataset) as caught:
        check(text, config)
    return caught.value


def test_a_good_file_counts_its_labelled_rows():
    assert check("inference_id,y\nr-1,yes\nr-2,no\n\n") == 2


def test_the_header_must_name_the_id_and_the_target():
    assert refused("id,y\nr-1,yes\n").rule == "header"
    assert refused("inference_id,label\nr-1,yes\n").rule == "header"


@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        ("inference_id,y\nr-1,yes,extra\n", "field-count", 2),
        ("inference_id,y\n,yes\n", "inference-id", 2),
        ("inference_id,y\n" + "x" * 65 + ",yes\n", "inference-id", 2),
        ("inference_id,y\nr-1,yes\nr-1,no\n", "duplicate-id", 3),
        ("inference_id,y\nr-1,\n", "missing-label", 2),
        ("inference_id,y\nr-1,maybe\n", "unknown-class", 2),
        ("inference_id,y\n", "no-rows", None),
    ],
)
def test_each_problem_names_its_rule_and_line(text, rule, line):
    problem = refused(text)
    assert (problem.rule, problem.line) == (rule, line)
    assert "maybe" not in str(problem)  # cells are never quoted


def test_regression_labels_must_be_finite_numbers():
    assert check("inference_id,price\na,12.5\nb,-3\n", REGRESSION, frozenset()) == 2
    assert refused("inference_id,price\na,inf\n", REGRESSION).rule == "label-type"
    assert refused("inference_id,price\na,cheap\n", REGRESSION).rule == "label-type"


def test_the_window_ends_one_label_delay_before_the_schedule():
    config = ModelConfig.model_validate(
        {
            "name": "churn",
            "problem_type": "binary_classification",
            "target": "y",
            "monitoring": {"quality": {"label_delay_seconds": 7200, "window_seconds": 600}},
        }
    )
    start, end = quality_window(config, datetime(2026, 12, 1, 12, tzinfo=UTC), 3600)
    assert (start.isoformat(), end.isoformat()) == ("2026-12-01T09:50:00+00:00", "2026-12-01T10:00:00+00:00")
    # without its own window: the monitoring window, else the schedule's period
    start, end = quality_window(BINARY, datetime(2026, 12, 1, 12, tzinfo=UTC), 3600)
    assert (end - start).total_seconds() == 3600


def test_quality_jobs_are_recognised_by_name():
    assert quality_model("churn-20261201T120000-quality") == "churn"
    assert quality_model("churn-20261201T120000-monitor") is None
