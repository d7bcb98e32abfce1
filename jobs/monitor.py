"""Processing job: compare an endpoint's captured requests with the training baseline and report drift.

Inputs: --baseline-dir (baseline.csv from preprocess.py: raw training features with a header row; and,
anywhere below it, preprocessor.json, which fixes the feature order and types), --capture-dir (the
endpoint's data capture: every *.jsonl below it, one SageMaker capture record per line; the caller passes
exactly one monitoring window) and --config (the model config; its `monitoring` block gives
drift_threshold, feature_thresholds and min_records).
Outputs in --output-dir, in SageMaker Model Monitor's formats: statistics.json (the window),
constraints.json (suggested from the baseline), constraint_violations.json; and drift_summary.json, the
compact per-feature verdicts that Driftline's on_monitoring_completed Lambda publishes as metrics.

How drift is measured:
- The verdict distance is the Population Stability Index, PSI = sum((q - p) * ln(q / p)) over buckets,
  p the baseline's share and q the window's, an empty bucket's share replaced by 1e-4. A feature has
  drifted when its PSI exceeds its threshold (monitoring.feature_thresholds[name], else
  monitoring.drift_threshold; 0.1 is the usual "slight", 0.2 the usual "significant" reading). PSI is
  symmetric, works the same for numbers and categories and is read the same way at any traffic volume,
  where KS p-values become tiny for any change once there are many records.
- Numeric features: buckets between the baseline's deciles. Each distinct decile value is a bucket of
  its own, so a discrete feature (pdays = 999 for most rows, small counts) keeps one bucket per common
  value instead of collapsing into one.
- With --ks-test (the model config's monitoring.ks_test, off by default), the two-sample
  Kolmogorov-Smirnov statistic (as scipy.stats.ks_2samp computes it) and its asymptotic p-value are
  reported beside PSI, for information only: they decide nothing, and the verdicts are the same with
  or without them. KS needs a sample of the window's raw values and a sort: a third to a half of the
  statistics' CPU time and up to 33 MiB more at 100,000-1,000,000 records (bench/monitor.py), so it is
  off unless asked for.
- Categorical features: one bucket per baseline category plus one for every value the baseline never
  had; unseen values also raise a categorical_values_check.
- Missing values are left out of the distributions; completeness_check reports them instead.
- Fewer than monitoring.min_records rows: statistics and data checks are written, drift is not judged
  (drift_summary.json says why). No rows at all: every output is still written, window_empty is true.

Bounded memory at any volume: capture files are streamed in blocks of --block-bytes and folded, 50,000
rows at a time, into per-feature bucket counts, category counts and running sums. The baseline is
streamed the same way. The baseline sample: a numeric feature's decile edges and its baseline bucket
shares come from a uniform sample of at most --sample values (default 100,000; bottom-k of random
keys, a uniform sample without replacement, seeded by --seed), which is the whole baseline up to that
many rows. Categorical features are not sampled: their baseline counts are exact over every row (up
to MAX_TRACKED_VALUES distinct values), so a rare category is in the baseline's domain however rare.
With --ks-test, KS runs on the baseline sample and a window sample of the same size.

Capture records: the request body is captureData.endpointInput.data (encoding CSV, JSON or BASE64),
parsed as jobs/inference.py parses requests: text/csv rows without header in the preprocessor's feature
order (several rows per request allowed), or application/json {"instances": [...]} of objects keyed by
feature name or of lists in feature order. A record the endpoint would have rejected (bad JSON line,
undecodable data, wrong column count, no rows, unknown content type) is counted by reason and skipped.
Lines in the endpoint's own compact layout with a one-row text/csv body are read by a vectorised fast
path that slices out only endpointInput's data (the rest of such a line is not parsed); every other
line goes through the json module. Malformed records are logged by reason, never with their content.
See docs/internals.md, "Job scripts".

Several instances (monitoring.instance_count > 1, the capture input ShardedByS3Key): --stage partial on each
instance folds its capture files into the same summaries and writes them as partials/<host>.json; --stage
merge (one instance, --partials-dir holding every partial) adds them up and writes the reports. Record
counts, bucket counts and category counts add exactly, so the verdicts equal an unsharded run's; means
and standard deviations agree within float rounding; with --ks-test the window sample is the bottom-k of
the shards' samples (uniform, but not the very values an unsharded run would draw).

Code layout: this file is the entry point (arguments, settings, baseline features, the run);
monitor_stats.py holds the per-feature summaries, monitor_capture.py the capture reader and
monitor_report.py the verdicts and report files.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    PREPROCESSOR_FILE,
    JobInputError,
    add_partial_merge_arguments,
    check_partial_merge_arguments,
    clean_column,
    find_file,
    job_failed,
    load_preprocessor,
    setup_logging,
    sharded_host,
    to_numbers,
    write_json,
)
from monitor_capture import DEFAULT_BLOCK_BYTES, Window, capture_files, read_window, utc_time
from monitor_report import Settings, reports
from monitor_stats import BASELINE_CHUNK_ROWS, Columns, Feature, NumericSummary, read_baseline, set_decile_edges

__all__ = [  # what the tests and bench/monitor.py reach through this entry point
    "PREPROCESSOR_FILE",
    "Columns",
    "NumericSummary",
    "Window",
    "capture_files",
    "find_file",
    "read_baseline",
    "read_window",
    "reports",
    "set_decile_edges",
    "utc_time",
]

log = setup_logging()

BASELINE_FILE = "baseline.csv"
DEFAULT_DRIFT_THRESHOLD = 0.2
DEFAULT_MIN_RECORDS = 100
NUMERIC_SHARE = 0.95  # without preprocessor.json: a column is numeric when this share of its values parse
DEFAULT_SAMPLE = 100_000  # baseline rows sampled per numeric feature (see the module docstring)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--baseline-dir", default="/opt/ml/processing/input/baseline")
    parser.add_argument("--capture-dir", default="/opt/ml/processing/input/endpoint")
    parser.add_argument("--config", default="/opt/ml/processing/input/config/config.json")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--block-bytes", type=int, default=DEFAULT_BLOCK_BYTES, help="capture bytes read at a time")
    parser.add_argument(
        "--sample",
        "--ks-sample",
        dest="sample",
        type=int,
        default=DEFAULT_SAMPLE,
        help="numeric values sampled per feature: the baseline's deciles and shares (and KS, when on)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the samples")
    parser.add_argument(
        "--ks-test",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also report the KS statistic and p-value per numeric feature (informational; monitoring.ks_test)",
    )
    parser.add_argument("--window-start", type=utc_time, help="ISO time: capture files taken before it are skipped")
    parser.add_argument("--window-end", type=utc_time, help="ISO time: capture files taken at or after it are skipped")
    parser.add_argument("--exit-message", help="where to explain a failure (SageMaker: /opt/ml/output/message)")
    add_partial_merge_arguments(parser, "this instance's capture shard")
    args = parser.parse_args(argv)
    check_partial_merge_arguments(parser, args)
    if args.block_bytes < 1 or args.sample < 1:
        parser.error("--block-bytes and --sample must be positive")
    return args


# --- configuration and baseline -------------------------------------------------------------------


def load_settings(path: Path) -> Settings:
    """The config's monitoring block; absent block or file = the defaults (logged)."""
    if path.is_dir():
        path = path / "config.json"
    monitoring: Any = {}
    if not path.exists():
        log.warning("no model config at %s; using the default monitoring settings", path)
    else:
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise JobInputError(f"cannot read the model config {path}: {exc}") from exc
        if not isinstance(config, dict):
            raise JobInputError(f"{path} must hold a JSON object (the resolved model config)")
        monitoring = config.get("monitoring") or {}
    if not isinstance(monitoring, dict):
        raise JobInputError(f"{path}: monitoring must be an object")
    try:
        threshold = float(monitoring.get("drift_threshold", DEFAULT_DRIFT_THRESHOLD))
        overrides = {str(k): float(v) for k, v in (monitoring.get("feature_thresholds") or {}).items()}
        min_records = int(monitoring.get("min_records", DEFAULT_MIN_RECORDS))
    except (TypeError, ValueError, AttributeError) as exc:
        raise JobInputError(
            f"{path}: monitoring.drift_threshold and feature_thresholds must be numbers and min_records an "
            f"integer ({exc})"
        ) from exc
    bad = [name for name, value in overrides.items() if not value > 0]
    if not threshold > 0 or bad:
        raise JobInputError(f"{path}: drift thresholds must be above 0 (check drift_threshold, {bad or ''})")
    if min_records < 1:
        raise JobInputError(f"{path}: monitoring.min_records must be at least 1")
    return Settings(threshold, overrides, min_records)


