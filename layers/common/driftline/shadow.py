"""CanaryRollout's shadow test (`deployment.strategy: shadow-canary`): judge a candidate on mirrored traffic.

The candidate runs as the endpoint's SageMaker shadow variant (`ShadowProductionVariants`): SageMaker sends it a
copy of the requests the production variant answers and drops its answers, so no caller ever sees them. After
`deployment.shadow_seconds` the candidate is judged on what it did with that copy:
- errors: its `Invocation5XXErrors` over `Invocations` (AWS/SageMaker, dimensions EndpointName + VariantName: a
  shadow variant's metrics carry its own variant name);
- latency: its average `ModelLatency`;
- disagreement with production: the endpoint's data capture holds both variants' answers to the same requests
  (`<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`); requests are paired by their input (and
  inference id when the caller passed one); classification compares labels (share differing), regression the
  values (mean absolute difference).
Too few mirrored requests is a failed test too: a candidate is never promoted on no evidence.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from driftline import aws, state
from driftline.observability import logger

METRICS_NAMESPACE = "AWS/SageMaker"


class ShadowJudge(BaseModel):
    model: str
    run_id: str
    endpoint_name: str
    expected_config: str  # the endpoint config with the shadow variant
    candidate_variant: str
    production_variant: str
    problem_type: str
    capture_uri: str | None = None  # DataCaptureConfig.DestinationS3Uri (None: capture off)
    shadow_seconds: int
    min_requests: int
    max_error_rate: float
    max_latency_ms: float
    max_disagreement: float
    max_mean_abs_difference: float | None = None
    poll_seconds: int
    started_at: float | None = None


class ShadowStats(BaseModel):
    """What the candidate did with mirrored traffic, and how production answered the same requests."""

    requests: int = 0
    errors: int = 0
    latency_ms: float | None = None
    compared: int = 0  # requests answered by both variants and paired in the capture
    disagreement: float | None = None  # share of differing labels (classification)
    mean_abs_difference: float | None = None  # regression


def judge_shadow(judge: ShadowJudge, now: float | None = None) -> dict[str, Any]:
    """`wait` while the shadow test runs; then `pass` (start the canary) or `fail` with the reasons."""
    now = time.time() if now is None else now
    described = aws.client("sagemaker").describe_endpoint(EndpointName=judge.endpoint_name)
    if described.get("EndpointConfigName") != judge.expected_config:
        cause = (
            f"endpoint {judge.endpoint_name} serves {described.get('EndpointConfigName')} instead of the shadow "
            f"config {judge.expected_config}: {described.get('FailureReason') or 'the update did not take effect'}"
        )
        return _verdict(judge, "fail", [cause], ShadowStats(), now)
    started = judge.started_at or now
    remaining = judge.shadow_seconds - (now - started)
    if remaining > 0:
        return {
            "action": "wait",
            "started_at": started,
            "wait_seconds": max(1, int(min(remaining, judge.poll_seconds) + 0.999)),
        }
    stats = measure(judge, started, now)
    return _verdict(judge, *verdict(judge, stats), stats, now)


def verdict(judge: ShadowJudge, stats: ShadowStats) -> tuple[str, list[str]]:
    """(`pass` | `fail`, the reasons it failed): pure, on measured stats."""
    reasons = []
    if stats.requests < judge.min_requests:
        reasons.append(
            f"only {stats.requests} requests were mirrored to the candidate in {judge.shadow_seconds} s; the test "
            f"needs {judge.min_requests} (deployment.shadow_min_requests) to judge it"
        )
    if stats.requests:
        rate = stats.errors / stats.requests
        if rate > judge.max_error_rate:
            reasons.append(
                f"{stats.errors} of {stats.requests} mirrored requests failed ({rate:.1%}; at most "
                f"{judge.max_error_rate:.1%} allowed)"
            )
    if stats.latency_ms is not None and stats.latency_ms > judge.max_latency_ms:
        reasons.append(f"average model latency {stats.latency_ms:.0f} ms (at most {judge.max_latency_ms:.0f} ms)")
    if stats.disagreement is not None and stats.disagreement > judge.max_disagreement:
        reasons.append(
            f"its label differs from production's on {stats.disagreement:.1%} of {stats.compared} requests "
            f"(at most {judge.max_disagreement:.1%})"
        )
    if (
        stats.mean_abs_difference is not None
        and judge.max_mean_abs_difference is not None
        and stats.mean_abs_difference > judge.max_mean_abs_difference
    ):
        reasons.append(
            f"mean absolute difference from production {stats.mean_abs_difference:.4g} over {stats.compared} "
            f"requests (at most {judge.max_mean_abs_difference:.4g})"
        )
    return ("fail" if reasons else "pass"), reasons


def _verdict(judge: ShadowJudge, action: str, reasons: list[str], stats: ShadowStats, now: float) -> dict[str, Any]:
    result = {
        "variant": judge.candidate_variant,
        "outcome": "passed" if action == "pass" else "failed",
        "seconds": judge.shadow_seconds,
        **stats.model_dump(),
        "reasons": reasons,
        "judged_at": datetime.fromtimestamp(now, UTC).isoformat(),
    }
    state.update_run(judge.model, judge.run_id, shadow_test=result)
    logger.info("shadow test judged", extra={"endpoint": judge.endpoint_name, "shadow": result})
    answer: dict[str, Any] = {"action": action, "shadow": result}
    if action == "fail":
        answer["failed_step"] = "Shadow test"
        answer["error"] = {
            "Error": "ShadowTestFailed",
            "Cause": f"The candidate {judge.candidate_variant} failed its shadow test: " + "; ".join(reasons) + ".",
        }
    return answer


# ---- measuring -------------------------------------------------------------------------------------


def measure(judge: ShadowJudge, started: float, now: float) -> ShadowStats:
    stats = _metrics(judge, started, now)
    if judge.capture_uri:
        shadow = list(_captured(judge.capture_uri, judge.endpoint_name, judge.candidate_variant, None))
        hours = {hour for hour, _ in shadow}
        production = _captured(judge.capture_uri, judge.endpoint_name, judge.production_variant, hours)
        stats = stats.model_copy(update=compare([r for _, r in shadow], [r for _, r in production], judge.problem_type))
    return stats


def _metrics(judge: ShadowJudge, started: float, now: float) -> ShadowStats:
    dimensions = [
        {"Name": "EndpointName", "Value": judge.endpoint_name},
        {"Name": "VariantName", "Value": judge.candidate_variant},
    ]
    queries = [
        ("requests", "Invocations", "Sum"),
        ("errors", "Invocation5XXErrors", "Sum"),
        ("latency_sum", "ModelLatency", "Sum"),
        ("latency_count", "ModelLatency", "SampleCount"),
    ]
    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {"Namespace": METRICS_NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                    "Period": 60,
                    "Stat": stat,
                },
            }
            for query_id, metric, stat in queries
        ],
        StartTime=datetime.fromtimestamp(started, UTC) - timedelta(seconds=60),
        EndTime=datetime.fromtimestamp(now, UTC) + timedelta(seconds=60),
    )
    totals = {result["Id"]: sum(result.get("Values") or []) for result in answer.get("MetricDataResults") or []}
    samples = totals.get("latency_count", 0.0)
    return ShadowStats(
        requests=int(round(totals.get("requests", 0.0))),
        errors=int(round(totals.get("errors", 0.0))),
        latency_ms=totals.get("latency_sum", 0.0) / samples / 1000.0 if samples else None,
    )


def _captured(uri: str, endpoint: str, variant: str, hours: set[str] | None) -> Iterable[tuple[str, dict[str, Any]]]:
    """(hour prefix, capture record) of `variant`; only the given hours (`yyyy/mm/dd/hh`) when `hours` is set."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    base = f"{prefix.rstrip('/')}/{endpoint}/{variant}/"
    s3 = aws.client("s3")
    prefixes = [base] if hours is None else [f"{base}{hour}/" for hour in sorted(hours)]
    for listed in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=listed):
            for item in page.get("Contents") or []:
                hour = item["Key"][len(base) :].rsplit("/", 1)[0]
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
                for line in body.splitlines():
                    if line.strip():
                        yield hour, json.loads(line)


