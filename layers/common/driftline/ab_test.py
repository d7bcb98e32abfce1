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
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from driftline import aws, state
from driftline.alarms import firing
from driftline.notifications import page
from driftline.observability import logger


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
) -> dict[str, Any]:
    """`promote`, `keep` or `extend`, with each metric's test (statistic, p-value, both values) and the reason."""
    tests: dict[str, dict[str, Any]] = {}
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


# ---- the judge CanaryRollout calls (AWS) -------------------------------------------------------------


class ABJudge(BaseModel):
    model: str
    run_id: str
    endpoint_name: str
    expected_config: str  # the endpoint config with both variants
    production_variant: str
    candidate_variant: str
    candidate_percent: int
    ab_seconds: int
    min_requests: int
    metrics: list[str]
    alpha: float
    alarms: list[str] = []
    poll_seconds: int
    started_at: float | None = None
    extended: bool = False


def judge_ab(judge: ABJudge, now: float | None = None) -> dict[str, Any]:
    """`wait` while the A/B test runs (an extension is a longer wait); then `promote` or `keep`."""
    now = time.time() if now is None else now
    described = aws.client("sagemaker").describe_endpoint(EndpointName=judge.endpoint_name)
    started = judge.started_at or now
    if described.get("EndpointConfigName") != judge.expected_config:
        reason = (
            f"endpoint {judge.endpoint_name} serves {described.get('EndpointConfigName')} instead of the A/B config "
            f"{judge.expected_config}: {described.get('FailureReason') or 'the update did not take effect'}"
        )
        return _answer(judge, {"decision": "keep", "reason": reason, "tests": {}}, started, now)
    alarms = firing(judge.alarms)
    if alarms:
        reason = f"candidate alarm {alarms[0]['name']} went into ALARM during the A/B test: {alarms[0]['reason']}"
        return _answer(judge, {"decision": "keep", "reason": reason, "tests": {}}, started, now)
    remaining = judge.ab_seconds * (2 if judge.extended else 1) - (now - started)
    if remaining > 0:
        return _wait(judge, started, remaining)
    result = decide(
        _sample(judge, judge.production_variant, started, now),
        _sample(judge, judge.candidate_variant, started, now),
        judge.metrics,
        judge.alpha,
        judge.min_requests,
        judge.extended,
    )
    if result["decision"] == "extend":
        logger.info("A/B test extended", extra={"endpoint": judge.endpoint_name, "reason": result["reason"]})
        state.update_run(judge.model, judge.run_id, ab_test={**result, "extended": True, "decided_at": None})
        return _wait(judge.model_copy(update={"extended": True}), started, judge.ab_seconds)
    return _answer(judge, result, started, now)


def _wait(judge: ABJudge, started: float, remaining: float) -> dict[str, Any]:
    seconds = max(1, int(min(remaining, judge.poll_seconds) + 0.999))
    return {"action": "wait", "started_at": started, "extended": judge.extended, "wait_seconds": seconds}


def _answer(judge: ABJudge, result: dict[str, Any], started: float, now: float) -> dict[str, Any]:
    record = {
        **result,
        "production_variant": judge.production_variant,
        "candidate_variant": judge.candidate_variant,
        "candidate_percent": judge.candidate_percent,
        "seconds": round(now - started, 1),
        "extended": judge.extended,
        "alpha": judge.alpha,
        "decided_at": datetime.fromtimestamp(now, UTC).isoformat(),
    }
    state.update_run(judge.model, judge.run_id, ab_test=record)
    logger.info("A/B test decided", extra={"endpoint": judge.endpoint_name, "ab_test": record})
    if result["decision"] == "promote":
        page(
            f"{judge.model}: A/B test promotes candidate {judge.candidate_variant}",
            {
                "What happened": f"After {record['seconds']:.0f} s side by side, {result['reason']}; the candidate "
                "now becomes the only variant.",
                "Model": judge.model,
                "Endpoint": judge.endpoint_name,
                **describe_tests(result),
            },
            severity="info",
            kind="ab-decision",
            model=judge.model,
            run_id=judge.run_id,
        )
        return {"action": "promote", "ab": record}
    return {
        "action": "keep",
        "ab": record,
        "failed_step": "A/B test",
        "error": {"Error": "ProductionKeptByABTest", "Cause": f"The A/B test kept production: {result['reason']}."},
    }


def describe_tests(result: dict[str, Any]) -> dict[str, Any]:
    facts = {}
    for metric, test in (result.get("tests") or {}).items():
        if not test.get("tested"):
            facts[f"{metric}"] = f"not tested: {test.get('why')}"
            continue
        facts[metric] = (
            f"production {test['production']:.4g}, candidate {test['candidate']:.4g}, "
            f"statistic {test['statistic']:.3f}, p-value {test['p_value']:.4g}"
        )
    return facts


def _sample(judge: ABJudge, variant: str, started: float, now: float) -> VariantSample:
    dimensions = [{"Name": "EndpointName", "Value": judge.endpoint_name}, {"Name": "VariantName", "Value": variant}]
    queries = [("requests", "Invocations", "Sum"), ("errors", "Invocation5XXErrors", "Sum")]
    queries.append(("latency", "ModelLatency", "Average"))
    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric, "Dimensions": dimensions},
                    "Period": 60,
                    "Stat": stat,
                },
            }
            for query_id, metric, stat in queries
        ],
        StartTime=datetime.fromtimestamp(started, UTC) - timedelta(seconds=60),
        EndTime=datetime.fromtimestamp(now, UTC) + timedelta(seconds=60),
    )
    values = {result["Id"]: list(result.get("Values") or []) for result in answer.get("MetricDataResults") or []}
    return VariantSample(
        requests=int(round(sum(values.get("requests", [])))),
        errors=int(round(sum(values.get("errors", [])))),
        latencies_ms=[value / 1000.0 for value in values.get("latency", [])],  # ModelLatency is in microseconds
    )
