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
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import io
import json
import math
import re
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from _common import (
    PREPROCESSOR_FILE,
    JobInputError,
    clean_column,
    clean_value,
    find_file,
    job_failed,
    load_preprocessor,
    setup_logging,
    to_numbers,
    write_json,
)

log = setup_logging()

BASELINE_FILE = "baseline.csv"
DEFAULT_DRIFT_THRESHOLD = 0.2
DEFAULT_MIN_RECORDS = 100
METHOD = "PSI"
DECILES = 10
PSI_EPSILON = 1e-4  # share given to an empty bucket, so that ln(q / p) stays finite
COMPLETENESS_TOLERANCE = 0.05  # completeness may fall this far below the baseline's before it is a violation
MAX_TRACKED_VALUES = 10_000  # distinct values remembered per categorical feature; the rest count as "other"
MAX_STATISTICS_BUCKETS = 100  # most frequent values listed in statistics.json per categorical feature
NUMERIC_SHARE = 0.95  # without preprocessor.json: a column is numeric when this share of its values parse
DEFAULT_BLOCK_BYTES = 4 * 1024 * 1024  # capture bytes parsed at a time (about 7,000 records of 600 bytes)
FOLD_ROWS = 50_000  # parsed rows folded into the summaries at a time (each fold has a fixed cost)
BASELINE_CHUNK_ROWS = 100_000
DEFAULT_SAMPLE = 100_000  # baseline rows sampled per numeric feature (see the module docstring)
EXAMPLES = 5  # malformed records quoted in the log

# Read as missing values by the CSV reader; clean_value maps any other spelling of these to missing too.
NA_TOKENS = ["", "na", "NA", "Na", "nan", "NaN", "NAN", "null", "NULL", "Null", "none", "None", "NONE", "?"]

# The endpoint's own capture layout for a CSV request (compact JSON, endpointInput first), read with numpy.
FAST_CSV_HEAD = b'{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
FAST_CSV_TAIL = b'","encoding":"CSV"}'
QUOTE_WINDOW = 256  # bytes searched with numpy for the end of a CSV body; longer bodies are searched one by one
CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"