def _data(block: dict[str, Any] | None) -> str | None:
    if not block or "data" not in block:
        return None
    if block.get("encoding") == "BASE64":
        return base64.b64decode(block["data"]).decode("utf-8", "replace")
    return str(block["data"])


def _key(record: dict[str, Any]) -> str | None:
    captured = record.get("captureData") or {}
    body = _data(captured.get("endpointInput"))
    if body is None:
        return None
    return f"{(record.get('eventMetadata') or {}).get('inferenceId') or ''}\x00{body.strip()}"


def predictions(record: dict[str, Any]) -> list[Any]:
    """The answers in one captured output: labels or scores (JSON `predictions`) or one value per CSV line."""
    captured = record.get("captureData") or {}
    output = _data(captured.get("endpointOutput"))
    if output is None:
        return []
    text = output.strip()
    if text.startswith("{"):
        items = json.loads(text).get("predictions") or []
        return [item.get("label", item.get("value", item.get("score"))) for item in items]
    return [_number_or_text(line.strip()) for line in text.splitlines() if line.strip()]


def _number_or_text(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def compare(shadow: list[dict[str, Any]], production: list[dict[str, Any]], problem_type: str) -> dict[str, Any]:
    """Pair the two variants' answers to the same requests; the disagreement (or mean absolute difference)."""
    answers: dict[str, list[Any]] = {}
    for record in production:
        key = _key(record)
        if key is not None:
            answers.setdefault(key, predictions(record))
    pairs: list[tuple[Any, Any]] = []
    for record in shadow:
        key = _key(record)
        if key is None or key not in answers:
            continue
        ours, theirs = predictions(record), answers[key]
        if len(ours) == len(theirs):
            pairs.extend(zip(ours, theirs, strict=True))
    if not pairs:
        return {"compared": 0}
    if problem_type == "regression":
        difference = sum(abs(float(a) - float(b)) for a, b in pairs) / len(pairs)
        return {"compared": len(pairs), "mean_abs_difference": difference}
    binary = problem_type == "binary_classification"
    differing = sum(_label(a, binary) != _label(b, binary) for a, b in pairs)
    return {"compared": len(pairs), "disagreement": differing / len(pairs)}


def _label(value: Any, binary: bool) -> Any:
    """A binary classifier's CSV answer is its score: the label is score >= 0.5 (as jobs/inference.py decides)."""
    if binary and isinstance(value, float):
        return value >= 0.5
    return value
