"""The drift monitor's verdicts and report files: PSI (and informational KS) per feature, data checks, and
Model Monitor's statistics.json / constraints.json / constraint_violations.json plus drift_summary.json.

reports(features, baseline, window, settings, ks_test) returns every output file's content by name.
Used by monitor.py (the entry point); see its docstring for the method.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from monitor_capture import Window
from monitor_stats import CategoricalSummary, Columns, Feature, NumericSummary, bucket_counts

METHOD = "PSI"
PSI_EPSILON = 1e-4  # share given to an empty bucket, so that ln(q / p) stays finite
COMPLETENESS_TOLERANCE = 0.05  # completeness may fall this far below the baseline's before it is a violation
MAX_STATISTICS_BUCKETS = 100  # most frequent values listed in statistics.json per categorical feature


class Settings(NamedTuple):
    drift_threshold: float
    feature_thresholds: dict[str, float]
    min_records: int

    def threshold(self, name: str) -> float:
        return self.feature_thresholds.get(name, self.drift_threshold)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    p = expected / expected.sum()
    q = actual / actual.sum()
    p = np.where(p > 0, p, PSI_EPSILON)
    q = np.where(q > 0, q, PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_test(baseline: np.ndarray, current: np.ndarray) -> tuple[float | None, float | None]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value.

    The statistic is computed as scipy.stats.ks_2samp computes it (largest gap between the two empirical
    CDFs over the pooled values) and the p-value is the Kolmogorov limit at sqrt(nm / (n + m)) * D, which
    ks_2samp's method="asymp" approaches for samples this large. Done in numpy because importing
    scipy.stats costs about a second and 60 MB, more than the rest of a 100,000-record run.
    """
    if not baseline.size or not current.size:
        return None, None
    a, b = np.sort(baseline), np.sort(current)
    pooled = np.concatenate([a, b])
    gaps = np.searchsorted(a, pooled, side="right") / a.size - np.searchsorted(b, pooled, side="right") / b.size
    statistic = float(np.max(np.abs(gaps)))
    return statistic, kolmogorov_sf(math.sqrt(a.size * b.size / (a.size + b.size)) * statistic)


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution, by its two series (each fast where it is used)."""
    if x <= 0:
        return 1.0
    if x < 1.0:  # P(K <= x) = sqrt(2 pi) / x * sum exp(-(2k - 1)^2 pi^2 / (8 x^2))
        terms = (math.exp(-((2 * k - 1) ** 2) * math.pi**2 / (8 * x * x)) for k in range(1, 50))
        return min(max(1.0 - math.sqrt(2 * math.pi) / x * sum(terms), 0.0), 1.0)
    terms = ((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 50))
    return min(max(2.0 * sum(terms), 0.0), 1.0)


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def unseen_values(base: CategoricalSummary, current: CategoricalSummary) -> tuple[int, list[str]]:
    unseen = {v: c for v, c in current.counts.items() if v not in base.counts}
    names = sorted(unseen, key=lambda v: (-unseen[v], v))
    return sum(unseen.values()) + current.untracked, names


def drift_distance(
    base: NumericSummary | CategoricalSummary, current: NumericSummary | CategoricalSummary
) -> float | None:
    if current.present == 0 or base.present == 0:
        return None
    if isinstance(base, NumericSummary) and isinstance(current, NumericSummary):
        assert base.edges is not None and current.bucket_counts is not None
        return psi(bucket_counts(base.sample, base.edges).astype(float), current.bucket_counts.astype(float))
    assert isinstance(base, CategoricalSummary) and isinstance(current, CategoricalSummary)
    domain = sorted(base.counts)
    unseen, _ = unseen_values(base, current)
    expected = np.array([base.counts[v] for v in domain] + [base.untracked], dtype=float)
    actual = np.array([current.counts.get(v, 0) for v in domain] + [unseen], dtype=float)
    return psi(expected, actual)


def inferred_type(summary: NumericSummary | CategoricalSummary) -> str:
    return summary.inferred_type if isinstance(summary, NumericSummary) else "String"


def feature_statistics(
    feature: Feature, summary: NumericSummary | CategoricalSummary, fallback_type: str
) -> dict[str, Any]:
    if isinstance(summary, NumericSummary):
        common = {"num_present": summary.present, "num_missing": summary.rows - summary.present}
        return {
            "name": feature.name,
            "inferred_type": summary.inferred_type if summary.present else fallback_type,
            "numerical_statistics": {
                "common": common,
                "mean": rounded(summary.mean),
                "sum": rounded(summary.total),
                "std_dev": rounded(summary.std_dev),
                "min": rounded(summary.low) if summary.present else None,
                "max": rounded(summary.high) if summary.present else None,
                "distribution": {"kll": {"buckets": kll_buckets(summary)}},
            },
        }
    ranked = sorted(summary.counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "name": feature.name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": summary.present, "num_missing": summary.missing},
            "distinct_count": len(summary.counts) + (1 if summary.untracked else 0),
            "distribution": {
                "categorical": {
                    "buckets": [{"value": v, "count": c} for v, c in ranked[:MAX_STATISTICS_BUCKETS]],
                }
            },
        },
    }


def kll_buckets(summary: NumericSummary) -> list[dict[str, Any]]:
    """The window's counts in the drift buckets (baseline deciles), bounded by the observed min and max."""
    if summary.edges is None or summary.bucket_counts is None or not summary.present:
        return []
    edges = summary.edges.tolist()
    buckets = []
    for index, count in enumerate(summary.bucket_counts.tolist()):
        if not count:
            continue
        if index % 2:  # exactly an edge value
            lower = upper = edges[index // 2]
        else:
            lower = edges[index // 2 - 1] if index else summary.low
            upper = edges[index // 2] if index // 2 < len(edges) else summary.high
        buckets.append({"lower_bound": rounded(lower), "upper_bound": rounded(upper), "count": int(count)})
    return buckets


def constraints_file(features: list[Feature], baseline: Columns, settings: Settings) -> dict[str, Any]:
    entries = []
    for feature in features:
        summary = baseline.summaries[feature.name]
        entry: dict[str, Any] = {
            "name": feature.name,
            "completeness": round(share(summary.present, summary.rows), 6),
        }
        if isinstance(summary, NumericSummary):
            entry["inferred_type"] = summary.inferred_type
            entry["num_constraints"] = {"is_non_negative": bool(summary.present and summary.low >= 0)}
        else:
            entry["inferred_type"] = "String"
            entry["string_constraints"] = {"domains": sorted(summary.counts)}
        override = settings.feature_thresholds.get(feature.name)
        entry["monitoringConfigOverrides"] = {"comparison_threshold": override} if override is not None else {}
        entries.append(entry)
    return {
        "version": 0,
        "features": entries,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 0.0,
            "domain_content_threshold": 0.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": settings.drift_threshold,
                "comparison_method": METHOD,
                "categorical_comparison_threshold": settings.drift_threshold,
                "categorical_drift_method": METHOD,
            },
        },
    }


def violation(feature: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def data_violations(window: Window, baseline: Columns, judged: bool) -> list[dict[str, str]]:
    """Column, type, completeness and domain checks (completeness only with enough records)."""
    found = []
    for name in window.names:
        if window.absent[name]:
            count = window.absent[name]
            found.append(
                violation(
                    name,
                    "missing_column_check",
                    f"Column {name} is absent from {count} of {window.object_rows} JSON rows "
                    f"({share(count, window.object_rows):.1%}); its values count as missing",
                )
            )
    for key, count in sorted(window.extra.items()):
        found.append(
            violation(
                key,
                "extra_column_check",
                f"Column {key} is not a model feature; it is in {count} of {window.object_rows} JSON rows and ignored",
            )
        )
    for feature in window.features:
        base = baseline.summaries[feature.name]
        current = window.columns.summaries[feature.name]
        if isinstance(current, NumericSummary) and current.not_numbers:
            assert isinstance(base, NumericSummary)
            not_numbers, given = current.not_numbers, current.not_numbers + current.present
            found.append(
                violation(
                    feature.name,
                    "data_type_check",
                    f"Data type {base.inferred_type} expected, but {not_numbers} of {given} values "
                    f"({share(not_numbers, given):.1%}) are not numbers",
                )
            )
        if isinstance(current, CategoricalSummary) and isinstance(base, CategoricalSummary):
            unseen, values = unseen_values(base, current)
            if unseen:
                examples = ", ".join(repr(v) for v in values[:5]) or "(values beyond the tracked ones)"
                found.append(
                    violation(
                        feature.name,
                        "categorical_values_check",
                        f"{unseen} of {current.present} values ({share(unseen, current.present):.1%}) are outside "
                        f"the baseline domain, e.g. {examples}",
                    )
                )
        expected = share(base.present, base.rows)
        observed = share(current.present, current.rows)
        if judged and observed < expected - COMPLETENESS_TOLERANCE:
            found.append(
                violation(
                    feature.name,
                    "completeness_check",
                    f"Completeness {observed:.1%} is below the baseline's {expected:.1%} "
                    f"(tolerance {COMPLETENESS_TOLERANCE:.0%})",
                )
            )
    return found


def not_judged_reason(records: int, malformed: int, settings: Settings) -> str | None:
    if records == 0:
        return "no captured records in the window" if not malformed else "every captured record was malformed"
    if records < settings.min_records:
        return f"only {records} records; drift is judged from {settings.min_records} (monitoring.min_records)"
    return None


def judge(
    features: list[Feature], baseline: Columns, window: Window, settings: Settings, judged: bool, ks: bool = False
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """Per-feature drift entries for drift_summary.json and the baseline_drift_check violations.

    `ks` adds the KS statistic and p-value to numeric entries (the window's summaries must hold samples);
    they are informational and change no verdict.
    """
    entries: dict[str, dict[str, Any]] = {}
    violations = []
    for feature in features:
        base = baseline.summaries[feature.name]
        current = window.columns.summaries[feature.name]
        threshold = settings.threshold(feature.name)
        distance = drift_distance(base, current) if judged else None
        drifted = distance is not None and distance > threshold
        entry: dict[str, Any] = {
            "type": feature.kind,
            "method": METHOD,
            "distance": rounded(distance),
            "threshold": threshold,
            "drifted": drifted,
            "present": current.present,
            "missing": current.rows - current.present,
        }
        if ks and isinstance(base, NumericSummary) and isinstance(current, NumericSummary):
            statistic, p_value = ks_test(base.sample, current.sample) if judged else (None, None)
            entry["ks_statistic"], entry["ks_p_value"] = rounded(statistic), rounded(p_value, 12)
        entries[feature.name] = entry
        if drifted:
            description = f"Baseline drift distance {distance:.4f} ({METHOD}) exceeds threshold {threshold:g}"
            violations.append(violation(feature.name, "baseline_drift_check", description))
    return entries, violations


def drift_summary(
    window: Window,
    settings: Settings,
    reason: str | None,
    entries: dict[str, dict[str, Any]],
    violations: int,
    ks: bool = False,
) -> dict[str, Any]:
    distances = {name: e["distance"] for name, e in entries.items() if e["distance"] is not None}
    drifted = [name for name, e in entries.items() if e["drifted"]]
    worst = max(distances, key=lambda name: distances[name]) if distances else None
    return {
        "version": 1,
        "method": METHOD,
        "records": window.records,
        "capture_records": window.capture_records,
        "malformed_records": sum(window.malformed.values()),
        "malformed_reasons": dict(sorted(window.malformed.items())),
        "window_empty": window.records == 0,
        "drift_judged": reason is None,
        "not_judged_reason": reason,
        "min_records": settings.min_records,
        "drift_threshold": settings.drift_threshold,
        "ks_test": ks,
        "drifted_feature_count": len(drifted),
        "drifted_features": drifted,
        "max_drift": distances[worst] if worst is not None else None,
        "max_drift_feature": worst,
        "share_drifted": round(share(len(drifted), len(distances)), 6),
        "violation_count": violations,
        "features": entries,
    }


def reports(
    features: list[Feature], baseline: Columns, window: Window, settings: Settings, ks_test: bool = False
) -> dict[str, Any]:
    """The output files' contents, by file name, from the folded baseline and window."""
    reason = not_judged_reason(window.records, sum(window.malformed.values()), settings)
    entries, drift_violations = judge(features, baseline, window, settings, judged=reason is None, ks=ks_test)
    violations = (data_violations(window, baseline, reason is None) if window.records else []) + drift_violations
    statistics = {
        "version": 0,
        "dataset": {"item_count": window.records},
        "features": [
            feature_statistics(f, window.columns.summaries[f.name], inferred_type(baseline.summaries[f.name]))
            for f in features
        ],
    }
    return {
        "statistics.json": statistics,
        "constraints.json": constraints_file(features, baseline, settings),
        "constraint_violations.json": {"violations": violations},
        "drift_summary.json": drift_summary(window, settings, reason, entries, len(violations), ks=ks_test),
    }
