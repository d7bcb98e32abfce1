"""Processing job: score the candidate model, a trivial baseline and (if given) production on the test set.

Inputs: --model (candidate model.tar.gz), --test (the test split: encoded CSV shards, no header, label first;
the path of a shard or of their directory: every *.csv shard beside or below it is read, --chunk-rows rows at a
time, so memory holds the predictions, never the whole encoded test matrix),
--production (production model.tar.gz; absent = first model). Output: --output-dir/evaluation.json
{"problem_type", "test_rows", "metrics", "baseline_metrics", "production_metrics"}.
See docs/internals.md, "Job scripts".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import (
    BINARY,
    REGRESSION,
    JobInputError,
    LoadedModel,
    csv_files,
    decode_matrix,
    encode_frame,
    extract_archive,
    finite_or_none,
    job_failed,
    load_model_dir,
    log_stage,
    setup_logging,
    write_json,
)

log = setup_logging()

DEFAULT_CHUNK_ROWS = 20_000  # test rows scored at a time: about 25 MB of parsed and encoded rows (bench/scale.py)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--model", default="/opt/ml/processing/input/model/model.tar.gz")
    parser.add_argument("--test", default="/opt/ml/processing/input/test/test.csv")
    parser.add_argument("--production", default="/opt/ml/processing/input/production/model.tar.gz")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output/evaluation")
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="test rows scored at a time")
    parser.add_argument("--exit-message", help="where to explain a failure (SageMaker: /opt/ml/output/message)")
    return parser.parse_args(argv)


def locate(path: Path) -> Path | None:
    """The input at `path`; for a missing file, its directory if that holds anything (S3 prefix inputs)."""
    if path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*"))):
        return path
    if path.suffix and path.parent.is_dir() and any(p.is_file() for p in path.parent.rglob("*")):
        return path.parent
    return None


def open_model(path: Path, workdir: Path) -> LoadedModel:
    """A model from a model.tar.gz, a directory holding one, or an extracted model directory."""
    found = locate(path)
    if found is None:
        raise JobInputError(f"no model at {path}; expected the training job's model.tar.gz")
    if found.is_dir():
        archives = sorted(found.rglob("model.tar.gz"))
        if not archives:
            return load_model_dir(found)
        found = archives[0]
    return load_model_dir(extract_archive(found, workdir))


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve, as sklearn.metrics.roc_auc_score computes it; None without both classes.

    The Mann-Whitney U statistic over average ranks (tied scores share their mean rank, so a tie between a
    positive and a negative counts half): the probability that a random positive outscores a random negative.
    """
    positive = positive.astype(bool)
    positives = int(positive.sum())
    negatives = positive.size - positives
    if positives == 0 or negatives == 0:
        return None
    _, group, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based ranks, averaged within each tie
    rank_sum = float(mean_rank[group.reshape(-1)][positive].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def f1(labels: np.ndarray, predicted: np.ndarray, label: int) -> float:
    """F1 of one class, 2TP / (2TP + FP + FN); 0 when the class is neither present nor predicted."""
    true_positives = int(np.sum((predicted == label) & (labels == label)))
    wrong = int(np.sum((predicted == label) != (labels == label)))
    denominator = 2 * true_positives + wrong
    return 2 * true_positives / denominator if denominator else 0.0


def classification_metrics(labels: np.ndarray, scores: np.ndarray, binary: bool) -> dict[str, Any]:
    """AUC, accuracy and F1 in numpy: the figures of sklearn.metrics' roc_auc_score, accuracy_score and f1_score
    (binary F1 of class 1; multiclass: macro F1 over the classes present or predicted, one-vs-rest AUC over the
    classes seen in the test set, zero_division=0), without importing scikit-learn for three formulas."""
    y = labels.astype(int)
    if binary:
        predicted = (scores >= 0.5).astype(int)
        auc = roc_auc(y == 1, scores) if len(np.unique(y)) == 2 else None
        f1_score = f1(y, predicted, 1)
    else:
        predicted = scores.argmax(axis=1)
        f1_score = float(np.mean([f1(y, predicted, int(k)) for k in np.union1d(y, predicted)]))
        per_class = [roc_auc(y == k, scores[:, k]) for k in range(scores.shape[1]) if 0 < np.sum(y == k) < len(y)]
        auc = float(np.mean(per_class)) if per_class else None  # one-vs-rest, classes seen in the test set
    return {
        "auc": finite_or_none(auc),
        "accuracy": finite_or_none(np.mean(y == predicted)),
        "f1": finite_or_none(f1_score),
    }


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    errors = predictions - labels
    variance = float(np.sum((labels - labels.mean()) ** 2))
    r2 = 1.0 - float(np.sum(errors**2)) / variance if variance > 0 else None
    return {
        "rmse": finite_or_none(np.sqrt(np.mean(errors**2))),
        "mae": finite_or_none(np.mean(np.abs(errors))),
        "r2": finite_or_none(r2),
    }


def score(problem: str, labels: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    if problem == REGRESSION:
        return regression_metrics(labels, predictions)
    return classification_metrics(labels, predictions, binary=problem == BINARY)


def baseline_predictions(model: LoadedModel, labels: np.ndarray) -> np.ndarray:
    """The trivial predictor: training class priors (so the majority class), or the training mean.

    Falls back to the test labels' priors or mean when preprocessor.json lacks the training figures.
    """
    pre = model.preprocessor
    rows = len(labels)
    if model.problem_type == REGRESSION:
        mean = pre.get("train_target_mean")
        return np.full(rows, float(mean) if mean is not None else float(np.mean(labels)))
    classes = model.classes
    counts = pre.get("train_class_counts") or {}
    priors = np.array([float(counts.get(c, 0)) for c in classes])
    if priors.sum() <= 0:
        priors = np.bincount(labels.astype(int), minlength=len(classes)).astype(float)
    priors = priors / priors.sum()
    if model.problem_type == BINARY:
        return np.full(rows, priors[1])
    return np.tile(priors, (rows, 1))


def production_predictions(production: LoadedModel, candidate: LoadedModel, matrix: np.ndarray) -> np.ndarray | None:
    """Production's predictions on the candidate's test set, in the candidate's label space.

    When the two models encode features differently (a new category, another feature list), the test
    rows are decoded with the candidate's preprocessor and re-encoded with production's.
    """
    if production.problem_type != candidate.problem_type:
        log.warning("production is a %s model; not comparable", production.problem_type)
        return None
    if production.preprocessor["encoded_feature_names"] != candidate.preprocessor["encoded_feature_names"]:
        log.info("production encodes features differently; re-encoding the test rows for it")
        matrix = encode_frame(decode_matrix(matrix, candidate.preprocessor), production.preprocessor)
    predictions = production.predict_encoded(matrix)
    if candidate.problem_type == REGRESSION:
        return predictions
    if candidate.problem_type == BINARY:
        if production.classes == candidate.classes:
            return predictions
        if production.classes == candidate.classes[::-1]:
            return 1.0 - predictions
        log.warning("production's classes %s differ from the candidate's %s", production.classes, candidate.classes)
        return None
    aligned = np.zeros((len(matrix), len(candidate.classes)))
    for k, name in enumerate(candidate.classes):
        if name in production.classes:
            aligned[:, k] = predictions[:, production.classes.index(name)]
    return aligned


def test_chunks(test_path: Path, chunk_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(labels, encoded matrix) chunks of the test split: every CSV shard of the directory (or beside the file)."""
    found = locate(test_path) or test_path
    for file in csv_files(found.parent if found.is_file() else found):
        try:
            for chunk in pd.read_csv(file, header=None, dtype=float, chunksize=chunk_rows):
                data = chunk.to_numpy(dtype=float)
                # a copy: a view of the labels column would keep the whole chunk alive as long as the labels
                yield data[:, 0].copy(), data[:, 1:]
        except pd.errors.EmptyDataError:
            continue


def evaluate(
    model_path: Path, test_path: Path, production: Path | None, workdir: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> dict[str, Any]:
    started, cpu_started = time.monotonic(), time.process_time()
    candidate = open_model(model_path, workdir / "candidate")
    other = open_model(production, workdir / "production") if production is not None else None
    labels_seen: list[np.ndarray] = []
    candidate_seen: list[np.ndarray] = []
    production_seen: list[np.ndarray] | None = [] if other is not None else None
    for labels, matrix in test_chunks(test_path, chunk_rows):
        if matrix.shape[1] != candidate.encoded_width:
            raise JobInputError(
                f"the test set has {matrix.shape[1]} feature columns but the model's preprocessor.json describes "
                f"{candidate.encoded_width}; were they produced by the same run?"
            )
        labels_seen.append(labels)
        candidate_seen.append(candidate.predict_encoded(matrix))
        if other is not None and production_seen is not None:
            predictions = production_predictions(other, candidate, matrix)
            production_seen = None if predictions is None else [*production_seen, predictions]
            other = other if predictions is not None else None
    if not labels_seen:
        raise JobInputError(f"the test set {test_path} has no rows")
    labels = np.concatenate(labels_seen)
    problem = candidate.problem_type
    result: dict[str, Any] = {
        "problem_type": problem,
        "test_rows": int(labels.size),
        "metrics": score(problem, labels, np.concatenate(candidate_seen)),
        "baseline_metrics": score(problem, labels, baseline_predictions(candidate, labels)),
        "production_metrics": None,
    }
    if production_seen:
        result["production_metrics"] = score(problem, labels, np.concatenate(production_seen))
    for name in ("metrics", "baseline_metrics", "production_metrics"):
        if result[name] is not None:
            figures = " ".join(f"{k}={v:.6f}" for k, v in result[name].items() if v is not None)
            log.info("%s %s", name, figures)
    log_stage(log, "evaluate", "evaluate", int(labels.size), started, cpu_started)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    production = locate(Path(args.production))
    if production is None:
        log.info("no production model: first model for this name")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            result = evaluate(Path(args.model), Path(args.test), production, Path(workdir), args.chunk_rows)
    except JobInputError as exc:
        return job_failed(f"evaluation failed: {exc}", args.exit_message, log)
    write_json(Path(args.output_dir) / "evaluation.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
