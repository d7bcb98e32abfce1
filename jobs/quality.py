"""Processing job (scikit-learn image): model quality of the production model against delayed ground truth.

Inputs: --capture-dir (the endpoint's data capture of one window: records with eventMetadata.inferenceId
and captureData.endpointOutput), --labels-dir (labels/<model>/*.csv: a header `inference_id,<target>`,
then one row per labelled prediction), --evaluation (the production run's evaluation.json: its test
metrics are the reference), --preprocessor-dir (preprocessor.json: the classes and the positive class),
--config (the model config: problem_type, target, monitoring.quality).

The captured predictions of the window are joined with the labels by inference id. A record without an
inference id, or one that answered more than one row (a single id cannot name several rows), cannot be
joined and is counted as such. A prediction with an id whose label has not arrived is counted as missing:
never guessed, never scored. Once at least `min_labels` predictions are labelled, the metrics of the
problem type (AUC, accuracy, F1; or RMSE, MAE) are computed with evaluate.py's formulas and compared with
the evaluation's test values: a score may fall `max_score_drop` (absolute) below it, an error may rise
`max_error_increase` (a fraction) above it.

Outputs in --output-dir, in SageMaker Model Monitor's model-quality format: statistics.json
(`<problem>_metrics` with value and standard_deviation per metric, and a confusion matrix for
classification), constraints.json (`<problem>_constraints`: threshold and comparison_operator per metric)
and constraint_violations.json (`{"violations": [{"metric_name", "constraint_check_type", "description"}]}`);
plus Driftline's quality_summary.json (counts of predictions, labelled, missing, unjoinable, metrics, the
reference, whether the window was judged) with the same per production variant under `variants`: SageMaker's
data capture names the variant in the object's path (`<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`), not in
the record, so the variant is the folder above the hour folders. Each variant also carries the sufficient
statistics of the A/B test on quality (driftline.ab_test): `correct` of `labelled` (classification), or the
absolute errors' n, mean and variance (regression). See docs/internals.md, "Model quality".
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from _common import BINARY, MULTICLASS, REGRESSION, JobInputError, clean_value, job_failed, setup_logging, write_json
from evaluate import classification_metrics, f1, regression_metrics
from monitor_capture import MalformedRecord, body_text, capture_files, utc_time

log = setup_logging()

SCORES = ("auc", "accuracy", "f1")  # higher is better
ERRORS = ("rmse", "mae")  # lower is better
BOOTSTRAP_ROUNDS = 20  # resamples for a metric's standard_deviation (Model Monitor reports one per metric)
BOOTSTRAP_ROWS = 20_000
ID_COLUMN = "inference_id"


class Settings(NamedTuple):
    problem_type: str
    target: str
    min_labels: int
    max_score_drop: float
    max_error_increase: float


class Prediction(NamedTuple):
    inference_id: str
    score: float | None  # binary: P(positive); regression: the value
    label: str | None  # classification: the predicted class
    probabilities: list[float] | None  # multiclass, in the classes' order (JSON answers only)
    variant: str | None = None  # the production variant that answered (from the capture file's path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--capture-dir", default="/opt/ml/processing/input/endpoint")
    parser.add_argument("--labels-dir", default="/opt/ml/processing/input/labels")
    parser.add_argument("--evaluation", default="/opt/ml/processing/input/evaluation/evaluation.json")
    parser.add_argument("--preprocessor-dir", default="/opt/ml/processing/input/preprocessor")
    parser.add_argument("--config", default="/opt/ml/processing/input/config/config.json")
    parser.add_argument("--output-dir", default="/opt/ml/processing/output/report")
    parser.add_argument("--window-start", help="ISO time: predictions captured from then on are judged")
    parser.add_argument("--window-end", help="ISO time: predictions captured before then are judged")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exit-message", help="where to explain a failure (SageMaker: /opt/ml/output/message)")
    return parser.parse_args(argv)


def _read_json(path: Path, what: str) -> Any:
    if path.is_dir():
        found = sorted(path.rglob("*.json"))
        if not found:
            raise JobInputError(f"no {what} under {path}")
        path = found[0]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise JobInputError(f"cannot read the {what} {path}: {exc}") from exc


def load_settings(path: Path) -> Settings:
    config = _read_json(path, "model config")
    if not isinstance(config, dict) or config.get("problem_type") not in (BINARY, MULTICLASS, REGRESSION):
        raise JobInputError(f"{path}: not a model config with a problem_type")
    quality = (config.get("monitoring") or {}).get("quality") or {}
    try:
        return Settings(
            problem_type=str(config["problem_type"]),
            target=str(config["target"]),
            min_labels=int(quality.get("min_labels", 100)),
            max_score_drop=float(quality.get("max_score_drop", 0.05)),
            max_error_increase=float(quality.get("max_error_increase", 0.2)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JobInputError(f"{path}: monitoring.quality has a value of the wrong type ({exc})") from exc


# --- captured predictions ---------------------------------------------------------------------------


def output_predictions(output: dict[str, Any], problem: str, classes: list[str]) -> list[Prediction]:
    """The predictions an endpointOutput holds (inference.py's JSON or CSV answer), without their id yet."""
    text = body_text(output.get("data"), str(output.get("encoding") or "").upper())
    media = str(output.get("observedContentType") or "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            items = json.loads(text).get("predictions")
        except (ValueError, AttributeError) as exc:
            raise MalformedRecord("bad_output", f"the answer is not inference.py's JSON ({exc})") from exc
        if not isinstance(items, list):
            raise MalformedRecord("bad_output", 'the JSON answer has no "predictions" list')
        return [_json_prediction(item, problem, classes) for item in items]
    if media == "text/csv":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return [_csv_prediction(line, problem) for line in lines]
    raise MalformedRecord("bad_output", f"answer content type {media!r} is neither JSON nor CSV")


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise MalformedRecord("bad_output", f"{value!r} is not a number") from exc
    if not math.isfinite(number):
        raise MalformedRecord("bad_output", f"{value!r} is not a finite number")
    return number


def _json_prediction(item: Any, problem: str, classes: list[str]) -> Prediction:
    if not isinstance(item, dict):
        raise MalformedRecord("bad_output", "a prediction is not an object")
    if problem == REGRESSION:
        return Prediction("", _number(item.get("value")), None, None)
    label = clean_value(item.get("label"))
    if problem == BINARY:
        return Prediction("", _number(item.get("score")), label, None)
    probabilities = item.get("probabilities")
    vector = [_number(probabilities.get(name, 0.0)) for name in classes] if isinstance(probabilities, dict) else None
    return Prediction("", None, label, vector)


def _csv_prediction(line: str, problem: str) -> Prediction:
    if problem == MULTICLASS:
        return Prediction("", None, clean_value(line), None)
    return Prediction("", _number(line), None, None)


def capture_variant(path: Path) -> str | None:
    """The variant of a capture file at `.../<variant>/yyyy/mm/dd/hh/<file>.jsonl` (SageMaker's layout), else None."""
    parts = path.parts
    if len(parts) < 6:
        return None
    hour = parts[-5:-1]
    if all(part.isdigit() for part in hour) and [len(part) for part in hour] == [4, 2, 2, 2]:
        return parts[-6]
    return None


class Captured(NamedTuple):
    predictions: list[Prediction]
    records: int
    unjoinable: Counter[str]


def read_captured(capture_dir: Path, problem: str, classes: list[str], span: tuple[str | None, str | None]) -> Captured:
    """The window's captured predictions that carry an inference id; the rest counted by reason."""
    start = utc_time(span[0]) if span[0] else None
    end = utc_time(span[1]) if span[1] else None
    predictions: list[Prediction] = []
    unjoinable: Counter[str] = Counter()
    records = 0
    for path in capture_files(capture_dir, start, end):
        variant = capture_variant(path)
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                records += 1
                try:
                    record = json.loads(line)
                    metadata = record.get("eventMetadata") or {}
                    output = (record.get("captureData") or {}).get("endpointOutput")
                except (ValueError, AttributeError):
                    unjoinable["bad_json_line"] += 1
                    continue
                inference_id = metadata.get("inferenceId")
                if not inference_id:
                    unjoinable["no_inference_id"] += 1
                    continue
                if not isinstance(output, dict):
                    unjoinable["no_output_captured"] += 1
                    continue
                try:
                    answered = output_predictions(output, problem, classes)
                except MalformedRecord as error:
                    unjoinable[error.reason] += 1
                    continue
                if len(answered) != 1:
                    unjoinable["several_rows_one_id"] += 1
                    continue
                predictions.append(answered[0]._replace(inference_id=str(inference_id), variant=variant))
    return Captured(predictions, records, unjoinable)


# --- labels -----------------------------------------------------------------------------------------


class Labels(NamedTuple):
    by_id: dict[str, str]
    files: int
    conflicts: int  # ids labelled differently by two files (the later file, by name, wins)
    skipped_files: list[str]


def read_labels(labels_dir: Path, target: str) -> Labels:
    """Every label file's `inference_id,<target>` rows; files were checked at upload (on_labels_uploaded)."""
    by_id: dict[str, str] = {}
    conflicts = 0
    files = 0
    skipped: list[str] = []
    paths = sorted(labels_dir.rglob("*.csv")) if labels_dir.is_dir() else []
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [cell.strip() for cell in next(reader, [])]
            if header != [ID_COLUMN, target]:
                skipped.append(path.name)
                continue
            files += 1
            for row in reader:
                if len(row) != 2 or not row[0].strip():
                    continue
                label = clean_value(row[1])
                if label is None:
                    continue
                key = row[0].strip()
                if key in by_id and by_id[key] != label:
                    conflicts += 1
                by_id[key] = label
    if skipped:
        log.warning("label files without the header %s,%s were skipped: %s", ID_COLUMN, target, skipped[:5])
    return Labels(by_id, files, conflicts, skipped)


# --- metrics ----------------------------------------------------------------------------------------


def score_joined(problem: str, classes: list[str], joined: list[tuple[Prediction, str]]) -> tuple[dict[str, Any], int]:
    """(metrics, labels of classes the model does not know). Classification labels are class names."""
    if problem == REGRESSION:
        values = [(p.score, _as_float(label)) for p, label in joined]
        kept = [(s, y) for s, y in values if y is not None and s is not None]
        truth = np.array([y for _, y in kept], dtype=float)
        predicted = np.array([s for s, _ in kept], dtype=float)
        return (regression_metrics(truth, predicted) if kept else {}), len(values) - len(kept)
    index = {name: k for k, name in enumerate(classes)}
    known = [(p, index[label]) for p, label in joined if label in index]
    unknown = len(joined) - len(known)
    if not known:
        return {}, unknown
    truth = np.array([y for _, y in known], dtype=int)
    if problem == BINARY:
        scores = np.array([p.score for p, _ in known], dtype=float)
        return classification_metrics(truth, scores, binary=True), unknown
    if all(p.probabilities is not None for p, _ in known):
        matrix = np.array([p.probabilities for p, _ in known], dtype=float)
        return classification_metrics(truth, matrix, binary=False), unknown
    # CSV answers name the class only: accuracy and macro F1, no AUC without probabilities
    predicted = np.array([index.get(p.label or "", -1) for p, _ in known], dtype=int)
    macro = float(np.mean([f1(truth, predicted, int(k)) for k in np.union1d(truth, predicted[predicted >= 0])]))
    return {"auc": None, "accuracy": float(np.mean(truth == predicted)), "f1": macro}, unknown


def predicted_class(problem: str, classes: list[str], prediction: Prediction) -> str | None:
    """The class a prediction names: P(positive) >= 0.5 (evaluate.py's threshold), the most probable class, or the
    answered label."""
    if problem == BINARY:
        return classes[1] if (prediction.score or 0.0) >= 0.5 else classes[0]
    if prediction.probabilities is not None and len(prediction.probabilities) == len(classes):
        return classes[int(np.argmax(prediction.probabilities))]
    return prediction.label


def variant_outcomes(
    problem: str,
    classes: list[str],
    predictions: list[Prediction],
    joined: list[tuple[Prediction, str]],
    min_labels: int = 1,
) -> dict[str, dict[str, Any]]:
    """Per production variant: predictions, labelled, missing, metrics, and the A/B test's sufficient statistics
    (`correct` of `labelled` for classification; the absolute errors' n, mean and sample variance for regression)."""
    answered = Counter(p.variant for p in predictions if p.variant)
    outcomes: dict[str, dict[str, Any]] = {}
    for variant in sorted(answered):
        rows = [(p, label) for p, label in joined if p.variant == variant]
        metrics, unknown = score_joined(problem, classes, rows) if rows else ({}, 0)
        entry: dict[str, Any] = {
            "predictions_with_id": answered[variant],
            "labelled": len(rows) - unknown,
            "judged": len(rows) - unknown >= min_labels,
            "missing_labels": answered[variant] - len(rows),
            "metrics": metrics,
        }
        if problem == REGRESSION:
            errors = [
                abs(p.score - y) for p, label in rows if p.score is not None and (y := _as_float(label)) is not None
            ]
            mean = sum(errors) / len(errors) if errors else None
            variance = (
                sum((e - mean) ** 2 for e in errors) / (len(errors) - 1)
                if len(errors) > 1 and mean is not None
                else None
            )
            entry["absolute_error"] = {"n": len(errors), "mean": mean, "variance": variance}
        else:
            known = set(classes)
            entry["correct"] = sum(
                1 for p, label in rows if label in known and predicted_class(problem, classes, p) == label
            )
        outcomes[variant] = entry
    return outcomes


def _as_float(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def bootstrap_std(
    problem: str, classes: list[str], joined: list[tuple[Prediction, str]], seed: int
) -> dict[str, float | None]:
    """Each metric's standard deviation over resamples of the labelled predictions (Model Monitor reports one)."""
    rng = np.random.default_rng(seed)
    size = min(len(joined), BOOTSTRAP_ROWS)
    draws: dict[str, list[float]] = {}
    for _ in range(BOOTSTRAP_ROUNDS):
        sample = [joined[i] for i in rng.integers(0, len(joined), size)]
        for name, value in score_joined(problem, classes, sample)[0].items():
            if value is not None:
                draws.setdefault(name, []).append(float(value))
    return {name: float(np.std(values)) if len(values) > 1 else None for name, values in draws.items()}


def confusion_matrix(problem: str, classes: list[str], joined: list[tuple[Prediction, str]]) -> dict[str, Any]:
    """{actual class: {predicted class: count}}, as Model Monitor's statistics list it."""
    if problem == REGRESSION:
        return {}
    matrix: dict[str, Counter[str]] = {name: Counter() for name in classes}
    for prediction, label in joined:
        if label not in matrix:
            continue
        if problem == BINARY:
            predicted = classes[1] if (prediction.score or 0.0) >= 0.5 else classes[0]
        else:
            predicted = prediction.label or "?"
        matrix[label][predicted] += 1
    return {actual: {name: int(row.get(name, 0)) for name in classes} for actual, row in matrix.items()}


def constraints_for(reference: dict[str, Any], settings: Settings) -> dict[str, dict[str, Any]]:
    """Thresholds from the evaluation's test metrics: scores may drop, errors may rise, by the configured margin."""
    found: dict[str, dict[str, Any]] = {}
    for name in SCORES:
        value = reference.get(name)
        if value is not None:
            threshold = float(value) - settings.max_score_drop
            found[name] = {"threshold": threshold, "comparison_operator": "LessThanThreshold"}
    for name in ERRORS:
        value = reference.get(name)
        if value is not None:
            found[name] = {
                "threshold": float(value) * (1 + settings.max_error_increase),
                "comparison_operator": "GreaterThanThreshold",
            }
    return found


def violations_of(
    metrics: dict[str, Any], std: dict[str, float | None], constraints: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    found = []
    for name, constraint in constraints.items():
        value = metrics.get(name)
        if value is None:
            continue
        threshold, operator = constraint["threshold"], constraint["comparison_operator"]
        broken = value < threshold if operator == "LessThanThreshold" else value > threshold
        if broken:
            spread = f" +/- {std[name]:.4f}" if std.get(name) is not None else ""
            found.append(
                {
                    "metric_name": name,
                    "constraint_check_type": operator,
                    "description": f"Metric {name} with {value:.4f}{spread} was {operator} {threshold:.4f}",
                }
            )
    return found


# --- the job ----------------------------------------------------------------------------------------


def quality(
    capture_dir: Path,
    labels_dir: Path,
    evaluation_path: Path,
    preprocessor_dir: Path,
    config_path: Path,
    output_dir: Path,
    span: tuple[str | None, str | None] = (None, None),
    seed: int = 0,
) -> dict[str, Any]:
    settings = load_settings(config_path)
    problem = settings.problem_type
    evaluation = _read_json(evaluation_path, "evaluation (evaluation.json)")
    reference = evaluation.get("metrics") or {} if isinstance(evaluation, dict) else {}
    classes: list[str] = []
    if problem != REGRESSION:
        preprocessor = _read_json(preprocessor_dir, "preprocessor (preprocessor.json)")
        classes = [str(name) for name in preprocessor.get("classes") or []]
        if len(classes) < 2:
            raise JobInputError(f"preprocessor.json under {preprocessor_dir} lists no classes")
    captured = read_captured(capture_dir, problem, classes, span)
    labels = read_labels(labels_dir, settings.target)
    joined = [(p, labels.by_id[p.inference_id]) for p in captured.predictions if p.inference_id in labels.by_id]
    missing = len(captured.predictions) - len(joined)
    metrics, unknown = score_joined(problem, classes, joined) if joined else ({}, 0)
    scored = len(joined) - unknown
    judged = scored >= settings.min_labels
    std = bootstrap_std(problem, classes, joined, seed) if judged else {}
    constraints = constraints_for(reference, settings)
    violations = violations_of(metrics, std, constraints) if judged else []
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    kind = {BINARY: "binary_classification", MULTICLASS: "multiclass_classification", REGRESSION: "regression"}[problem]
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": scored, "evaluation_time": now, "start_time": span[0], "end_time": span[1]},
        f"{kind}_metrics": {
            **({"confusion_matrix": confusion_matrix(problem, classes, joined)} if problem != REGRESSION else {}),
            **{
                name: {"value": value, "standard_deviation": std.get(name)}
                for name, value in metrics.items()
                if value is not None
            },
        },
    }
    predictions = len(captured.predictions)
    summary = {
        "quality_judged": judged,
        "not_judged_reason": None
        if judged
        else f"{scored} labelled prediction(s) in the window, fewer than monitoring.quality.min_labels "
        f"({settings.min_labels}); labels may still arrive",
        "problem_type": problem,
        "window": {"start": span[0], "end": span[1]},
        "captured_records": captured.records,
        "predictions_with_id": predictions,
        "labelled": scored,
        "missing_labels": missing,
        "missing_label_share": round(missing / predictions, 6) if predictions else None,
        "labels_of_unknown_classes": unknown,
        "unjoinable_records": dict(captured.unjoinable),
        "label_files": labels.files,
        "label_files_skipped": labels.skipped_files,
        "conflicting_labels": labels.conflicts,
        "metrics": metrics,
        "reference_metrics": {name: reference.get(name) for name in constraints},
        "violations": [v["metric_name"] for v in violations],
        "variants": variant_outcomes(problem, classes, captured.predictions, joined, settings.min_labels),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / "statistics.json", statistics)
    write_json(output_dir / "constraints.json", {"version": 0.0, f"{kind}_constraints": constraints})
    write_json(output_dir / "constraint_violations.json", {"violations": violations})
    write_json(output_dir / "quality_summary.json", summary)
    log.info(
        "quality: %d predictions with an id, %d labelled, %d missing, judged=%s, metrics=%s, violations=%s",
        predictions,
        scored,
        missing,
        judged,
        metrics,
        summary["violations"],
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        quality(
            Path(args.capture_dir),
            Path(args.labels_dir),
            Path(args.evaluation),
            Path(args.preprocessor_dir),
            Path(args.config),
            Path(args.output_dir),
            span=(args.window_start, args.window_end),
            seed=args.seed,
        )
    except JobInputError as exc:
        return job_failed(f"model quality monitoring failed: {exc}", args.exit_message, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