class MalformedRecord(ValueError):
    """A capture record the endpoint would have rejected; `reason` is the key it is counted under."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class Settings(NamedTuple):
    drift_threshold: float
    feature_thresholds: dict[str, float]
    min_records: int

    def threshold(self, name: str) -> float:
        return self.feature_thresholds.get(name, self.drift_threshold)


class Feature(NamedTuple):
    name: str
    kind: str  # "numeric" | "categorical"

    @property
    def numeric(self) -> bool:
        return self.kind == "numeric"


def utc_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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
    args = parser.parse_args(argv)
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


# --- per-feature summaries, folded chunk by chunk ---------------------------------------------------


class NumericSummary:
    """Counts, running sums, bucket counts and a bounded uniform sample of one numeric column (none: size 0)."""

    def __init__(self, sample_size: int, rng: np.random.Generator, edges: np.ndarray | None = None) -> None:
        self.rows = 0
        self.present = 0
        self.not_numbers = 0
        self.total = 0.0
        self._shift: float | None = None  # sums of (x - shift) keep the variance accurate
        self._shifted_sum = 0.0
        self._shifted_squares = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.integral = True
        self.edges = edges
        self.bucket_counts = np.zeros(2 * len(edges) + 1, dtype=np.int64) if edges is not None else None
        self._size = sample_size
        self._rng = rng
        self._pile_values: list[np.ndarray] = [np.zeros(0)]
        self._pile_keys: list[np.ndarray] = [np.zeros(0)]
        self._piled = 0
        self._largest_key = 1.0

    def add(self, numbers: np.ndarray, not_numbers: int) -> None:
        self.rows += len(numbers)
        self.not_numbers += not_numbers
        values = numbers[~np.isnan(numbers)]
        if not values.size:
            return
        self.present += int(values.size)
        if self._shift is None:
            self._shift = float(values[0])
        shifted = values - self._shift
        self._shifted_sum += float(shifted.sum())
        self.total = self._shifted_sum + self.present * self._shift
        self._shifted_squares += float(np.square(shifted).sum())  # not np.dot: BLAS threads spin
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        if self.integral:
            self.integral = bool(np.all(np.floor(values) == values))
        if self.edges is not None and self.bucket_counts is not None:
            self.bucket_counts += bucket_counts(values, self.edges)
        if self._size:
            self._keep_sample(values)

    def _keep_sample(self, values: np.ndarray) -> None:
        """Bottom-k sampling: every value gets a random key; the `size` smallest keys are the sample.

        Candidates pile up to twice the size before the pile is cut back, so the cut is paid rarely; a key
        above the largest one kept at the last cut can never be among the smallest, so it is not piled.
        """
        keys = self._rng.random(values.size)
        if self._largest_key < 1.0:
            entering = keys < self._largest_key
            values, keys = values[entering], keys[entering]
        self._pile_values.append(values)
        self._pile_keys.append(keys)
        self._piled += values.size
        if self._piled > 2 * self._size:
            self._cut()

    def _cut(self) -> None:
        values, keys = np.concatenate(self._pile_values), np.concatenate(self._pile_keys)
        if values.size > self._size:
            keep = np.argpartition(keys, self._size - 1)[: self._size]
            values, keys = values[keep], keys[keep]
            self._largest_key = float(keys.max())
        self._pile_values, self._pile_keys, self._piled = [values], [keys], values.size

    @property
    def sample(self) -> np.ndarray:
        if len(self._pile_values) != 1 or self._piled > self._size:
            self._cut()
        return self._pile_values[0]

    @property
    def mean(self) -> float | None:
        return self.total / self.present if self.present else None

    @property
    def std_dev(self) -> float | None:
        if not self.present:
            return None
        mean_shifted = self._shifted_sum / self.present
        return math.sqrt(max(self._shifted_squares / self.present - mean_shifted**2, 0.0))

    @property
    def inferred_type(self) -> str:
        return "Integral" if self.integral else "Fractional"


class CategoricalSummary:
    """Counts of each cleaned value of one categorical column (at most MAX_TRACKED_VALUES distinct)."""

    def __init__(self) -> None:
        self.rows = 0
        self.missing = 0
        self.counts: dict[str, int] = {}
        self.untracked = 0  # values beyond MAX_TRACKED_VALUES distinct ones: counted, not remembered

    def add(self, raw_counts: Any, rows: int) -> None:
        self.rows += rows
        counts = self.counts
        for raw, count in raw_counts:
            value = clean_value(raw)
            if value is None:
                self.missing += int(count)
            elif value in counts:
                counts[value] += int(count)
            elif len(counts) < MAX_TRACKED_VALUES:
                counts[value] = int(count)
            else:
                self.untracked += int(count)

    @property
    def present(self) -> int:
        return self.rows - self.missing


def bucket_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts over 2k+1 buckets for k edges: below e1, = e1, between e1 and e2, = e2, ..., above ek."""
    if not edges.size:
        return np.array([values.size])
    above = np.searchsorted(edges, values, side="right")  # edges <= value
    on_edge = edges[np.maximum(above - 1, 0)] == values
    return np.bincount(2 * above - (on_edge & (above > 0)), minlength=2 * edges.size + 1)


