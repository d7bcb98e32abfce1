"""Processing job: clean and encode the uploaded CSVs, split them, and write the serving preprocessor.

Inputs: every *.csv below --data-dir (header row each) and the resolved model config (--config).
Outputs below --output-dir: train/train.csv, validation/validation.csv, test/test.csv (encoded, no
header, label first), preprocessor/preprocessor.json and baseline/baseline.csv (raw training features).
See docs/internals.md, "Job scripts".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    BINARY,
    MULTICLASS,
    PREPROCESSOR_FILE,
    PREPROCESSOR_FORMAT_VERSION,
    PROBLEM_TYPES,
    REGRESSION,
    JobInputError,
    clean_column,
    encode_frame,
    encoded_names,
    job_failed,
    setup_logging,
    to_numbers,
    write_json,
)

log = setup_logging()

NUMERIC_SHARE = 0.95  # a column is numeric when at least this share of its non-missing values parse
MAX_CATEGORIES = 100  # per categorical column; rarer values encode as unseen (all zeros)
POSITIVE_WORDS = ("yes", "1", "true", "y", "t", "positive", "pos")
DEFAULT_SEED = 42


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--config", default="/opt/ml/processing/input/config/config.json")
    parser.add_argument("--data-dir", default="/opt/ml/processing/input/data")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output")
    parser.add_argument("--seed", type=int, default=None, help=f"default: the config's seed, else {DEFAULT_SEED}")
    parser.add_argument("--exit-message", help="where to explain a failure (SageMaker: /opt/ml/output/message)")
    return parser.parse_args(argv)


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


def read_raw(data_dir: Path) -> pd.DataFrame:
    """Every CSV below data_dir, cleaned: stripped strings, None for missing values."""
    files = sorted(p for p in data_dir.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise JobInputError(f"no *.csv files below {data_dir}; upload CSVs with a header row")
    frames = []
    for file in files:
        try:
            frame = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            # The upload checks read every file; this names the one that still breaks the run, and
            # pandas' own words (line and field counts, a byte position), never the file's content.
            reason = f"not UTF-8 text at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else str(exc)
            raise JobInputError(f"{file.relative_to(data_dir)}: {reason.strip()}; fix or remove the file") from exc
        frame.columns = [str(c).strip() for c in frame.columns]
        frames.append(frame)
        log.info("read %s: %d rows, %d columns", file.name, len(frame), frame.shape[1])
    columns: list[str] = []
    for frame in frames:
        columns.extend(c for c in frame.columns if c not in columns)
        if list(frame.columns) != list(frames[0].columns):
            log.warning("the CSV files have different columns; absent columns are treated as missing")
    cleaned = [
        pd.DataFrame({c: clean_column(f[c]) if c in f.columns else [None] * len(f) for c in columns}, dtype=object)
        for f in frames
    ]
    return pd.concat(cleaned, ignore_index=True)


def infer_type(values: pd.Series) -> str:
    present = [v for v in values.tolist() if v is not None]
    if not present:
        return "categorical"
    parsed = np.count_nonzero(~np.isnan(to_numbers(present)))
    return "numeric" if parsed >= NUMERIC_SHARE * len(present) else "categorical"


def resolve_features(data: pd.DataFrame, config: dict[str, Any]) -> list[tuple[str, str]]:
    target = config["target"]
    dropped = set(config.get("drop_columns") or [])
    declared = config.get("features")
    if declared:
        specs = [(str(f["name"]), str(f["type"])) for f in declared if f["name"] not in dropped]
        absent = [name for name, _ in specs if name not in data.columns]
        if absent:
            raise JobInputError(
                f"the data has no column(s) {', '.join(absent)} that the config's features name; "
                "fix the CSV header or the features list"
            )
        bad = [name for name, kind in specs if kind not in ("numeric", "categorical")]
        if bad:
            raise JobInputError(f"features {', '.join(bad)}: type must be numeric or categorical")
        return specs
    names = [c for c in data.columns if c != target and c not in dropped]
    return [(name, infer_type(data[name])) for name in names]


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


def encode_target(values: pd.Series, config: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Labels as numbers, and what the preprocessor records about the target."""
    problem = config["problem_type"]
    if problem == REGRESSION:
        numbers = to_numbers(values.tolist())
        if np.isnan(numbers).all():
            raise JobInputError(f"target '{config['target']}' has no numeric values; regression needs numbers")
        return numbers, {"classes": None, "positive_class": None}
    observed = sorted({str(v) for v in values.tolist()})
    if len(observed) < 2:
        raise JobInputError(
            f"target '{config['target']}' has a single value; classification needs at least two classes"
        )
    if problem == BINARY:
        positive = positive_class(observed, config.get("positive_class"))
        others = [c for c in observed if c != positive]
        if len(others) > 1 and config.get("positive_class") is None:
            raise JobInputError(
                f"target '{config['target']}' has {len(observed)} values; "
                "binary_classification needs two, or set positive_class to treat the rest as negative"
            )
        negative = others[0] if len(others) == 1 else f"not {positive}"
        labels = np.array([1.0 if v == positive else 0.0 for v in values.tolist()])
        return labels, {"classes": [negative, positive], "positive_class": positive}
    index = {c: i for i, c in enumerate(observed)}
    labels = np.array([float(index[str(v)]) for v in values.tolist()])
    return labels, {"classes": observed, "positive_class": None}


