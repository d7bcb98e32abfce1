"""A/B decisions (`deployment.strategy: ab`): two-sided tests on the two variants' live metrics, in pure Python.

Production (A) and the candidate (B) serve side by side at the configured weights for `ab_seconds` (or until each
has `ab_min_requests`). Then, per metric the config names:
- `error_rate`: Invocation5XXErrors / Invocations per variant, two-proportion z-test (pooled standard error);
- `latency`: ModelLatency per variant, Welch's t-test on the per-period averages CloudWatch returns (CloudWatch
  keeps no per-request values, so the samples are the periods' means; with few periods the test has little power
  and says so through its p-value);
- `quality`: the variants' labelled outcomes over the A/B window (labels arrive late): when the A/B time is over,
  the judge runs the quality job (jobs/quality.py) over exactly the window and reads its per-variant sufficient
  statistics. Classification: two-proportion z-test on accuracy (correct / labelled per variant); regression:
  Welch's t-test on the absolute errors from their n, mean and variance. It waits up to `ab_quality_wait_seconds`
  after the window for each variant to have `monitoring.quality.min_labels` labelled predictions, re-running the
  job whenever labels/<model>/ changes; then it decides on what it has, and too few labels is "not tested: why".
The decision: `keep` production if any metric is significantly worse for the candidate (p < alpha); `extend` once
when a variant has fewer than `ab_min_requests` (or a metric too few samples to test); otherwise `promote` (the
candidate is not significantly worse on any metric). No scipy: the Lambda layer stays small, and the normal and
Student t distributions below are exact to ~1e-10 (erfc; the regularized incomplete beta by Lentz's continued
fraction, Numerical Recipes §6.4).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from driftline import aws, naming, state
from driftline.alarms import firing
from driftline.monitoring import capture_prefixes
from driftline.notifications import page
from driftline.observability import logger
from driftline.quality import LABELS, launch_quality_job, read_report
from driftline.settings import settings


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    a: float  # production's value (error rate, or mean latency in ms)
    b: float  # the candidate's
    df: float | None = None
    higher_is_better: bool = False  # accuracy; error rates, latencies and errors are better lower

    @property
    def candidate_worse(self) -> bool:
        return self.b < self.a if self.higher_is_better else self.b > self.a


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
    return welch_t_test_from_stats(len(a), mean_a, var_a, len(b), mean_b, var_b)


def welch_t_test_from_stats(n_a: int, mean_a: float, var_a: float, n_b: int, mean_b: float, var_b: float) -> TestResult:
    """Welch's t-test from each sample's size, mean and sample variance (n - 1 denominator)."""
    if n_a < 2 or n_b < 2:
        raise ValueError("Welch's t-test needs at least two samples per variant")
    se2_a, se2_b = var_a / n_a, var_b / n_b
    se2 = se2_a + se2_b
    if se2 == 0.0:
        return TestResult(0.0, 1.0 if mean_a == mean_b else 0.0, mean_a, mean_b)
    t = (mean_b - mean_a) / math.sqrt(se2)
    df = se2**2 / (se2_a**2 / (n_a - 1) + se2_b**2 / (n_b - 1))
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


@dataclass(frozen=True)
class QualityEvidence:
    """Both variants' labelled outcomes over the A/B window (from the quality job's `variants`), or why there are
    none to test. `production` / `candidate` are the job's per-variant entries: `labelled` and `correct`
    (classification) or `absolute_error` {n, mean, variance} (regression)."""

    problem_type: str
    min_labels: int
    production: dict[str, Any] | None = None
    candidate: dict[str, Any] | None = None
    why: str | None = None  # set: not testable (no job report, the job failed...)
    job: str | None = None


def quality_test(evidence: QualityEvidence) -> tuple[str, TestResult]:
    """(what was compared, the test) on both variants' labelled outcomes; ValueError says why it cannot be tested."""
    if evidence.why:
        raise ValueError(evidence.why)
    sides = {"production": evidence.production or {}, "candidate": evidence.candidate or {}}
    short = [
        f"{name} has {int(side.get('labelled') or 0)} labelled predictions"
        for name, side in sides.items()
        if int(side.get("labelled") or 0) < evidence.min_labels
    ]
    if short:
        raise ValueError(
            f"too few labelled predictions in the A/B window ({'; '.join(short)}; monitoring.quality.min_labels "
            f"is {evidence.min_labels} per variant): labels may still arrive"
        )
    a, b = sides["production"], sides["candidate"]
    if evidence.problem_type == "regression":
        ea, eb = a.get("absolute_error") or {}, b.get("absolute_error") or {}
        result = welch_t_test_from_stats(
            int(ea.get("n") or 0),
            float(ea.get("mean") or 0.0),
            float(ea.get("variance") or 0.0),
            int(eb.get("n") or 0),
            float(eb.get("mean") or 0.0),
            float(eb.get("variance") or 0.0),
        )
        return "mean absolute error", result
    z = two_proportion_z_test(int(a["correct"]), int(a["labelled"]), int(b["correct"]), int(b["labelled"]))
    return "accuracy", TestResult(z.statistic, z.p_value, z.a, z.b, higher_is_better=True)


