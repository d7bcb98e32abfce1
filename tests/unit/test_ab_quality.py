"""A/B decisions on model quality: the variants' labelled outcomes from the quality job, tested two-sided
(accuracy: two-proportion z-test; regression: Welch's t on absolute errors from n, mean and variance)."""

from __future__ import annotations

import statistics

import pytest
from driftline.ab_test import QualityEvidence, VariantSample, decide, quality_test, welch_t_test_from_stats
from driftline.config import parse_model_config
from driftline.errors import InvalidModelConfig

from .test_ab_test import A, B

TRAFFIC = VariantSample(requests=5000, errors=0, latencies_ms=[10.0, 11.0, 10.5])


def classification(correct_a: int, n_a: int, correct_b: int, n_b: int, min_labels: int = 100) -> QualityEvidence:
    return QualityEvidence(
        "binary_classification",
        min_labels,
        production={"labelled": n_a, "correct": correct_a},
        candidate={"labelled": n_b, "correct": correct_b},
    )


def test_accuracy_z_test_matches_scipy():
    # 90 % vs 85 % of 1000 labelled predictions; scipy 1.17: 2 * norm.sf(3.3806170189140694) = 0.000723232716430184
    measure, result = quality_test(classification(900, 1000, 850, 1000))

    assert measure == "accuracy"
    assert result.statistic == pytest.approx(-3.3806170189140694, rel=1e-12)
    assert result.p_value == pytest.approx(0.000723232716430184, rel=1e-9)
    assert (result.a, result.b) == (0.9, 0.85)
    assert result.candidate_worse  # lower accuracy is worse


def test_higher_candidate_accuracy_is_not_worse():
    assert not quality_test(classification(850, 1000, 900, 1000))[1].candidate_worse


def test_welch_from_sufficient_statistics_matches_scipy():
    # scipy.stats.ttest_ind_from_stats(mean(B), stdev(B), 5, mean(A), stdev(A), 6, equal_var=False)
    result = welch_t_test_from_stats(
        len(A), statistics.mean(A), statistics.variance(A), len(B), statistics.mean(B), statistics.variance(B)
    )

    assert result.statistic == pytest.approx(4.733140988023981, rel=1e-12)
    assert result.p_value == pytest.approx(0.001801064960934334, rel=1e-9)


def test_regression_compares_mean_absolute_errors():
    evidence = QualityEvidence(
        "regression",
        5,
        production={"labelled": 6, "absolute_error": {"n": 6, "mean": statistics.mean(A), "variance": 0.2}},
        candidate={"labelled": 5, "absolute_error": {"n": 5, "mean": statistics.mean(B), "variance": 0.3}},
    )

    measure, result = quality_test(evidence)

    assert measure == "mean absolute error" and result.candidate_worse and result.p_value < 0.01


def test_candidate_significantly_less_accurate_keeps_production_with_its_p_value():
    result = decide(
        TRAFFIC, TRAFFIC, ["error_rate", "quality"], 0.05, 1000, False, classification(900, 1000, 850, 1000)
    )

    assert result["decision"] == "keep" and "quality" in result["reason"]
    test = result["tests"]["quality"]
    assert test["measure"] == "accuracy" and test["p_value"] == pytest.approx(0.000723232716430184, rel=1e-9)
    assert (test["production_labelled"], test["candidate_labelled"]) == (1000, 1000)


def test_candidate_as_accurate_is_promoted():
    result = decide(TRAFFIC, TRAFFIC, ["quality"], 0.05, 1000, False, classification(880, 1000, 885, 1000))

    assert result["decision"] == "promote"
    assert result["tests"]["quality"]["p_value"] > 0.05


def test_too_few_labels_is_not_tested_then_extends_once_then_keeps_production():
    short = classification(90, 100, 30, 40)

    first = decide(TRAFFIC, TRAFFIC, ["quality"], 0.05, 1000, False, short)
    second = decide(TRAFFIC, TRAFFIC, ["quality"], 0.05, 1000, True, short)

    assert first["decision"] == "extend"
    why = first["tests"]["quality"]["why"]
    assert first["tests"]["quality"]["tested"] is False and "candidate has 40 labelled predictions" in why
    assert second["decision"] == "keep" and "quality not testable" in second["reason"]


def test_missing_evidence_is_never_guessed():
    result = decide(TRAFFIC, TRAFFIC, ["quality"], 0.05, 1000, True, QualityEvidence("", 0, why="the job failed"))

    assert result["decision"] == "keep" and result["tests"]["quality"] == {"tested": False, "why": "the job failed"}


# --- upload-time rules ------------------------------------------------------------------------------

BINARY = "name: churn\nproblem_type: binary_classification\ntarget: churned\n"
AB_QUALITY = BINARY + "deployment:\n  strategy: ab\n  ab_metrics: [error_rate, quality]\n"


def test_ab_on_quality_with_quality_monitoring_is_accepted():
    config = parse_model_config(AB_QUALITY)

    assert config.deployment.ab_metrics == ["error_rate", "quality"]
    assert config.deployment.ab_quality_wait_seconds == 3600


def test_ab_on_quality_without_quality_monitoring_is_refused():
    with pytest.raises(InvalidModelConfig, match="'quality' compares the variants on labelled predictions"):
        parse_model_config(AB_QUALITY + "monitoring:\n  quality:\n    enabled: false\n")


def test_waiting_for_labels_counts_against_the_execution_history():
    with pytest.raises(InvalidModelConfig, match="deployment.ab_seconds: with an alarm check every 30 s"):
        parse_model_config(AB_QUALITY + "  ab_seconds: 60\n  ab_quality_wait_seconds: 40000\n")
