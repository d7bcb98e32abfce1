"""Processing job: clean and encode the uploaded CSVs, split them, and write the serving preprocessor.

Inputs: every *.csv below --data-dir (header row each) and the resolved model config (--config).
Outputs below --output-dir: train/, validation/ and test/ as CSV shards (encoded, no header, label first;
the first shard is <split>/<split>.csv, the next ones <split>/<split>-<host>-<part>.csv; with --train-files N > 1
the train split is N files, train/train.csv and train/train-<host>-f<file>-<part>.csv, a row dealt to file
`row key mod N` (deterministic; every file non-empty once there are N train rows, so ShardedByS3Key gives each of
N training instances data)),
preprocessor/preprocessor.json and baseline/baseline.csv (a sample of the raw training features).

Bounded memory at any data size: the CSVs are read twice, --chunk-rows rows at a time. The first pass
folds each chunk into mergeable statistics (`Partial`): per column the present and numeric-parsing counts
(the feature types), the target's values, the rows per split, the training rows' category counts and a
bottom-k sample of the training rows (the --baseline-rows training rows with the smallest row keys: a
uniform sample, the same whatever the chunking or sharding). `finish` turns them into preprocessor.json:
numeric features are imputed with the median of that sample (exact up to --baseline-rows training rows),
categorical features keep their MAX_CATEGORIES most frequent training values (exact counts up to
MAX_TRACKED_VALUES distinct values per column). The second pass encodes each chunk and appends it to
its split's shard.

The split is content-keyed and row-local: a row's key is a seeded hash of its cleaned content, and its
split is decided by the key alone (test below test_fraction of the key range, validation above
1 - validation_fraction, train between). So a row always lands in the same split, whatever else is in
the data, whatever the chunking, and however the input is sharded; split sizes and class shares are
those fractions up to sampling noise (binomial), not exact counts.

Several instances (processing.instance_count > 1, the data input ShardedByS3Key): run --stage
statistics on every instance (each writes statistics/<host>.json and <host>-sample.csv), then --stage
encode with --statistics-dir holding all of them: every instance merges the partials the same way
(`merge`), the first host writes preprocessor.json and the baseline, each host encodes its own shard.
The merged result equals the single-instance one (counts exactly; sums within float rounding).
See docs/internals.md, "Job scripts" and docs/decisions.md, "Preprocessing at any size".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

import numpy as np
import pandas as pd
from _common import (
    BINARY,
    MISSING_TOKENS,
    MULTICLASS,
    PREPROCESSOR_FILE,
    PREPROCESSOR_FORMAT_VERSION,
    PROBLEM_TYPES,
    REGRESSION,
    RESOURCE_CONFIG,
    JobInputError,
    encoded_names,
    job_failed,
    log_stage,
    log_throughput,
    setup_logging,
    sharded_host,
    steady_allocator,
    to_numbers,
    write_json,
)

log = setup_logging()

NUMERIC_SHARE = 0.95  # a column is numeric when at least this share of its non-missing values parse
MAX_CATEGORIES = 100  # per categorical column; rarer values encode as unseen (all zeros)
MAX_TRACKED_VALUES = 10_000  # distinct training values counted per column; past it, the rarer half is dropped
POSITIVE_WORDS = ("yes", "1", "true", "y", "t", "positive", "pos")
DEFAULT_SEED = 42
DEFAULT_CHUNK_ROWS = 20_000  # rows read at a time: the peak memory grows with it (bench/scale.py)
DEFAULT_BASELINE_ROWS = 50_000
SHARD_ROWS = 1_000_000  # rows per output shard file
PENDING_PARTS = 16  # rows offered to the baseline sample are cut into it after this many chunks at the latest
WRITE_ROWS = 1_000  # rows turned into CSV text at a time (its strings are the encode pass's largest transient)
READ_CELLS = 400_000  # a read chunk holds at most this many cells: wide files are read in fewer rows
ENCODED_CELLS = 500_000  # an encoded block holds at most this many numbers (4 MB)
KEY_SPACE = float(2**64)
SPLITS = ("train", "validation", "test")
STAGES = ("all", "statistics", "encode")
KEY_COLUMN = "__row_key"
FILE_COLUMN, ROW_COLUMN = "__file", "__row"  # where a sampled row came from: the baseline keeps the input order


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--config", default="/opt/ml/processing/input/config/config.json")
    parser.add_argument("--data-dir", default="/opt/ml/processing/input/data")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--seed", type=int, default=None, help=f"default: the config's seed, else {DEFAULT_SEED}")
    parser.add_argument("--stage", choices=STAGES, default="all", help="all: one instance; see the docstring")
    parser.add_argument("--statistics-dir", help="--stage encode: every instance's statistics/ output")
    parser.add_argument("--resource-config", default=RESOURCE_CONFIG, help="hosts (SageMaker)")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="CSV rows read at a time")
    parser.add_argument("--baseline-rows", type=int, default=DEFAULT_BASELINE_ROWS, help="training rows sampled")
    parser.add_argument("--exit-message", help="where to explain a failure (SageMaker: /opt/ml/output/message)")
    parser.add_argument(
        "--train-files", type=int, default=1, help="train split files (training.instance_count): one per host"
    )
    args = parser.parse_args(argv)
    if args.chunk_rows < 1 or args.baseline_rows < 1:
        parser.error("--chunk-rows and --baseline-rows must be positive")
    if args.train_files < 1:
        parser.error("--train-files must be at least 1")
    if args.stage == "encode" and not args.statistics_dir:
        parser.error("--stage encode needs --statistics-dir")
    return args


def load_config(path: Path) -> dict[str, Any]:
    if path.is_dir():
        path = path / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JobInputError(f"cannot read the model config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise JobInputError(f"{path} must hold a JSON object (the resolved model config)")
    if config.get("problem_type") not in PROBLEM_TYPES:
        raise JobInputError(f"{path}: problem_type must be one of {', '.join(PROBLEM_TYPES)}")
    if not config.get("target"):
        raise JobInputError(f"{path}: target (the label column) is missing")
    return config


# --- reading -------------------------------------------------------------------------------------------


def input_files(data_dir: Path) -> list[Path]:
    files = sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise JobInputError(f"no *.csv files below {data_dir}; upload CSVs with a header row")
    return files


def unreadable(file: Path, data_dir: Path, exc: Exception) -> JobInputError:
    # The upload checks read every file; this names the one that still breaks the run, and pandas' own
    # words (line and field counts, a byte position), never the file's content.
    reason = f"not UTF-8 text at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else str(exc)
    return JobInputError(f"{file.relative_to(data_dir)}: {reason.strip()}; fix or remove the file")


def header_columns(files: list[Path], data_dir: Path) -> list[str]:
    """The union of the files' columns, in the order they first appear."""
    columns: list[str] = []
    first: list[str] | None = None
    for file in files:
        try:
            names = [str(c).strip() for c in pd.read_csv(file, nrows=0, dtype=str, encoding="utf-8-sig").columns]
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise unreadable(file, data_dir, exc) from exc
        if first is None:
            first = names
        elif names != first:
            log.warning("the CSV files have different columns; absent columns are treated as missing")
        columns.extend(c for c in names if c not in columns)
    return columns