def decide(
    production: VariantSample,
    candidate: VariantSample,
    metrics: list[str],
    alpha: float,
    min_requests: int,
    extended: bool,
    quality: QualityEvidence | None = None,
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
        measure = None
        try:
            if metric == "quality":
                measure, result = quality_test(quality or QualityEvidence("", 0, why="no quality evidence was read"))
            elif metric == "error_rate":
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
        if measure:
            tests[metric]["measure"] = measure
            for name, side in (("production", quality.production), ("candidate", quality.candidate)) if quality else ():
                tests[metric][f"{name}_labelled"] = int((side or {}).get("labelled") or 0)
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
    evidence: QualityEvidence | None = None
    if "quality" in judge.metrics:
        found = quality_evidence(judge, started, now)
        if not isinstance(found, QualityEvidence):
            return _wait(judge, started, found)
        evidence = found
    result = decide(
        _sample(judge, judge.production_variant, started, now),
        _sample(judge, judge.candidate_variant, started, now),
        judge.metrics,
        judge.alpha,
        judge.min_requests,
        judge.extended,
        evidence,
    )
    if result["decision"] == "extend":
        logger.info("A/B test extended", extra={"endpoint": judge.endpoint_name, "reason": result["reason"]})
        state.update_run(judge.model, judge.run_id, ab_test={**result, "extended": True, "decided_at": None})
        return _wait(judge.model_copy(update={"extended": True}), started, judge.ab_seconds)
    return _answer(judge, result, started, now)


# ---- quality evidence: the quality job over the A/B window ---------------------------------------------

_NOT_FOUND = {"ValidationException", "ResourceNotFound"}  # DescribeProcessingJob of a job that does not exist


def quality_evidence(judge: ABJudge, started: float, now: float) -> QualityEvidence | float:
    """Both variants' labelled outcomes over the A/B window, or the seconds to wait for them.

    The quality job (jobs/quality.py) scores both variants' captured predictions over the span the candidate's
    data capture covers (the candidate variant exists only for this test, so its capture delimits the time both
    variants served side by side, on the clock that stamped the records). It runs once per state of
    labels/<model>/ (its name carries a digest of the run, the extension and the label files' keys and ETags): a
    new label file after a run that had too few labels starts another. The judge waits up to
    `deployment.ab_quality_wait_seconds` after the A/B time for `monitoring.quality.min_labels` labelled
    predictions per variant, then decides on what the last finished run found.
    """
    config = state.load_config(judge.model)
    production = state.get_production(judge.model)
    if config is None or not production:
        return QualityEvidence("", 0, why="the model has no valid config or no production run to score against")
    problem, min_labels = config.problem_type.value, config.monitoring.quality.min_labels
    end = started + judge.ab_seconds * (2 if judge.extended else 1)
    deadline = end + config.deployment.ab_quality_wait_seconds
    waited = config.deployment.ab_quality_wait_seconds
    labels = _labels_digest(judge.model)
    if labels is None:
        if now < deadline:
            return deadline - now
        return QualityEvidence(
            problem, min_labels, why=f"no labels under labels/{judge.model}/ {waited} s after the A/B window"
        )
    digest = hashlib.sha1(f"{judge.run_id}|{started:.3f}|{judge.extended}|{labels}".encode()).hexdigest()[:10]
    job = naming.job_name(f"{judge.model}-ab-{digest}", "quality")
    try:
        described = aws.client("sagemaker").describe_processing_job(ProcessingJobName=job)
    except Exception as exc:
        if aws.error_code(exc) not in _NOT_FOUND:
            raise
        span = candidate_capture_span(judge)
        if span is None:
            if now < deadline:
                return min(float(judge.poll_seconds), deadline - now)
            return QualityEvidence(
                problem, min_labels, why=f"the data capture holds no prediction of {judge.candidate_variant}"
            )
        captures = capture_prefixes(settings().artifact_bucket, judge.model, judge.endpoint_name, span[0], span[1])
        launch_quality_job(config, production["run_id"], job, span, captures)
        logger.info("A/B quality job started", extra={"job": job, "window": [span[0].isoformat(), span[1].isoformat()]})
        return float(judge.poll_seconds)
    status = described.get("ProcessingJobStatus")
    if status in ("InProgress", "Stopping"):
        return float(judge.poll_seconds)
    if status != "Completed":
        return QualityEvidence(
            problem,
            min_labels,
            why=f"the quality job {job} ended {status}: {described.get('FailureReason') or 'no reason given'}",
            job=job,
        )
    variants = (read_report(judge.model, job, "quality_summary.json") or {}).get("variants") or {}
    found = QualityEvidence(
        problem,
        min_labels,
        production=variants.get(judge.production_variant),
        candidate=variants.get(judge.candidate_variant),
        job=job,
    )
    labelled = [int((side or {}).get("labelled") or 0) for side in (found.production, found.candidate)]
    if min(labelled) < min_labels and now < deadline:
        return min(float(judge.poll_seconds), deadline - now)
    return found


_CAPTURE_FILE = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-[^/]*\.jsonl$")


def candidate_capture_span(judge: ABJudge) -> tuple[datetime, datetime] | None:
    """[first, last] capture-file time of the candidate variant (`<endpoint>/<variant>/yyyy/mm/dd/hh/mm-ss-mmm-*`),
    the end widened by a second so the last file is inside; None while it captured nothing."""
    prefix = f"{judge.model}/datacapture/{judge.endpoint_name}/{judge.candidate_variant}/"
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=settings().artifact_bucket, Prefix=prefix)
    times = []
    for listed in pages:
        for item in listed.get("Contents") or []:
            match = _CAPTURE_FILE.search(item["Key"])
            if match:
                y, mo, d, h, mi, sec, ms = (int(part) for part in match.groups())
                times.append(datetime(y, mo, d, h, mi, sec, ms * 1000, tzinfo=UTC))
    if not times:
        return None
    return min(times), max(times) + timedelta(seconds=1)


def _labels_digest(model: str) -> str | None:
    """A digest of labels/<model>/ (keys and ETags), None while it holds no file."""
    pages = (
        aws.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=settings().data_bucket, Prefix=f"{LABELS}{model}/")
    )
    listed = sorted(f"{o['Key']}:{o.get('ETag')}" for page in pages for o in page.get("Contents") or [])
    return hashlib.sha1("\n".join(listed).encode()).hexdigest() if listed else None


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
        name = f"{metric} ({test['measure']})" if test.get("measure") else metric
        facts[name] = (
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