def carve(indices: np.ndarray, size: int, strata: np.ndarray | None, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Take the `size` rows of `indices` with the smallest keys: (kept, taken). With strata, each class
    gives its share. Keys are hashes of the rows' content, so as data accumulates run after run a row
    stays on its side of the split (only rows at the boundary can move): a later run never tests the
    production model on rows it was trained on."""
    if size == 0:
        return indices, indices[:0]
    if strata is None:
        ordered = indices[np.argsort(keys[indices], kind="stable")]
        return ordered[size:], ordered[:size]
    classes, counts = np.unique(strata[indices], return_counts=True)
    exact = counts * size / len(indices)
    shares = np.floor(exact).astype(int)
    for k in np.argsort(-(exact - shares), kind="stable")[: size - shares.sum()]:
        shares[k] += 1  # largest remainders, so the shares add up to `size`
    kept, taken = [], []
    for value, share in zip(classes, shares):  # noqa: B905 - same length by construction
        members = indices[strata[indices] == value]
        members = members[np.argsort(keys[members], kind="stable")]
        taken.append(members[:share])
        kept.append(members[share:])
    return np.concatenate(kept), np.concatenate(taken)


def row_keys(data: pd.DataFrame, seed: int) -> np.ndarray:
    """A stable pseudo-random key per row from its content and the seed (equal rows get equal keys)."""
    return pd.util.hash_pandas_object(data, index=False, hash_key=f"{seed:016d}"[-16:]).to_numpy()


def split_indices(
    labels: np.ndarray, config: dict[str, Any], seed: int, keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) row indices chosen by row key; stratified by class for classification."""
    split = config.get("split") or {}
    rows = len(labels)
    test_rows = int(round(rows * float(split.get("test_fraction", 0.15))))
    validation_rows = int(round(rows * float(split.get("validation_fraction", 0.15))))
    if rows - test_rows - validation_rows < 1:
        raise JobInputError(f"only {rows} labelled rows: too few to split into train, validation and test")
    strata = labels if config["problem_type"] != REGRESSION else None
    rest, test = carve(np.arange(rows), test_rows, strata, keys)
    # validation comes from the other end of the key order, so it never eats into test's side
    train, validation = carve(rest, validation_rows, strata, np.iinfo(np.uint64).max - keys)
    rng = np.random.default_rng(seed)  # training order only: membership is fixed by the keys
    return rng.permutation(train), rng.permutation(validation), rng.permutation(test)


def fit_features(train: pd.DataFrame, specs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = []
    for name, kind in specs:
        values = train[name].tolist()
        if kind == "numeric":
            numbers = to_numbers(values)
            known = numbers[~np.isnan(numbers)]
            median = float(np.median(known)) if known.size else 0.0
            features.append({"name": name, "type": "numeric", "impute_value": median})
            continue
        counts = pd.Series([v for v in values if v is not None], dtype=object).value_counts()
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        if len(ranked) > MAX_CATEGORIES:
            log.warning("%s has %d categories; keeping the %d most frequent", name, len(ranked), MAX_CATEGORIES)
        categories = sorted(str(category) for category, _ in ranked[:MAX_CATEGORIES])
        features.append({"name": name, "type": "categorical", "categories": categories})
    return features


def write_split(path: Path, labels: np.ndarray, matrix: np.ndarray, integer_labels: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(matrix)
    frame.insert(0, "label", labels.astype(int) if integer_labels else labels)
    frame.to_csv(path, header=False, index=False, float_format="%.12g")


def preprocess(config: dict[str, Any], data_dir: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    target = config["target"]
    data = read_raw(data_dir)
    if target not in data.columns:
        raise JobInputError(f"the data has no target column '{target}' (it has {len(data.columns)} columns)")
    data = data[data[target].notna()].reset_index(drop=True)
    labels, target_info = encode_target(data[target], config)
    usable = ~np.isnan(labels)
    if not usable.all():
        log.warning("dropping %d rows whose target is not a number", int((~usable).sum()))
        data, labels = data[usable].reset_index(drop=True), labels[usable]
    if len(data) == 0:
        raise JobInputError(f"no rows have a value for the target '{target}'")

    specs = resolve_features(data, config)
    if not specs:
        raise JobInputError("no feature columns are left after removing the target and drop_columns")
    train_idx, validation_idx, test_idx = split_indices(labels, config, seed, row_keys(data, seed))
    features = fit_features(data.iloc[train_idx], specs)
    problem = config["problem_type"]
    classes = target_info["classes"]
    train_labels = labels[train_idx]
    preprocessor: dict[str, Any] = {
        "format_version": PREPROCESSOR_FORMAT_VERSION,
        "model": config.get("name"),
        "problem_type": problem,
        "target": target,
        "features": features,
        "feature_names": [f["name"] for f in features],
        "encoded_feature_names": encoded_names(features),
        "classes": classes,
        "positive_class": target_info["positive_class"],
        "train_class_counts": ({c: int(np.sum(train_labels == i)) for i, c in enumerate(classes)} if classes else None),
        "train_target_mean": float(np.mean(train_labels)) if problem == REGRESSION else None,
        "rows": {"train": len(train_idx), "validation": len(validation_idx), "test": len(test_idx)},
        "seed": seed,
    }

    for split, indices in (("train", train_idx), ("validation", validation_idx), ("test", test_idx)):
        matrix = encode_frame(data.iloc[indices], preprocessor)
        write_split(output_dir / split / f"{split}.csv", labels[indices], matrix, problem != REGRESSION)
    write_json(output_dir / "preprocessor" / PREPROCESSOR_FILE, preprocessor)
    baseline = output_dir / "baseline" / "baseline.csv"
    baseline.parent.mkdir(parents=True, exist_ok=True)
    data.iloc[train_idx][preprocessor["feature_names"]].to_csv(baseline, index=False)

    kinds = [f["type"] for f in features]
    log.info(
        "preprocessed %d rows: train=%d validation=%d test=%d; %d numeric and %d categorical features -> %d columns",
        len(data),
        len(train_idx),
        len(validation_idx),
        len(test_idx),
        kinds.count("numeric"),
        kinds.count("categorical"),
        len(preprocessor["encoded_feature_names"]),
    )
    if problem in (BINARY, MULTICLASS):
        log.info("training class counts: %s", preprocessor["train_class_counts"])
    return preprocessor


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(Path(args.config))
        seed = args.seed if args.seed is not None else int(config.get("seed", DEFAULT_SEED))
        preprocess(config, Path(args.data_dir), Path(args.output_dir), seed)
    except JobInputError as exc:
        return job_failed(f"preprocessing failed: {exc}", args.exit_message, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
