"""The drift monitor's statistics: per-feature summaries folded chunk by chunk, and the baseline's deciles.

A NumericSummary keeps counts, shifted running sums (for an accurate variance), min/max, counts in the
drift buckets and a bounded uniform sample (bottom-k of random keys); a CategoricalSummary keeps exact
counts of up to MAX_TRACKED_VALUES distinct values. `Columns` holds one summary per feature and folds
frames of raw rows into them. Used by monitor.py (the entry point); see its docstring for the method.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from _common import JobInputError, clean_column, clean_value, to_numbers

DECILES = 10
MAX_TRACKED_VALUES = 10_000  # distinct values remembered per categorical feature; the rest count as "other"
BASELINE_CHUNK_ROWS = 100_000

# Read as missing values by the CSV reader; clean_value maps any other spelling of these to missing too.
NA_TOKENS = ["", "na", "NA", "Na", "nan", "NaN", "NAN", "null", "NULL", "Null", "none", "None", "NONE", "?"]


class Feature(NamedTuple):
    name: str
    kind: str  # "numeric" | "categorical"

    @property
    def numeric(self) -> bool:
        return self.kind == "numeric"


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

    # -- partial summaries of a sharded window, merged (monitoring.instance_count > 1) --

    def state(self) -> dict[str, Any]:
        """Everything `absorb` needs, as JSON: counts and bucket counts exactly, sums as floats."""
        sample = self.sample if self._size else np.zeros(0)
        keys = self._pile_keys[0] if self._size else np.zeros(0)
        return {
            "rows": self.rows,
            "present": self.present,
            "not_numbers": self.not_numbers,
            "shift": self._shift,
            "shifted_sum": self._shifted_sum,
            "shifted_squares": self._shifted_squares,
            "low": self.low if self.present else None,
            "high": self.high if self.present else None,
            "integral": self.integral,
            "bucket_counts": self.bucket_counts.tolist() if self.bucket_counts is not None else None,
            "sample": sample.tolist(),
            "sample_keys": keys.tolist(),
        }

    def absorb(self, state: dict[str, Any]) -> None:
        """Add another shard's summary of the same feature (same edges): the summary of both shards' rows."""
        self.rows += int(state["rows"])
        self.not_numbers += int(state["not_numbers"])
        if state["bucket_counts"] is not None and self.bucket_counts is not None:
            self.bucket_counts += np.asarray(state["bucket_counts"], dtype=np.int64)
        present = int(state["present"])
        if not present:
            return
        if self._shift is None:
            self._shift = float(state["shift"])
        # the other shard's sums of (x - its shift) re-centred on this shift: S' = S + n d, Q' = Q + 2 d S + n d^2
        moved = float(state["shift"]) - self._shift
        self._shifted_sum += float(state["shifted_sum"]) + present * moved
        self._shifted_squares += (
            float(state["shifted_squares"]) + 2 * moved * float(state["shifted_sum"]) + present * moved**2
        )
        self.present += present
        self.total = self._shifted_sum + self.present * self._shift
        self.low = min(self.low, float(state["low"]))
        self.high = max(self.high, float(state["high"]))
        self.integral = self.integral and bool(state["integral"])
        if self._size and state["sample"]:
            self._pile_values.append(np.asarray(state["sample"], dtype=float))
            self._pile_keys.append(np.asarray(state["sample_keys"], dtype=float))
            self._piled += len(state["sample"])
            self._cut()


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

    def state(self) -> dict[str, Any]:
        return {"rows": self.rows, "missing": self.missing, "counts": self.counts, "untracked": self.untracked}

    def absorb(self, state: dict[str, Any]) -> None:
        """Add another shard's counts: exact while the shards' distinct values stay within MAX_TRACKED_VALUES."""
        self.rows += int(state["rows"])
        self.missing += int(state["missing"])
        self.untracked += int(state["untracked"])
        counts = self.counts
        for value, count in state["counts"].items():
            if value in counts:
                counts[value] += int(count)
            elif len(counts) < MAX_TRACKED_VALUES:
                counts[value] = int(count)
            else:
                self.untracked += int(count)


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

    def state(self) -> dict[str, Any]:
        return {"rows": self.rows, "summaries": {name: s.state() for name, s in self.summaries.items()}}

    def absorb(self, state: dict[str, Any]) -> None:
        self.rows += int(state["rows"])
        for name, summary in self.summaries.items():
            summary.absorb(state["summaries"][name])


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
