"""The quality gate: a candidate must clearly beat a trivial baseline and be no worse than production."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel

from driftline import aws
from driftline.config import Gate
from driftline.errors import EvaluationMissing

LOWER_IS_BETTER = {"rmse", "mae", "mse", "logloss", "mlogloss"}


class GateVerdict(BaseModel):
    passed: bool
    metric: str
    candidate: float
    baseline: float | None
    production: float | None
    reasons: list[str]

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)


def judge(evaluation: dict[str, Any], metric: str, gate: Gate) -> GateVerdict:
    """Compare the candidate's test metric with the trivial baseline and production (pure)."""
    candidate = _metric(evaluation.get("metrics"), metric)
    if candidate is None:
        raise EvaluationMissing(f"evaluation.json has no '{metric}' for the candidate; check gate.metric")
    baseline = _metric(evaluation.get("baseline_metrics"), metric)
    production = _metric(evaluation.get("production_metrics"), metric)
    lower = metric in LOWER_IS_BETTER
    reasons: list[str] = []
    passed = True

    def fmt(value: float) -> str:
        return f"{value:.4f}"

    if baseline is not None:
        if lower:
            needed = baseline * (1 - gate.min_improvement_over_baseline)
            ok = candidate <= needed
        else:
            needed = baseline + gate.min_improvement_over_baseline
            ok = candidate >= needed
        passed &= ok
        reasons.append(
            f"{metric} {fmt(candidate)} {'meets' if ok else 'misses'} the baseline bar "
            f"{'≤' if lower else '≥'} {fmt(needed)} (trivial baseline {fmt(baseline)})"
        )
    if production is not None:
        if lower:
            allowed = production * (1 + gate.max_regression_vs_production)
            ok = candidate <= allowed
        else:
            allowed = production - gate.max_regression_vs_production
            ok = candidate >= allowed
        passed &= ok
        reasons.append(
            f"{metric} {fmt(candidate)} is {'no worse than' if ok else 'worse than'} production "
            f"{fmt(production)} on the same test set (allowed {'≤' if lower else '≥'} {fmt(allowed)})"
        )
    if gate.min_value is not None:
        ok = candidate <= gate.min_value if lower else candidate >= gate.min_value
        passed &= ok
        reasons.append(f"{metric} {fmt(candidate)} {'meets' if ok else 'misses'} the floor {fmt(gate.min_value)}")
    return GateVerdict(
        passed=passed, metric=metric, candidate=candidate, baseline=baseline, production=production, reasons=reasons
    )


def read_evaluation(s3_uri: str) -> dict[str, Any]:
    bucket, key = s3_uri.removeprefix("s3://").split("/", 1)
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return dict(json.loads(body))
    except Exception as exc:
        raise EvaluationMissing(f"could not read {s3_uri}: {exc}") from exc


def _metric(metrics: Any, name: str) -> float | None:
    if not isinstance(metrics, dict) or metrics.get(name) is None:
        return None
    value = float(metrics[name])
    return None if math.isnan(value) else value