def resolve_features(baseline: Path, preprocessor: Path | None) -> list[Feature]:
    """Feature order and types: preprocessor.json's, else the baseline's columns with inferred types."""
    try:
        columns = [str(c).strip() for c in pd.read_csv(baseline, nrows=0).columns]
    except (OSError, ValueError) as exc:
        raise JobInputError(f"cannot read the baseline {baseline}: {exc}") from exc
    if preprocessor is not None:
        features = [Feature(str(f["name"]), str(f["type"])) for f in load_preprocessor(preprocessor)["features"]]
        absent = [f.name for f in features if f.name not in columns]
        if absent:
            raise JobInputError(
                f"{baseline} lacks the feature column(s) {', '.join(absent)} that {preprocessor} names; "
                "were they written by the same preprocessing run?"
            )
        return features
    log.warning("no %s below the baseline directory; inferring feature types from %s", PREPROCESSOR_FILE, baseline)
    sample = pd.read_csv(baseline, nrows=BASELINE_CHUNK_ROWS, dtype=str, keep_default_na=False)
    sample.columns = columns
    features = []
    for name in columns:
        present = [v for v in clean_column(sample[name]) if v is not None]
        parsed = np.count_nonzero(~np.isnan(to_numbers(present))) if present else 0
        numeric = bool(present) and parsed >= NUMERIC_SHARE * len(present)
        features.append(Feature(name, "numeric" if numeric else "categorical"))
    return features


