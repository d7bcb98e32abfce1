"""A/B decisions (`deployment.strategy: ab`): two-sided tests on the two variants' live metrics, in pure Python.

Production (A) and the candidate (B) serve side by side at the configured weights for `ab_seconds` (or until each
has `ab_min_requests`). Then, per metric the config names:
- `error_rate`: Invocation5XXErrors / Invocations per variant, two-proportion z-test (pooled standard error);
- `latency`: ModelLatency per variant, Welch's t-test on the per-period averages CloudWatch returns (CloudWatch
  keeps no per-request values, so the samples are the periods' means; with few periods the test has little power
  and says so through its p-value).
The decision: `keep` production if any metric is significantly worse for the candidate (p < alpha); `extend` once
when a variant has fewer than `ab_min_requests` (or a metric too few samples to test); otherwise `promote` (the
candidate is not significantly worse on any metric). No scipy: the Lambda layer stays small, and the normal and
Student t distributions below are exact to ~1e-10 (erfc; the regularized incomplete beta by Lentz's continued
fraction, Numerical Recipes §6.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    a: float  # production's value (error rate, or mean latency in ms)
    b: float  # the candidate's
    df: float | None = None

    @property
    def candidate_worse(self) -> bool:
        return self.b > self.a


def normal_two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_proportion_z_test(errors_a: int, n_a: int, errors_b: int, n_b: int) -> TestResult:
    """H0: both variants fail the same share of requests. Two-sided p-value from the pooled z statistic."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError("both variants need at least one request")
    p_a, p_b = errors_a / n_a, errors_b / n_b
    pooled = (errors_a + errors_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    if se == 0.0:  # no errors at all (or every request failed on both): no evidence of a difference
        return TestResult(0.0, 1.0, p_a, p_b)
    z = (p_b - p_a) / se
    return TestResult(z, normal_two_sided_p(z), p_a, p_b)


def welch_t_test(a: list[float], b: list[float]) -> TestResult:
    """H0: equal means, variances not assumed equal. Two-sided p-value from Student's t with Welch's df."""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's t-test needs at least two samples per variant")
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    var_a = sum((x - mean_a) ** 2 for x in a) / (len(a) - 1)
    var_b = sum((x - mean_b) ** 2 for x in b) / (len(b) - 1)
    se2_a, se2_b = var_a / len(a), var_b / len(b)
    se2 = se2_a + se2_b
    if se2 == 0.0:
        return TestResult(0.0, 1.0 if mean_a == mean_b else 0.0, mean_a, mean_b)
    t = (mean_b - mean_a) / math.sqrt(se2)
    df = se2**2 / (se2_a**2 / (len(a) - 1) + se2_b**2 / (len(b) - 1))
    return TestResult(t, student_t_two_sided_p(t, df), mean_a, mean_b, df)


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2)."""
    return regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5)


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(x, a, b) / a
    return 1.0 - front * _beta_fraction(1.0 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny, epsilon = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < epsilon:
            break
    return h


# ---- the decision --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantSample:
    """One variant's traffic over the A/B window: requests, 5xx errors, per-period average latencies (ms)."""

    requests: int
    errors: int
    latencies_ms: list[float]


def decide(
    production: VariantSample,
    candidate: VariantSample,
    metrics: list[str],
    alpha: float,
    min_requests: int,
    extended: bool,
) -> dict[str, object]:
    """`promote`, `keep` or `extend`, with each metric's test (statistic, p-value, both values) and the reason."""
    tests: dict[str, dict[str, object]] = {}
    short = [
        name
        for name, sample in (("production", production), ("candidate", candidate))
        if sample.requests < min_requests
    ]
    worse: list[str] = []
    untested: list[str] = []
    for metric in metrics:
        try:
            if metric == "error_rate":
                result = two_proportion_z_test(
                    production.errors, production.requests, candidate.errors, candidate.requests
                )
            elif metric == "latency":
                result = welch_t_test(production.latencies_ms, candidate.latencies_ms)
            else:
                raise ValueError(f"unknown metric {metric!r}")
        except ValueError as exc:
            tests[metric] = {"tested": False, "why": str(exc)}
            untested.append(metric)
            continue
        significant = result.p_value < alpha
        tests[metric] = {
            "tested": True,
            "statistic": round(result.statistic, 6),
            "p_value": result.p_value,
            "production": result.a,
            "candidate": result.b,
            "df": result.df,
            "significant": significant,
            "candidate_worse": result.candidate_worse,
        }
        if significant and result.candidate_worse:
            worse.append(metric)
    if worse:
        decision, reason = "keep", f"the candidate is significantly worse on {', '.join(worse)} (p < {alpha})"
    elif short or untested:
        missing = [f"{n} has fewer than {min_requests} requests" for n in short] + [
            f"{m} not testable" for m in untested
        ]
        if extended:
            decision, reason = "keep", "still inconclusive after the extension: " + "; ".join(missing)
        else:
            decision, reason = "extend", "inconclusive: " + "; ".join(missing)
    else:
        decision, reason = (
            "promote",
            f"the candidate is not significantly worse on {', '.join(metrics)} (alpha {alpha})",
        )
    return {"decision": decision, "reason": reason, "tests": tests}