def numeric_values(column: pd.Series) -> tuple[np.ndarray, int]:
    """A column as floats (NaN = missing or not a number) and how many present values are not numbers."""
    if pd.api.types.is_bool_dtype(column.dtype):  # true/false: text to the model, so not numbers
        return np.full(len(column), np.nan), int(column.notna().sum())
    if pd.api.types.is_numeric_dtype(column.dtype):
        numbers = column.to_numpy(dtype=float, na_value=np.nan, copy=True)
        numbers[~np.isfinite(numbers)] = np.nan
        return numbers, 0
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    try:
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)
    except (TypeError, ValueError):  # unhashable or odd objects: clean them one by one
        numbers = np.full(len(column), np.nan)
    suspect = ~np.isfinite(numbers)
    if not suspect.any():
        return numbers, 0
    cleaned = clean_column(column.to_numpy(dtype=object)[suspect])  # missing tokens, padding, text
    retried = to_numbers(cleaned)
    numbers[suspect] = retried
    present = np.array([value is not None for value in cleaned], dtype=bool)
    return numbers, int(np.count_nonzero(present & np.isnan(retried)))


def value_counts(column: pd.Series) -> list[tuple[Any, int]]:
    """(raw value, count) pairs, missing values included; cleaning happens once per distinct value."""
    try:
        counts = column.value_counts(dropna=False, sort=False)
    except TypeError:  # lists or dicts inside JSON rows
        counts = column.map(lambda v: v if v is None else str(v)).value_counts(dropna=False, sort=False)
    pairs = [(raw, int(count)) for raw, count in counts.items() if count]
    if isinstance(column.dtype, pd.CategoricalDtype):  # value_counts of a categorical may drop NaN
        missing = int(column.isna().sum()) - sum(c for raw, c in pairs if raw is None or raw != raw)
        if missing > 0:
            pairs.append((None, missing))
    return pairs


class Columns:
    """One summary per feature; frames of raw rows (any dtype) are folded in as they come."""

    def __init__(
        self, features: list[Feature], sample_size: int, rng: np.random.Generator, edges: dict[str, Any]
    ) -> None:
        self.features = features
        self.rows = 0
        self.summaries: dict[str, NumericSummary | CategoricalSummary] = {
            f.name: NumericSummary(sample_size, rng, edges.get(f.name)) if f.numeric else CategoricalSummary()
            for f in features
        }

    def add(self, frame: pd.DataFrame) -> None:
        rows = len(frame)
        if not rows:
            return
        self.rows += rows
        for feature in self.features:
            summary = self.summaries[feature.name]
            column = frame[feature.name] if feature.name in frame.columns else pd.Series([None] * rows, dtype=object)
            if isinstance(summary, NumericSummary):
                summary.add(*numeric_values(column))
            else:
                summary.add(value_counts(column), rows)


def read_baseline(path: Path, baseline: Columns) -> Columns:
    """Fold the baseline file into `baseline` (empty summaries, without edges), chunk by chunk."""
    categorical = {f.name: "category" for f in baseline.features if not f.numeric}
    try:
        reader = pd.read_csv(
            path,
            dtype=categorical,
            keep_default_na=False,
            na_values=NA_TOKENS,
            chunksize=BASELINE_CHUNK_ROWS,
        )
        for chunk in reader:
            chunk.columns = [str(c).strip() for c in chunk.columns]
            baseline.add(chunk)
    except (OSError, ValueError) as exc:
        raise JobInputError(f"cannot read the baseline {path}: {exc}") from exc
    if not baseline.rows:
        raise JobInputError(f"the baseline {path} has no rows; it should hold the training features")
    return baseline


def set_decile_edges(baseline: Columns) -> dict[str, np.ndarray]:
    """Each numeric feature's drift bucket edges, from its baseline sample (set on the baseline's summaries too)."""
    edges = {}
    for name, summary in baseline.summaries.items():
        if isinstance(summary, NumericSummary):
            summary.edges = edges[name] = decile_edges(summary.sample)
    return edges


def decile_edges(sample: np.ndarray) -> np.ndarray:
    if not sample.size:
        return np.zeros(0)
    return np.unique(np.quantile(sample, np.linspace(0.0, 1.0, DECILES + 1)[1:-1]))


# --- capture records ---------------------------------------------------------------------------------