def clean_strings(values: pd.Series) -> np.ndarray:
    """Text cells as stripped strings, None when missing (what _common.clean_value does to text).

    One pass over the cells, not pandas' `.str` methods: pandas caches the `.str` accessor on the Series and the
    accessor refers back to it, a reference cycle that only the cyclic garbage collector frees. Each such Series
    kept its whole read chunk (a 2-D object block and its strings) alive until a collection of the oldest
    generation, which comes rarer as the job runs: the job's memory grew with the rows read (docs/decisions.md,
    "Preprocessing memory past 1M rows: the cause"). Plain references are freed as soon as a chunk is done."""
    tokens = MISSING_TOKENS
    cleaned = np.empty(len(values), dtype=object)
    cleaned[:] = [
        None if not isinstance(cell, str) or (text := cell.strip()).lower() in tokens else text
        for cell in values.to_numpy(dtype=object)
    ]
    return cleaned


def read_chunks(
    files: list[Path], data_dir: Path, columns: list[str], chunk_rows: int
) -> Iterator[tuple[str, int, pd.DataFrame]]:
    """(file below data_dir, its first row's number, cleaned rows): chunks of at most chunk_rows rows, every
    chunk with `columns` in order (absent = None)."""
    chunk_rows = max(100, min(chunk_rows, READ_CELLS // max(len(columns), 1)))
    for file in files:
        rows = 0
        name = file.relative_to(data_dir).as_posix()
        try:
            reader = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig", chunksize=chunk_rows)
            for raw in reader:
                raw.columns = [str(c).strip() for c in raw.columns]
                yield (
                    name,
                    rows,
                    pd.DataFrame(
                        {c: clean_strings(raw[c]) if c in raw.columns else [None] * len(raw) for c in columns},
                        columns=columns,
                        dtype=object,
                    ),
                )
                rows += len(raw)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise unreadable(file, data_dir, exc) from exc
        log.info("read %s: %d rows", file.name, rows)


def row_keys(data: pd.DataFrame, seed: int) -> np.ndarray:
    """A stable pseudo-random key per row from its content and the seed (equal rows get equal keys)."""
    return pd.util.hash_pandas_object(data, index=False, hash_key=f"{seed:016d}"[-16:]).to_numpy()


def split_bounds(config: dict[str, Any]) -> tuple[np.uint64, np.uint64]:
    """Keys below the first bound are test rows, keys at or above the second validation rows."""
    split = config.get("split") or {}
    test, validation = float(split.get("test_fraction", 0.15)), float(split.get("validation_fraction", 0.15))
    if not (0 <= test < 1 and 0 <= validation < 1 and test + validation < 1):
        raise JobInputError("split.test_fraction and validation_fraction must be in [0, 1) and add up to below 1")
    top = np.iinfo(np.uint64).max
    return np.uint64(min(int(test * KEY_SPACE), top)), np.uint64(top - min(int(validation * KEY_SPACE), top))


def split_of(keys: np.ndarray, bounds: tuple[np.uint64, np.uint64]) -> np.ndarray:
    """0 train, 1 validation, 2 test, by key (see the module docstring)."""
    test_below, validation_from = bounds
    where = np.zeros(keys.size, dtype=np.int8)
    where[keys >= validation_from] = 1
    where[keys < test_below] = 2
    return where


def usable_rows(chunk: pd.DataFrame, target: str, problem: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a target value (a number, for regression), and their positions in the chunk."""
    present = chunk[target].notna().to_numpy().copy()
    if problem == REGRESSION:
        present &= ~np.isnan(to_numbers(chunk[target].tolist()))
    if present.all():
        return chunk, np.arange(len(chunk))
    return chunk[present].reset_index(drop=True), np.flatnonzero(present)


# --- the first pass: mergeable statistics ------------------------------------------------------------------


def merge_counts(into: dict[str, int], counts: Any) -> bool:
    """Add (value, count) pairs; past MAX_TRACKED_VALUES distinct values, keep the more frequent half (True)."""
    for value, count in counts:
        into[value] = into.get(value, 0) + int(count)
    if len(into) <= MAX_TRACKED_VALUES:
        return False
    kept = sorted(into.items(), key=lambda item: (-item[1], item[0]))[: MAX_TRACKED_VALUES // 2]
    into.clear()
    into.update(kept)
    return True


class Partial:
    """What the first pass learns from some rows; partials of disjoint rows merge into that of their union."""

    def __init__(
        self, columns: list[str], sample_columns: list[str], baseline_rows: int, counted: list[str] | None = None
    ) -> None:
        self.columns = columns
        self.sample_columns = sample_columns
        # columns whose training values are counted (the categorical candidates); a column past
        # MAX_TRACKED_VALUES distinct values is counted no further: it is a number (its counts are unused) or a
        # categorical feature whose top categories are already approximate, and counting it was half the CPU
        self.counted = list(sample_columns if counted is None else counted)
        self.overflowed: set[str] = set()
        self.baseline_rows = baseline_rows
        self.rows = 0
        self.present = dict.fromkeys(columns, 0)
        self.parsed = dict.fromkeys(columns, 0)
        self.target_counts: dict[str, list[int]] = {}  # classification: value -> rows per split
        self.target_sum = [0.0, 0.0, 0.0]  # regression: per split
        self.split_rows = [0, 0, 0]
        self.categories: dict[str, dict[str, int]] = {c: {} for c in sample_columns}  # training rows only
        self._sample_keys = np.zeros(0, dtype=np.uint64)
        self._largest_key = np.uint64(0)  # the sample's, once it is full: rows with larger keys cannot enter it
        self._sample = pd.DataFrame(columns=[*sample_columns, FILE_COLUMN, ROW_COLUMN], dtype=object)
        self._pending: list[tuple[np.ndarray, pd.DataFrame]] = []
        self._pending_rows = 0

    def add(
        self,
        rows: pd.DataFrame,
        keys: np.ndarray,
        where: np.ndarray,
        target: str,
        problem: str,
        origin: tuple[str, np.ndarray] = ("", np.zeros(0, dtype=np.int64)),
    ) -> None:
        """Fold in usable rows with their keys and splits; `origin`: their file and row numbers in it."""
        if not len(rows):
            return
        self.rows += len(rows)
        self.split_rows = [a + int(b) for a, b in zip(self.split_rows, np.bincount(where, minlength=3), strict=True)]
        for column in self.columns:
            if column == target:
                continue
            values = rows[column]
            present = values.notna().to_numpy()
            self.present[column] += int(present.sum())
            self.parsed[column] += int(np.count_nonzero(~np.isnan(to_numbers(values[present].tolist()))))
        if problem == REGRESSION:
            numbers = to_numbers(rows[target].tolist())
            for split in range(3):
                self.target_sum[split] += float(numbers[where == split].sum())
        else:
            counted = pd.crosstab(rows[target].to_numpy(), where)
            for value, per_split in counted.iterrows():
                slot = self.target_counts.setdefault(str(value), [0, 0, 0])
                for split, count in per_split.items():
                    slot[int(split)] += int(count)
        train = where == 0
        if train.any():
            training = rows.loc[train, self.sample_columns]
            for column in self.counted:
                if column not in self.overflowed and merge_counts(
                    self.categories[column], training[column].value_counts(dropna=True).items()
                ):
                    self.overflowed.add(column)
                    log.info(
                        "%s has over %d distinct values; its values are counted no further", column, MAX_TRACKED_VALUES
                    )
            training = training.reset_index(drop=True)
            training[FILE_COLUMN] = origin[0]
            training[ROW_COLUMN] = origin[1][train] if len(origin[1]) else np.flatnonzero(train)
            self._offer(keys[train], training)

    def _offer(self, keys: np.ndarray, rows: pd.DataFrame) -> None:
        """Bottom-k sampling by row key: the baseline_rows training rows with the smallest keys. Once the sample
        is full, only rows below its largest key can enter it (an equal key sorts after the sample's own row), so
        only those are kept until the next cut: past the first baseline_rows training rows, the rows held and
        the cuts' work shrink as the data grows instead of being a chunk's worth every chunk."""
        if self._sample_keys.size >= self.baseline_rows:
            below = keys < self._largest_key
            if not below.all():
                keys, rows = keys[below], rows[below].reset_index(drop=True)
        if not keys.size:
            return
        self._pending.append((keys, rows))
        self._pending_rows += len(keys)
        if self._pending_rows > self.baseline_rows or len(self._pending) >= PENDING_PARTS:
            self._cut()

    def _cut(self) -> None:
        """The sample becomes the baseline_rows rows with the smallest keys among it and the rows offered since (an
        equal key: the earlier offered), in the order they were offered. Only those rows are copied out of each
        part, so a cut's transient memory is about the sample's size, not that of every row held (copying every
        held row into one frame to take the sample from it set the job's peak, in its first chunks)."""
        if not self._pending:
            return
        parts = [(self._sample_keys, self._sample), *self._pending]
        keys = np.concatenate([k for k, _ in parts])
        kept = np.sort(np.argsort(keys, kind="stable")[: self.baseline_rows])  # positions, in offered order
        starts = np.cumsum([0] + [k.size for k, _ in parts])
        first = np.searchsorted(kept, starts)  # part i's kept rows: kept[first[i] : first[i + 1]]
        frames = [
            frame.iloc[kept[first[i] : first[i + 1]] - starts[i]].astype(object)
            for i, (_, frame) in enumerate(parts)
            if first[i + 1] > first[i]
        ]
        self._sample_keys = keys[kept]
        self._largest_key = self._sample_keys.max()
        # categorical columns: each distinct string stored once, so the sample costs codes, not strings
        self._sample = pd.concat(frames, ignore_index=True).astype("category")
        self._pending, self._pending_rows = [], 0

    @property
    def held_rows(self) -> int:
        """Training rows held in memory for the sample: the sample itself and the rows offered since the last cut."""
        return len(self._sample) + self._pending_rows

    @property
    def held_parts(self) -> int:
        """Frames of offered rows held until the next cut (at most PENDING_PARTS)."""
        return len(self._pending)

    @property
    def sample(self) -> tuple[np.ndarray, pd.DataFrame]:
        """The sampled keys and rows (object columns, None when missing), in input order (file, then row)."""
        self._cut()
        frame = self._sample.astype(object)
        frame = frame.where(frame.notna(), None)
        files = sorted({str(f) for f in frame[FILE_COLUMN]}, key=lambda f: PurePosixPath(f).parts)
        rank = {name: number for number, name in enumerate(files)}
        order = np.lexsort(
            (frame[ROW_COLUMN].to_numpy(dtype=np.int64), frame[FILE_COLUMN].map(rank).to_numpy(dtype=np.int64))
        )
        return self._sample_keys[order], frame.iloc[order].reset_index(drop=True)

    # -- serialised between the stages of a multi-instance run --

    def save(self, directory: Path, host: str) -> None:
        keys, sample = self.sample
        state = {
            "columns": self.columns,
            "sample_columns": self.sample_columns,
            "baseline_rows": self.baseline_rows,
            "rows": self.rows,
            "present": self.present,
            "parsed": self.parsed,
            "target_counts": self.target_counts,
            "target_sum": self.target_sum,
            "split_rows": self.split_rows,
            "categories": self.categories,
            "counted": self.counted,
            "overflowed": sorted(self.overflowed),
        }
        write_json(directory / f"{host}.json", state)
        frame = sample.copy()
        frame.insert(0, KEY_COLUMN, [str(k) for k in keys.tolist()])
        frame.to_csv(directory / f"{host}-sample.csv", index=False)

    @classmethod
    def load(cls, directory: Path, host: str) -> Partial:
        state = json.loads((directory / f"{host}.json").read_text(encoding="utf-8"))
        partial = cls(state["columns"], state["sample_columns"], int(state["baseline_rows"]), state["counted"])
        partial.overflowed = set(state["overflowed"])
        partial.rows = int(state["rows"])
        partial.present, partial.parsed = state["present"], state["parsed"]
        partial.target_counts, partial.target_sum = state["target_counts"], state["target_sum"]
        partial.split_rows, partial.categories = state["split_rows"], state["categories"]
        sample = pd.read_csv(directory / f"{host}-sample.csv", dtype=str, keep_default_na=False)
        keys = np.array([int(k) for k in sample.pop(KEY_COLUMN)], dtype=np.uint64)
        rows = sample.pop(ROW_COLUMN).astype(np.int64)
        sample = sample.astype(object).where(sample != "", None)
        sample[ROW_COLUMN] = rows
        partial._offer(keys, sample[[*partial.sample_columns, FILE_COLUMN, ROW_COLUMN]])
        return partial


def merge(partials: list[Partial]) -> Partial:
    """The statistics of all the partials' rows together (see Partial)."""
    first = partials[0]
    for other in partials[1:]:
        if other.columns != first.columns:
            raise JobInputError(
                "the instances saw different CSV columns; with processing.instance_count > 1 every CSV must "
                "have the same header"
            )
    merged = Partial(first.columns, first.sample_columns, first.baseline_rows, first.counted)
    for partial in partials:
        merged.rows += partial.rows
        merged.split_rows = [a + b for a, b in zip(merged.split_rows, partial.split_rows, strict=True)]
        merged.target_sum = [a + b for a, b in zip(merged.target_sum, partial.target_sum, strict=True)]
        for column in merged.columns:
            merged.present[column] += partial.present[column]
            merged.parsed[column] += partial.parsed[column]
        for value, per_split in partial.target_counts.items():
            slot = merged.target_counts.setdefault(value, [0, 0, 0])
            merged.target_counts[value] = [a + b for a, b in zip(slot, per_split, strict=True)]
        merged.overflowed |= partial.overflowed
        for column, counts in partial.categories.items():
            if merge_counts(merged.categories[column], counts.items()):
                merged.overflowed.add(column)
        keys, sample = partial.sample
        if len(keys):
            merged._offer(keys, sample)
    return merged


def scan(
    files: list[Path], data_dir: Path, columns: list[str], config: dict[str, Any], seed: int, chunk_rows: int, **kw: Any
) -> Partial:
    """The first pass over the files."""
    target, problem = config["target"], config["problem_type"]
    if target not in columns:
        raise JobInputError(f"the data has no target column '{target}' (it has {len(columns)} columns)")
    dropped = set(config.get("drop_columns") or [])
    candidates = [c for c in columns if c != target and c not in dropped]
    declared = config.get("features")
    counted = [str(f["name"]) for f in declared if f["type"] == "categorical"] if declared else None
    partial = Partial(
        columns, candidates, counted=[c for c in counted if c in candidates] if counted else counted, **kw
    )
    bounds = split_bounds(config)
    for name, start, chunk in read_chunks(files, data_dir, columns, chunk_rows):
        rows, positions = usable_rows(chunk, target, problem)
        keys = row_keys(rows, seed)
        partial.add(rows, keys, split_of(keys, bounds), target, problem, (name, start + positions))
    return partial


# --- from statistics to preprocessor.json ------------------------------------------------------------------


def positive_class(classes: list[str], configured: str | None) -> str:
    if configured is not None:
        if str(configured) not in classes:
            raise JobInputError(
                f"positive_class '{configured}' is not a value of the target (it has {len(classes)} values)"
            )
        return str(configured)
    for word in POSITIVE_WORDS:
        for value in classes:
            if value.lower() == word:
                return value
    return sorted(classes)[1]


def target_info(observed: list[str], config: dict[str, Any]) -> dict[str, Any]:
    """What the preprocessor records about a classification target, and `index`: raw value -> label."""
    if len(observed) < 2:
        raise JobInputError(
            f"target '{config['target']}' has a single value; classification needs at least two classes"
        )
    if config["problem_type"] == BINARY:
        positive = positive_class(observed, config.get("positive_class"))
        others = [c for c in observed if c != positive]
        if len(others) > 1 and config.get("positive_class") is None:
            raise JobInputError(
                f"target '{config['target']}' has {len(observed)} values; "
                "binary_classification needs two, or set positive_class to treat the rest as negative"
            )
        negative = others[0] if len(others) == 1 else f"not {positive}"
        index = {c: int(c == positive) for c in observed}
        return {"classes": [negative, positive], "positive_class": positive, "index": index}
    return {"classes": observed, "positive_class": None, "index": {c: i for i, c in enumerate(observed)}}


def feature_specs(partial: Partial, config: dict[str, Any]) -> list[tuple[str, str]]:
    declared = config.get("features")
    dropped = set(config.get("drop_columns") or [])
    if declared:
        specs = [(str(f["name"]), str(f["type"])) for f in declared if f["name"] not in dropped]
        absent = [name for name, _ in specs if name not in partial.columns]
        if absent:
            raise JobInputError(
                f"the data has no column(s) {', '.join(absent)} that the config's features name; "
                "fix the CSV header or the features list"
            )
        bad = [name for name, kind in specs if kind not in ("numeric", "categorical")]
        if bad:
            raise JobInputError(f"features {', '.join(bad)}: type must be numeric or categorical")
        return specs
    specs = []
    for name in partial.sample_columns:
        present = partial.present[name]
        numeric = present > 0 and partial.parsed[name] >= NUMERIC_SHARE * present
        specs.append((name, "numeric" if numeric else "categorical"))
    return specs


def fit_features(partial: Partial, specs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    _, sample = partial.sample
    features: list[dict[str, Any]] = []
    for name, kind in specs:
        if kind == "numeric":
            numbers = to_numbers(sample[name].tolist()) if name in sample.columns else np.zeros(0)
            known = numbers[~np.isnan(numbers)]
            median = float(np.median(known)) if known.size else 0.0
            features.append({"name": name, "type": "numeric", "impute_value": median})
            continue
        ranked = sorted(partial.categories.get(name, {}).items(), key=lambda item: (-item[1], str(item[0])))
        if len(ranked) > MAX_CATEGORIES:
            log.warning("%s has %d categories; keeping the %d most frequent", name, len(ranked), MAX_CATEGORIES)
        categories = sorted(str(category) for category, _ in ranked[:MAX_CATEGORIES])
        features.append({"name": name, "type": "categorical", "categories": categories})
    return features


def finish(partial: Partial, config: dict[str, Any], seed: int) -> tuple[dict[str, Any], pd.DataFrame, dict[str, int]]:
    """preprocessor.json's content, the baseline sample and each raw target value's label (classification)."""
    target, problem = config["target"], config["problem_type"]
    if partial.rows == 0:
        if problem == REGRESSION:
            raise JobInputError(f"target '{target}' has no numeric values; regression needs numbers")
        raise JobInputError(f"no rows have a value for the target '{target}'")
    info: dict[str, Any] = {"classes": None, "positive_class": None, "index": {}}
    if problem != REGRESSION:
        info = target_info(sorted(partial.target_counts), config)
    specs = feature_specs(partial, config)
    if not specs:
        raise JobInputError("no feature columns are left after removing the target and drop_columns")
    train_rows, validation_rows, test_rows = partial.split_rows
    if min(partial.split_rows) < 1:
        raise JobInputError(
            f"only {partial.rows} labelled rows: too few to split into train ({train_rows}), "
            f"validation ({validation_rows}) and test ({test_rows})"
        )
    features = fit_features(partial, specs)
    classes = info["classes"]
    train_class_counts = None
    if classes:
        train_class_counts = dict.fromkeys(classes, 0)
        for value, per_split in partial.target_counts.items():
            train_class_counts[classes[info["index"][value]]] += per_split[0]
    preprocessor: dict[str, Any] = {
        "format_version": PREPROCESSOR_FORMAT_VERSION,
        "model": config.get("name"),
        "problem_type": problem,
        "target": target,
        "features": features,
        "feature_names": [f["name"] for f in features],
        "encoded_feature_names": encoded_names(features),
        "classes": classes,
        "positive_class": info["positive_class"],
        "train_class_counts": train_class_counts,
        "train_target_mean": partial.target_sum[0] / train_rows if problem == REGRESSION else None,
        "rows": {"train": train_rows, "validation": validation_rows, "test": test_rows},
        "seed": seed,
    }
    _, sample = partial.sample
    return preprocessor, sample[preprocessor["feature_names"]], info["index"]


# --- the second pass: encoded shards ---------------------------------------------------------------------


def csv_text(labels: np.ndarray, matrix: np.ndarray) -> str:
    """Rows of label then features as CSV text. Whole-number columns (one-hot blocks, counts) are written as
    integers and the rest at 12 significant digits, both with numpy's C formatting instead of pandas'
    per-cell Python formatter (which was most of the job's time)."""
    columns = [labels.astype(str) if labels.dtype.kind in "iu" else np.char.mod("%.12g", labels)]
    whole = np.all(matrix == np.floor(matrix), axis=0) & np.all(np.abs(matrix) < 2**53, axis=0)
    for index in range(matrix.shape[1]):
        column = matrix[:, index]
        columns.append(column.astype(np.int64).astype(str) if whole[index] else np.char.mod("%.12g", column))
    if not len(labels):
        return ""
    return "".join([",".join(row) + "\n" for row in zip(*[column.tolist() for column in columns])])  # noqa: B905


def encode_clean(rows: pd.DataFrame, preprocessor: dict[str, Any]) -> np.ndarray:
    """_common.encode_frame for rows that are already clean (stripped strings, None when missing), vectorised:
    the same matrix (tests/unit/jobs/test_preprocess_sharded.py checks it), without cleaning every cell again."""
    blocks: list[np.ndarray] = []
    for feature in preprocessor["features"]:
        values = rows[feature["name"]]
        if feature["type"] == "numeric":
            numbers = to_numbers(values.tolist())
            numbers[np.isnan(numbers)] = float(feature["impute_value"])
            blocks.append(numbers.reshape(-1, 1))
        else:
            categories = feature["categories"]
            codes = pd.Index(categories, dtype=object).get_indexer(values.to_numpy(dtype=object))
            onehot = np.zeros((len(rows), len(categories)))
            known = codes >= 0
            onehot[np.flatnonzero(known), codes[known]] = 1.0
            blocks.append(onehot)
    return np.hstack(blocks) if blocks else np.zeros((len(rows), 0))


class ShardWriter:
    """Appends encoded rows to one split's shards, SHARD_ROWS rows per file. `file` numbers one of several
    train files (--train-files): its shards are named with it, all but the first host's file 0."""

    def __init__(
        self,
        directory: Path,
        split: str,
        host: str,
        first: bool,
        shard_rows: int | None = None,
        file: int | None = None,
    ) -> None:
        self.directory, self.split, self.host, self.first, self.file = directory, split, host, first, file
        self.shard_rows = shard_rows or SHARD_ROWS
        self.part, self.rows_in_part, self.rows = 0, 0, 0
        self.handle: TextIO | None = None
        self.paths: list[Path] = []

    def _open(self) -> TextIO:
        if self.handle is None or self.rows_in_part >= self.shard_rows:
            if self.handle is not None:
                self.handle.close()
                self.part += 1
            if self.first and self.part == 0 and not self.file:
                name = f"{self.split}.csv"
            elif self.file is None:
                name = f"{self.split}-{self.host}-{self.part:04d}.csv"
            else:
                name = f"{self.split}-{self.host}-f{self.file:03d}-{self.part:04d}.csv"
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / name
            self.paths.append(path)
            self.handle = path.open("w", encoding="utf-8", newline="")
            self.rows_in_part = 0
        return self.handle

    def write(self, labels: np.ndarray, matrix: np.ndarray, integer_labels: bool) -> None:
        start = 0
        while start < len(labels):
            handle = self._open()
            take = min(len(labels) - start, self.shard_rows - self.rows_in_part)
            for block in range(start, start + take, WRITE_ROWS):  # the rows' text is built a block at a time
                end = min(block + WRITE_ROWS, start + take)
                part = labels[block:end]
                handle.write(csv_text(part.astype(int) if integer_labels else part, matrix[block:end]))
            self.rows_in_part += take
            self.rows += take
            start += take

    def pop_last_line(self) -> str:
        """Removes and returns the last row written, once writing is over (a part left empty is deleted)."""
        self.close()
        path = self.paths[-1]
        with path.open("rb+") as handle:
            size = handle.seek(0, 2)
            start = size - 1
            while start > 0:  # back to the newline before the last row
                handle.seek(start - 1)
                if handle.read(1) == b"\n":
                    break
                start -= 1
            handle.seek(start)
            line = handle.read().decode("utf-8")
            handle.truncate(start)
        self.rows -= 1
        self.rows_in_part -= 1
        if self.rows_in_part == 0:
            path.unlink()
            self.paths.pop()
        return line

    def write_line(self, line: str) -> None:
        self._open().write(line)
        self.rows_in_part += 1
        self.rows += 1

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def fill_empty_files(writers: list[ShardWriter]) -> None:
    """Every train file gets a row: an empty one takes the last row of the fullest (only with very few rows,
    where dealing by key can leave a file empty; N files need at least N rows)."""
    for writer in writers:
        if writer.rows == 0:
            donor = max(writers, key=lambda w: w.rows)
            if donor.rows < 2:
                return
            writer.write_line(donor.pop_last_line())
            writer.close()


def encode_labels(values: pd.Series, problem: str, index: dict[str, int]) -> np.ndarray:
    if problem == REGRESSION:
        return to_numbers(values.tolist())
    return values.astype(str).map(index).to_numpy(dtype=float)


def write_shards(
    files: list[Path],
    data_dir: Path,
    columns: list[str],
    config: dict[str, Any],
    seed: int,
    chunk_rows: int,
    preprocessor: dict[str, Any],
    index: dict[str, int],
    output_dir: Path,
    host: str,
    first_host: bool,
    train_files: int = 1,
) -> dict[str, int]:
    """The second pass: every usable row encoded into its split's shards; rows written per split.
    With train_files > 1 a train row goes to file `row key mod train_files` (deterministic, about equal sizes)."""
    target, problem = config["target"], config["problem_type"]
    bounds = split_bounds(config)
    block_rows = max(100, ENCODED_CELLS // max(len(preprocessor["encoded_feature_names"]), 1))
    writers = {
        name: [
            ShardWriter(output_dir / name, name, host, first_host, file=file if train_files > 1 else None)
            for file in range(train_files if name == "train" else 1)
        ]
        for name in SPLITS
    }
    written = dict.fromkeys(SPLITS, 0)
    try:
        for _, _, chunk in read_chunks(files, data_dir, columns, chunk_rows):
            rows, _ = usable_rows(chunk, target, problem)
            if not len(rows):
                continue
            keys = row_keys(rows, seed)
            where = split_of(keys, bounds)
            labels = encode_labels(rows[target], problem, index)
            for number, name in enumerate(SPLITS):
                members = np.flatnonzero(where == number)
                if not members.size:
                    continue
                deal = keys[members] % np.uint64(len(writers[name]))
                for file, writer in enumerate(writers[name]):
                    mine = members[deal == file]
                    for block in np.array_split(mine, -(-mine.size // block_rows)) if mine.size else []:
                        matrix = encode_clean(rows.iloc[block], preprocessor)
                        writer.write(labels[block], matrix, problem != REGRESSION)
                written[name] += int(members.size)
    finally:
        for split in writers.values():
            for writer in split:
                writer.close()
    if train_files > 1:
        fill_empty_files(writers["train"])
        log.info("%s train files: %s rows", host, [writer.rows for writer in writers["train"]])
    return written


# --- the run ---------------------------------------------------------------------------------------------


def write_preprocessor(output_dir: Path, preprocessor: dict[str, Any], baseline: pd.DataFrame) -> None:
    write_json(output_dir / "preprocessor" / PREPROCESSOR_FILE, preprocessor)
    path = output_dir / "baseline" / "baseline.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    baseline.to_csv(path, index=False)


def log_summary(preprocessor: dict[str, Any]) -> None:
    kinds = [f["type"] for f in preprocessor["features"]]
    rows = preprocessor["rows"]
    log.info(
        "preprocessed %d rows: train=%d validation=%d test=%d; %d numeric and %d categorical features -> %d columns",
        sum(rows.values()),
        rows["train"],
        rows["validation"],
        rows["test"],
        kinds.count("numeric"),
        kinds.count("categorical"),
        len(preprocessor["encoded_feature_names"]),
    )
    if preprocessor["problem_type"] in (BINARY, MULTICLASS):
        log.info("training class counts: %s", preprocessor["train_class_counts"])


def preprocess(
    config: dict[str, Any],
    data_dir: Path,
    output_dir: Path,
    seed: int,
    stage: str = "all",
    statistics_dir: Path | None = None,
    hosts: tuple[str, list[str]] = ("algo-1", ["algo-1"]),
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    baseline_rows: int = DEFAULT_BASELINE_ROWS,
    train_files: int = 1,
) -> dict[str, Any] | None:
    host, every_host = hosts
    started, cpu_started = time.monotonic(), time.process_time()
    files = input_files(data_dir)
    columns = header_columns(files, data_dir)
    if stage == "statistics":
        partial = scan(files, data_dir, columns, config, seed, chunk_rows, baseline_rows=baseline_rows)
        partial.save(output_dir / "statistics", host)
        log_stage(log, "preprocess", "statistics", partial.rows, started, cpu_started)
        log.info("statistics of %d rows written for %s", partial.rows, host)
        log_throughput(log, "preprocess", "rows", partial.rows, time.monotonic() - started, rows=partial.rows)
        return None
    if stage == "encode":
        assert statistics_dir is not None
        partials = []
        for name in every_host:
            if not (statistics_dir / f"{name}.json").is_file():
                raise JobInputError(f"no statistics of {name} in {statistics_dir}; run --stage statistics first")
            partials.append(Partial.load(statistics_dir, name))
        partial = merge(partials)
        log_stage(log, "preprocess", "merge", partial.rows, started, cpu_started)
    else:
        partial = scan(files, data_dir, columns, config, seed, chunk_rows, baseline_rows=baseline_rows)
        log_stage(log, "preprocess", "statistics", partial.rows, started, cpu_started)
    preprocessor, baseline, index = finish(partial, config, seed)
    if train_files > 1 and preprocessor["rows"]["train"] < train_files:
        raise JobInputError(
            f"the train split has {preprocessor['rows']['train']} rows, fewer than the {train_files} training "
            "instances (training.instance_count) that each need one: upload more data or lower instance_count"
        )
    first_host = host == every_host[0]
    if first_host:
        write_preprocessor(output_dir, preprocessor, baseline)
    encode_started, encode_cpu_started = time.monotonic(), time.process_time()
    written = write_shards(
        files,
        data_dir,
        columns,
        config,
        seed,
        chunk_rows,
        preprocessor,
        index,
        output_dir,
        host,
        first_host,
        train_files,
    )
    log.info("%s wrote %s", host, written)
    rows = sum(written.values())
    log_stage(log, "preprocess", "encode", rows, encode_started, encode_cpu_started)
    log_throughput(log, "preprocess", "rows", rows, time.monotonic() - started, rows=rows, **written)
    log_summary(preprocessor)
    return preprocessor


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    steady_allocator()  # flat memory past the first chunks (see _common.steady_allocator)
    try:
        # sharded stages run on several instances: they refuse to guess which one this is (_common.sharded_host)
        hosts = sharded_host(Path(args.resource_config), args.stage) if args.stage != "all" else ("algo-1", ["algo-1"])
        config = load_config(Path(args.config))
        seed = args.seed if args.seed is not None else int(config.get("seed", DEFAULT_SEED))
        preprocess(
            config,
            Path(args.data_dir),
            Path(args.output_dir),
            seed,
            stage=args.stage,
            statistics_dir=Path(args.statistics_dir) if args.statistics_dir else None,
            hosts=hosts,
            chunk_rows=args.chunk_rows,
            baseline_rows=args.baseline_rows,
            train_files=args.train_files,
        )
    except JobInputError as exc:
        return job_failed(f"preprocessing failed: {exc}", args.exit_message, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
