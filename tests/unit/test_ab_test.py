"""A/B decisions: the test statistics against known values (scipy 1.17's, computed once and written here) and the
promote / keep / extend decision."""

from __future__ import annotations

import pytest
from driftline.ab_test import (
    VariantSample,
    decide,
    student_t_two_sided_p,
    two_proportion_z_test,
    welch_t_test,
)

# scipy.stats.ttest_ind(B, A, equal_var=False): t 4.733140988023981, df 7.439218567727664, p 0.001801064960934334
A = [12.1, 11.8, 12.5, 13.0, 12.2, 11.9]
B = [13.5, 14.1, 12.9, 13.8, 14.4]


def test_two_proportion_z_test_matches_the_textbook_value():
    # 1 % vs 3 % of 1000 requests: pooled 2 %, z = 0.02 / sqrt(0.02 * 0.98 * 2 / 1000)
    result = two_proportion_z_test(10, 1000, 30, 1000)

    assert result.statistic == pytest.approx(3.1943828249996993, rel=1e-12)
    assert result.p_value == pytest.approx(0.0014013015809602137, rel=1e-9)
    assert result.candidate_worse


def test_no_errors_anywhere_is_no_evidence_of_a_difference():
    assert two_proportion_z_test(0, 500, 0, 400).p_value == 1.0


def test_welch_t_test_matches_scipy():
    result = welch_t_test(A, B)

    assert result.statistic == pytest.approx(4.733140988023981, rel=1e-12)
    assert result.df == pytest.approx(7.439218567727664, rel=1e-12)
    assert result.p_value == pytest.approx(0.001801064960934334, rel=1e-9)


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        (0.5, 3, 0.651447964848151),
        (2.0, 10.5, 0.0720338001569683),
        (-3.2, 1.5, 0.1223811938628811),
        (10, 200, 2.3774831444207646e-19),
    ],
)
def test_student_t_tail_matches_scipy(t, df, p):
    assert student_t_two_sided_p(t, df) == pytest.approx(p, rel=1e-9)


def sample(requests: int, errors: int, latencies: list[float]) -> VariantSample:
    return VariantSample(requests=requests, errors=errors, latencies_ms=latencies)


def test_candidate_failing_more_often_keeps_production():
    result = decide(sample(1000, 10, A), sample(1000, 30, A), ["error_rate", "latency"], 0.05, 100, extended=False)

    assert result["decision"] == "keep" and "error_rate" in result["reason"]
    assert result["tests"]["error_rate"]["p_value"] == pytest.approx(0.0014013, rel=1e-4)


def test_candidate_slower_keeps_production():
    result = decide(sample(1000, 0, A), sample(1000, 0, B), ["latency"], 0.05, 100, extended=False)

    assert result["decision"] == "keep" and "latency" in result["reason"]


def test_candidate_not_worse_is_promoted():
    result = decide(sample(1000, 10, B), sample(1000, 9, A), ["error_rate", "latency"], 0.05, 100, extended=False)

    assert result["decision"] == "promote"


def test_too_little_traffic_extends_once_then_keeps_production():
    first = decide(sample(1000, 0, A), sample(40, 0, A), ["error_rate"], 0.05, 100, extended=False)
    second = decide(sample(1000, 0, A), sample(90, 0, A), ["error_rate"], 0.05, 100, extended=True)

    assert first["decision"] == "extend" and "candidate has fewer than 100 requests" in first["reason"]
    assert second["decision"] == "keep" and "after the extension" in second["reason"]