CAPTURE_FILE_TIME = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-[^/]*\.jsonl$")


def capture_file_time(path: Path) -> datetime | None:
    """When a capture file's first record was taken: SageMaker names it `.../yyyy/mm/dd/hh/mm-ss-mmm-<uuid>.jsonl`.

    A file downloaded without its hour folders (an S3Prefix input's prefix is stripped) is timed by its
    first record's `eventMetadata.inferenceTime` instead; None when neither says.
    """
    match = CAPTURE_FILE_TIME.search(path.as_posix())
    if match:
        year, month, day, hour, minute, second, millis = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=timezone.utc)
    try:
        with path.open("rb") as handle:
            first = json.loads(handle.readline(1 << 20))
        return utc_time(str(first["eventMetadata"]["inferenceTime"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def capture_files(root: Path, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
    """The capture files below `root` whose first record falls in [start, end) (files with no time: all).

    A file belongs to the one window its first record falls in, so consecutive windows never count a
    record twice, even though their hour inputs overlap (docs/decisions.md, "Drift windows").
    """
    if root.is_file():
        return [root]
    if not root.is_dir():
        log.warning("no capture directory %s: treating the window as empty", root)
        return []
    found = []
    for path in sorted(root.rglob("*.jsonl")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        taken = capture_file_time(path)
        if taken is not None and ((start and taken < start) or (end and taken >= end)):
            continue
        found.append(path)
    return found


def byte_blocks(files: list[Path], size: int) -> Iterator[memoryview]:
    """The files' bytes in blocks of about `size`, each ending at a line end (a block may span files).

    Files are read straight into one reused buffer, so a block is only valid until the next is asked for.
    """
    buffer = bytearray(size)
    filled = 0
    for file in files:
        try:
            with open(file, "rb") as handle:
                while True:
                    if filled == len(buffer):  # one line longer than the buffer: a bigger buffer
                        grown = bytearray(2 * len(buffer))
                        grown[:filled] = buffer
                        buffer = grown
                    count = handle.readinto(memoryview(buffer)[filled:])
                    if not count:
                        break
                    filled += count
                    cut = buffer.rfind(b"\n", 0, filled) + 1
                    if filled < len(buffer) or not cut:
                        continue
                    yield memoryview(buffer)[:cut]
                    buffer[: filled - cut] = buffer[cut:filled]
                    filled -= cut
        except OSError as exc:
            log.warning("skipping the rest of unreadable capture file %s: %s", file, exc)
        if filled and buffer[filled - 1] != 10:  # the file's last line ends with the file
            if filled == len(buffer):
                buffer = buffer + b"\n"  # a new buffer: the last block handed out may still be referenced
            else:
                buffer[filled] = 10
            filled += 1
    if filled:
        yield memoryview(buffer)[:filled]


def decode_line(line: str) -> tuple[str, Any, str]:
    """(content type, data, encoding) of a capture line's endpointInput, via the json module."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise MalformedRecord("bad_json_line", f"not a JSON line ({exc})") from exc
    capture = record.get("captureData") if isinstance(record, dict) else None
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    if not isinstance(endpoint_input, dict) or "data" not in endpoint_input:
        raise MalformedRecord("no_input_data", "no captureData.endpointInput.data (is input capture on?)")
    return (
        str(endpoint_input.get("observedContentType") or ""),
        endpoint_input["data"],
        str(endpoint_input.get("encoding") or "").upper(),
    )


def body_text(data: Any, encoding: str) -> str:
    if not isinstance(data, str):
        raise MalformedRecord("undecodable_data", f"data is a {type(data).__name__}, not a string")
    if encoding == "BASE64":
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedRecord("undecodable_data", f"data is not valid BASE64 ({exc})") from exc
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedRecord("undecodable_data", f"BASE64 data is not UTF-8 text (byte {exc.start})") from exc
    if encoding not in ("CSV", "JSON", ""):
        raise MalformedRecord("undecodable_data", f"unknown encoding {encoding!r}")
    return data.removeprefix("\ufeff")


def csv_rows(text: str, width: int) -> list[list[str]]:
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise MalformedRecord("no_rows", "the request has no rows")
    for row in rows:
        if len(row) != width:
            raise MalformedRecord("wrong_column_count", f"a CSV row has {len(row)} columns, expected {width}")
    return rows


def json_rows(text: str, names: frozenset[str], width: int) -> list[Any]:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise MalformedRecord("bad_json_body", f"the request body is not valid JSON ({exc})") from exc
    instances = payload.get("instances") if isinstance(payload, dict) else payload
    if not isinstance(instances, list):
        raise MalformedRecord("bad_json_body", 'a JSON request must be {"instances": [...]}')
    if not instances:
        raise MalformedRecord("no_rows", "the request has no rows")
    for row in instances:
        if isinstance(row, dict):
            if names.isdisjoint(row):
                raise MalformedRecord("bad_json_body", "a JSON row names none of the model's features")
        elif isinstance(row, list):
            if len(row) != width:
                raise MalformedRecord("wrong_column_count", f"a JSON row has {len(row)} values, expected {width}")
        else:
            raise MalformedRecord("bad_json_body", f"a JSON row is a {type(row).__name__}, not an object or a list")
    return instances


class Chunk:
    """Rows waiting to be folded into the summaries, by how they are turned into a frame."""

    def __init__(self) -> None:
        self.csv: list[bytes] = []  # newline-separated CSV rows without quotes: parsed by pandas in C
        self.csv_rows = 0
        self.lists: list[list[Any]] = []  # rows as values in feature order
        self.objects: list[dict[str, Any]] = []  # JSON rows keyed by name

    @property
    def rows(self) -> int:
        return self.csv_rows + len(self.lists) + len(self.objects)


def windows_equal(data: np.ndarray, offsets: np.ndarray, expected: bytes) -> np.ndarray:
    """Whether data[offset : offset + len(expected)] == expected, for each offset (vectorised)."""
    if not offsets.size:
        return np.zeros(0, dtype=bool)
    if data.size < len(expected):
        return np.zeros(offsets.size, dtype=bool)
    fits = offsets + len(expected) <= data.size
    views = np.lib.stride_tricks.sliding_window_view(data, len(expected))
    found = views[np.where(fits, offsets, 0)] == np.frombuffer(expected, dtype=np.uint8)
    return fits & found.all(axis=1)


def per_row(positions: np.ndarray, row_starts: np.ndarray, row_ends: np.ndarray) -> np.ndarray:
    """How many of the sorted `positions` fall in each [row_start, row_end)."""
    return np.searchsorted(positions, row_ends) - np.searchsorted(positions, row_starts)


def join_slices(buffer: bytes, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """buffer[start:end] for each pair, joined by newlines."""
    return b"\n".join([buffer[a:b] for a, b in zip(starts.tolist(), ends.tolist())])  # noqa: B905 - same length


def closing_quotes(data: np.ndarray, starts: np.ndarray, line_ends: np.ndarray) -> np.ndarray:
    """Position of the first '"' at or after each start and before its line end; -1 where there is none.

    Looks in a fixed window after each start with numpy; the few bodies longer than the window (or too
    near the end of the block for one) are searched one by one.
    """
    found = np.full(starts.size, -1, dtype=np.int64)
    width = QUOTE_WINDOW
    fits = np.flatnonzero(starts + width <= data.size)
    if fits.size:
        hits = np.lib.stride_tricks.sliding_window_view(data, width)[starts[fits]] == ord('"')
        first = hits.argmax(axis=1)
        seen = hits[np.arange(fits.size), first]
        found[fits[seen]] = starts[fits[seen]] + first[seen]
    for index in np.flatnonzero(found < 0).tolist():
        start = int(starts[index])
        hit = np.flatnonzero(data[start : int(line_ends[index])] == ord('"'))
        found[index] = start + int(hit[0]) if hit.size else -1
    found[found >= line_ends] = -1
    return found


class Window:
    """Everything learnt from the capture window."""

    def __init__(self, features: list[Feature], columns: Columns) -> None:
        self.features = features
        self.names = [f.name for f in features]
        self.name_set = frozenset(self.names)
        self.width = len(features)
        self.columns = columns
        self.capture_records = 0
        self.malformed: Counter[str] = Counter()
        self.examples: list[str] = []
        self.object_rows = 0
        self.absent: Counter[str] = Counter()  # feature -> JSON object rows without it
        self.extra: Counter[str] = Counter()  # unknown key -> JSON object rows with it
        self._dtypes = {f.name: "category" for f in features if not f.numeric}
        self._pending = Chunk()

    @property
    def records(self) -> int:
        return self.columns.rows

    def add_block(self, block: bytes | memoryview) -> None:
        """Parse a block of whole capture lines; fold the rows in once FOLD_ROWS are waiting."""
        chunk = self._pending
        fast, others = self._split_fast(block)
        if fast:
            chunk.csv.append(fast)
            chunk.csv_rows += fast.count(b"\n")
        for line in others:
            if line.strip():
                self.add_line(chunk, line)
        if chunk.rows >= FOLD_ROWS:
            self.finish()

    def finish(self) -> None:
        """Fold every waiting row into the summaries."""
        chunk, self._pending = self._pending, Chunk()
        self._fold(chunk)

    def _split_fast(self, block: bytes | memoryview) -> tuple[bytes, list[str]]:
        """CSV bodies of lines in the endpoint's own layout, found with numpy; the other lines as text.

        A line is taken here when it is `{"captureData":{"endpointInput":{"observedContentType":"text/csv",
        "mode":"INPUT","data":"<body>","encoding":"CSV"}...}` and its body, free of escapes, is one
        non-blank row of the expected width; only endpointInput is read. Every other line (other layouts,
        BASE64, JSON bodies, anything malformed) goes through the json module in add_line.
        """
        block = bytes(block)  # slicing bytes is cheaper than slicing a memoryview
        data = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)  # every line ends with a newline (byte_blocks sees to that)
        starts = np.concatenate(([0], ends[:-1] + 1))
        last = np.maximum(ends - 1, 0)
        last = np.where((data[last] == 13) & (last > 0), last - 1, last)  # \r\n line ends
        lines = np.flatnonzero(windows_equal(data, starts, FAST_CSV_HEAD) & (data[last] == ord("}")))
        body_starts = starts[lines] + len(FAST_CSV_HEAD)
        body_ends = closing_quotes(data, body_starts, ends[lines])
        taken = (body_ends >= 0) & windows_equal(data, np.maximum(body_ends, 0), FAST_CSV_TAIL)
        lines, body_starts, body_ends = lines[taken], body_starts[taken], body_ends[taken]
        bodies = join_slices(block, body_starts, body_ends)
        rows = np.frombuffer(bodies, dtype=np.uint8)
        lengths = body_ends - body_starts
        row_starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
        row_ends = row_starts + lengths
        commas = per_row(np.flatnonzero(rows == ord(",")), row_starts, row_ends)
        escapes = per_row(np.flatnonzero((rows == ord("\\")) | (rows == ord('"'))), row_starts, row_ends)
        good = (commas == self.width - 1) & (escapes == 0)
        for row in np.flatnonzero(good & (row_ends - row_starts - commas < self.width)).tolist():
            # a short row: maybe only commas and blanks, which the endpoint rejects
            good[row] = bool(bodies[row_starts[row] : row_ends[row]].strip(b", \t"))
        if not good.all():  # rare: those lines take the slow path, which says what is wrong with them
            kept = np.flatnonzero(good)
            bodies = join_slices(bodies, row_starts[kept], row_ends[kept])
        fast = np.zeros(starts.size, dtype=bool)
        fast[lines[good]] = True
        self.capture_records += int(np.count_nonzero(good))
        others = [
            block[a:b].decode("utf-8", "replace").lstrip("\ufeff")
            for a, b in zip(starts[~fast].tolist(), ends[~fast].tolist())  # noqa: B905 - same length
        ]
        return (bodies + b"\n" if good.any() else b""), others

    def reject(self, error: MalformedRecord) -> None:
        self.malformed[error.reason] += 1
        if len(self.examples) < EXAMPLES:  # the reason only: captured data may be personal
            self.examples.append(f"{error.reason}: {error}")

    def add_line(self, chunk: Chunk, line: str) -> None:
        """One capture line the fast path did not take: decoded with the json module, then its body parsed."""
        self.capture_records += 1
        try:
            content_type, data, encoding = decode_line(line)
        except MalformedRecord as exc:
            self.reject(exc)
            return
        media = content_type.split(";")[0].strip().lower()
        try:
            if media == CSV_TYPE or (not media and encoding == "CSV"):
                chunk.lists.extend(csv_rows(body_text(data, encoding), self.width))
            elif media == JSON_TYPE or media.endswith("+json") or (not media and encoding == "JSON"):
                for row in json_rows(body_text(data, encoding), self.name_set, self.width):
                    (chunk.objects if isinstance(row, dict) else chunk.lists).append(row)
            else:
                raise MalformedRecord("unsupported_content_type", f"content type {content_type!r} is not CSV or JSON")
        except MalformedRecord as exc:
            self.reject(exc)

    def _fold(self, chunk: Chunk) -> None:
        if chunk.csv:
            rows = b"".join(chunk.csv)
            frame = self._read_csv(rows, chunk.csv_rows)
            if frame is None:  # the C reader saw the rows differently (stray control characters)
                text = rows.decode("utf-8", errors="replace")
                chunk.lists.extend(row.split(",") for row in text.split("\n") if row)
            else:
                self.columns.add(frame)
        if chunk.lists:
            self.columns.add(pd.DataFrame(chunk.lists, columns=self.names, dtype=object))
        if chunk.objects:
            self._count_keys(chunk.objects)
            self.columns.add(
                pd.DataFrame({name: [row.get(name) for row in chunk.objects] for name in self.names}, dtype=object)
            )

    def _read_csv(self, rows: bytes, count: int) -> pd.DataFrame | None:
        try:
            frame = pd.read_csv(
                io.BytesIO(rows),
                header=None,
                names=self.names,
                dtype=self._dtypes,
                keep_default_na=False,
                na_values=NA_TOKENS,
                encoding_errors="replace",
            )
        except (ValueError, pd.errors.ParserError):
            return None
        return frame if len(frame) == count else None

    def _count_keys(self, rows: list[dict[str, Any]]) -> None:
        self.object_rows += len(rows)
        for row in rows:
            if len(row) == self.width and self.name_set.issuperset(row):
                continue
            self.extra.update(key for key in row if key not in self.name_set)
            self.absent.update(name for name in self.names if name not in row)


def read_window(
    capture_dir: Path, window: Window, block_bytes: int, span: tuple[datetime | None, datetime | None] = (None, None)
) -> None:
    files = capture_files(capture_dir, *span)
    log.info("reading %d capture file(s) below %s", len(files), capture_dir)
    for number, block in enumerate(byte_blocks(files, block_bytes), start=1):
        window.add_block(block)
        if number % 20 == 0:
            log.info("... %d capture records read", window.capture_records)
    window.finish()


# --- verdicts and Model Monitor files ------------------------------------------------------------------


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
) -> dict[str, Any]:
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
    read_window(capture_dir, window, block_bytes, span)
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
        )
    except JobInputError as exc:
        return job_failed(f"monitoring failed: {exc}", args.exit_message, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
