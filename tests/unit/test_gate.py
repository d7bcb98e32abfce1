import pytest
from driftline.config import Gate
from driftline.errors import EvaluationMissing
from driftline.gate import judge


def _evaluation(candidate, baseline=None, production=None, metric="auc"):
    return {
        "metrics": {metric: candidate},
        "baseline_metrics": {metric: baseline} if baseline is not None else None,
        "production_metrics": {metric: production} if production is not None else None,
    }


def test_first_model_must_clearly_beat_the_trivial_baseline():
    gate = Gate(min_improvement_over_baseline=0.05)

    assert judge(_evaluation(0.80, baseline=0.5), "auc", gate).passed
    verdict = judge(_evaluation(0.53, baseline=0.5), "auc", gate)
    assert not verdict.passed
    assert "misses the baseline bar" in verdict.summary


def test_later_model_must_be_no_worse_than_production():
    gate = Gate()

    assert judge(_evaluation(0.81, baseline=0.5, production=0.80), "auc", gate).passed
    verdict = judge(_evaluation(0.79, baseline=0.5, production=0.80), "auc", gate)
    assert not verdict.passed
    assert "worse than production 0.8000" in verdict.summary


def test_error_metrics_gate_in_the_other_direction():
    gate = Gate(min_improvement_over_baseline=0.1, max_regression_vs_production=0.02)

    assert judge(_evaluation(5.0, baseline=10.0, production=5.05, metric="rmse"), "rmse", gate).passed
    assert not judge(_evaluation(9.5, baseline=10.0, metric="rmse"), "rmse", gate).passed
    assert not judge(_evaluation(5.2, baseline=10.0, production=5.0, metric="rmse"), "rmse", gate).passed


def test_absolute_floor_applies_when_configured():
    gate = Gate(min_value=0.9)

    assert not judge(_evaluation(0.85, baseline=0.5), "auc", gate).passed


def test_missing_candidate_metric_is_an_error_not_a_pass():
    with pytest.raises(EvaluationMissing, match="no 'f1'"):
        judge(_evaluation(0.8), "f1", Gate())