def monitor(
    baseline_dir: Path,
    capture_dir: Path,
    config: Path,
    output_dir: Path,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    span: tuple[datetime | None, datetime | None] = (None, None),
    ks_test: bool = False,
    stage: str = "all",
    partials_dir: Path | None = None,
    host: str = "algo-1",
) -> dict[str, Any]:
    """The run: --stage all reads the whole window; partial writes this host's share of it (its capture shard)
    as partials/<host>.json; merge absorbs every partial, so its reports equal an unsharded run's."""
    settings = load_settings(config)
    baseline_path = find_file(baseline_dir, [BASELINE_FILE]) if baseline_dir.exists() else None
    if baseline_path is None:
        raise JobInputError(f"no {BASELINE_FILE} at or below {baseline_dir}; pass the preprocessing run's baseline")
    preprocessor_path = find_file(baseline_dir, [PREPROCESSOR_FILE]) if baseline_dir.is_dir() else None
    features = resolve_features(baseline_path, preprocessor_path)
    unknown = sorted(set(settings.feature_thresholds) - {f.name for f in features})
    if unknown:
        log.warning("monitoring.feature_thresholds names unknown feature(s) %s; ignored", ", ".join(unknown))

    rng = np.random.default_rng(seed)
    baseline = read_baseline(baseline_path, Columns(features, sample, rng, edges={}))
    edges = set_decile_edges(baseline)
    log.info("baseline %s: %d rows, %d features", baseline_path, baseline.rows, len(features))

    # The window is sampled only for KS: its drift buckets are counted exactly, row by row.
    window = Window(features, Columns(features, sample if ks_test else 0, rng, edges))
    if stage == "merge":
        assert partials_dir is not None
        partials = sorted(partials_dir.glob("*.json"))
        if not partials:
            raise JobInputError(f"no partial windows in {partials_dir}; run --stage partial on every instance first")
        for path in partials:
            window.absorb(json.loads(path.read_text(encoding="utf-8")))
    else:
        read_window(capture_dir, window, block_bytes, span)
    if stage == "partial":
        write_json(output_dir / "partials" / f"{host}.json", window.state())
        log.info("partial window of %s: %d capture records, %d rows", host, window.capture_records, window.records)
        return {"host": host, "records": window.records}
    malformed = sum(window.malformed.values())
    log.info("window: %d capture records, %d rows, %d malformed", window.capture_records, window.records, malformed)
    for example in window.examples:
        log.warning("skipped a malformed record: %s", example)

    outputs = reports(features, baseline, window, settings, ks_test)
    for name, content in outputs.items():
        write_json(output_dir / name, content)
    summary = outputs["drift_summary.json"]
    reason = summary["not_judged_reason"]
    if reason is None:
        log.info(
            "drift: %d of %d features drifted (%s); largest PSI %s on %s",
            summary["drifted_feature_count"],
            len(features),
            ", ".join(summary["drifted_features"]) or "none",
            summary["max_drift"],
            summary["max_drift_feature"],
        )
    else:
        log.info("drift not judged: %s", reason)
    log.info("%d violation(s) written to %s", summary["violation_count"], output_dir / "constraint_violations.json")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        host = sharded_host(Path(args.resource_config), "partial")[0] if args.stage == "partial" else "algo-1"
        monitor(
            Path(args.baseline_dir),
            Path(args.capture_dir),
            Path(args.config),
            Path(args.output_dir),
            block_bytes=args.block_bytes,
            sample=args.sample,
            seed=args.seed,
            span=(args.window_start, args.window_end),
            ks_test=args.ks_test,
            stage=args.stage,
            partials_dir=Path(args.partials_dir) if args.partials_dir else None,
            host=host,
        )
    except JobInputError as exc:
        return job_failed(f"monitoring failed: {exc}", args.exit_message, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
