"""quality.py: captured predictions joined with delayed labels by inference id, scored against the evaluation.

Reference values are worked out by hand (sklearn-free): AUC as the share of (positive, negative) pairs
ordered right, ties counted half; accuracy and F1 from the confusion counts; RMSE and MAE from the errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="module")
def quality(harness):
    return harness.load_job_module("quality")


WINDOW = ("2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z")


def capture_line(inference_id: str | None, body: str, content_type: str = "text/csv", minute: int = 5) -> str:
    metadata: dict[str, Any] = {"eventId": f"e-{inference_id}", "inferenceTime": f"2026-12-01T10:{minute:02d}:00.000Z"}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    encoding = "CSV" if content_type.startswith("text/csv") else "JSON"
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2", "encoding": "CSV"},
            "endpointOutput": {
                "observedContentType": content_type,
                "mode": "OUTPUT",
                "data": body,
                "encoding": encoding,
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":"))


def write_capture(root: Path, lines: list[str], name: str = "05-00-000-a.jsonl") -> None:
    folder = root / "AllTraffic" / "2026" / "12" / "01" / "10"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_inputs(
    tmp_path: Path, problem: str, reference: dict[str, float], classes: list[str] | None, **quality_settings: Any
) -> dict[str, Path]:
    paths = {
        "capture": tmp_path / "capture",
        "labels": tmp_path / "labels",
        "evaluation": tmp_path / "evaluation" / "evaluation.json",
        "preprocessor": tmp_path / "preprocessor",
        "config": tmp_path / "config" / "config.json",
        "output": tmp_path / "out",
    }
    for key in ("labels", "preprocessor"):
        paths[key].mkdir(parents=True)
    paths["evaluation"].parent.mkdir(parents=True)
    paths["config"].parent.mkdir(parents=True)
    paths["evaluation"].write_text(json.dumps({"problem_type": problem, "metrics": reference}))
    (paths["preprocessor"] / "preprocessor.json").write_text(json.dumps({"classes": classes}))
    settings = {"min_labels": 1} | quality_settings
    config = {"name": "churn", "problem_type": problem, "target": "y", "monitoring": {"quality": settings}}
    paths["config"].write_text(json.dumps(config))
    return paths


def run(quality: Any, paths: dict[str, Path]) -> dict[str, Any]:
    quality.quality(
        paths["capture"],
        paths["labels"],
        paths["evaluation"],
        paths["preprocessor"],
        paths["config"],
        paths["output"],
        span=WINDOW,
    )
    return {name: json.loads((paths["output"] / name).read_text()) for name in _OUTPUTS}


_OUTPUTS = ("statistics.json", "constraints.json", "constraint_violations.json", "quality_summary.json")


def labels_file(paths: dict[str, Path], rows: list[tuple[str, str]], name: str = "batch-1.csv") -> None:
    text = "inference_id,y\n" + "".join(f"{i},{label}\n" for i, label in rows)
    (paths["labels"] / name).write_text(text)


def test_binary_metrics_match_hand_computed_values(quality, tmp_path):
    # Given four CSV answers (P(yes)) with their ids and labels: yes .9, no .6, yes .4, no .2
    paths = write_inputs(tmp_path, "binary_classification", {"auc": 0.9, "accuracy": 0.8, "f1": 0.8}, ["no", "yes"])
    write_capture(
        paths["capture"],
        [capture_line(f"r{i}", f"{p}\n") for i, p in enumerate([0.9, 0.6, 0.4, 0.2])],
    )
    labels_file(paths, [("r0", "yes"), ("r1", "no"), ("r2", "yes"), ("r3", "no")])
    # When the quality job runs
    out = run(quality, paths)
    # Then: pairs (pos, neg) ordered right = (.9>.6, .9>.2, .4>.2) of 4 -> AUC .75; predicted yes,yes,no,no
    metrics = out["statistics.json"]["binary_classification_metrics"]
    assert metrics["auc"]["value"] == pytest.approx(0.75)
    assert metrics["accuracy"]["value"] == pytest.approx(0.5)
    assert metrics["f1"]["value"] == pytest.approx(0.5)  # TP 1, FP 1, FN 1: 2/(2+1+1)
    assert metrics["confusion_matrix"] == {"no": {"no": 1, "yes": 1}, "yes": {"no": 1, "yes": 1}}
    # and every metric fell more than 0.05 below the evaluation's test value
    violations = out["constraint_violations.json"]["violations"]
    assert sorted(v["metric_name"] for v in violations) == ["accuracy", "auc", "f1"]
    assert all(v["constraint_check_type"] == "LessThanThreshold" for v in violations)
    auc = next(v for v in violations if v["metric_name"] == "auc")
    assert auc["description"].startswith("Metric auc with 0.7500") and auc["description"].endswith("0.8500")
    constraints = out["constraints.json"]["binary_classification_constraints"]
    assert constraints["auc"] == {"threshold": pytest.approx(0.85), "comparison_operator": "LessThanThreshold"}


def test_missing_labels_are_counted_never_scored(quality, tmp_path):
    # Given five predictions with ids, one without, one answering two rows; labels for two of the five
    paths = write_inputs(tmp_path, "binary_classification", {"auc": 0.5}, ["0", "1"])
    lines = [capture_line(f"r{i}", f"{p}\n") for i, p in enumerate([0.8, 0.3, 0.7, 0.1, 0.6])]
    lines += [capture_line(None, "0.9\n"), capture_line("multi", "0.9\n0.1\n")]
    write_capture(paths["capture"], lines)
    labels_file(paths, [("r0", "1"), ("r1", "0"), ("not-in-window", "1")])
    # When the quality job runs
    summary = run(quality, paths)["quality_summary.json"]
    # Then the three unlabelled predictions are reported missing (3 of 5), and nothing is made up for them
    assert summary["predictions_with_id"] == 5
    assert summary["labelled"] == 2
    assert summary["missing_labels"] == 3 and summary["missing_label_share"] == pytest.approx(0.6)
    assert summary["unjoinable_records"] == {"no_inference_id": 1, "several_rows_one_id": 1}
    assert summary["metrics"]["accuracy"] == 1.0  # scored on the two labelled ones only


def test_too_few_labels_are_reported_but_not_judged(quality, tmp_path):
    paths = write_inputs(tmp_path, "binary_classification", {"auc": 0.99}, ["0", "1"], min_labels=3)
    write_capture(paths["capture"], [capture_line("a", "0.1\n"), capture_line("b", "0.9\n")])
    labels_file(paths, [("a", "1"), ("b", "0")])
    out = run(quality, paths)
    assert out["quality_summary.json"]["quality_judged"] is False
    assert "fewer than monitoring.quality.min_labels (3)" in out["quality_summary.json"]["not_judged_reason"]
    assert out["constraint_violations.json"] == {"violations": []}


def test_regression_errors_and_relative_threshold(quality, tmp_path):
    # Given JSON answers 10, 12, 20 for truths 11, 12, 16: errors -1, 0, 4
    paths = write_inputs(tmp_path, "regression", {"rmse": 2.0, "mae": 2.0, "r2": 0.9}, None)
    bodies = [json.dumps({"predictions": [{"value": v}]}) for v in (10.0, 12.0, 20.0)]
    write_capture(paths["capture"], [capture_line(f"r{i}", b, "application/json") for i, b in enumerate(bodies)])
    labels_file(paths, [("r0", "11"), ("r1", "12"), ("r2", "16")])
    out = run(quality, paths)
    metrics = out["statistics.json"]["regression_metrics"]
    assert metrics["rmse"]["value"] == pytest.approx((17 / 3) ** 0.5)  # sqrt((1 + 0 + 16) / 3)
    assert metrics["mae"]["value"] == pytest.approx(5 / 3)
    # rmse 2.38 > 2.0 * 1.2 = 2.4? no; mae 1.67 < 2.4: no violation
    assert out["constraint_violations.json"]["violations"] == []
    assert out["constraints.json"]["regression_constraints"]["rmse"]["comparison_operator"] == "GreaterThanThreshold"


def test_multiclass_csv_answers_give_accuracy_and_f1_without_auc(quality, tmp_path):
    paths = write_inputs(tmp_path, "multiclass_classification", {"accuracy": 0.9, "f1": 0.9}, ["a", "b", "c"])
    write_capture(paths["capture"], [capture_line(f"r{i}", f"{c}\n") for i, c in enumerate("abca")])
    labels_file(paths, [("r0", "a"), ("r1", "b"), ("r2", "b"), ("r3", "a")])
    metrics = run(quality, paths)["quality_summary.json"]["metrics"]
    assert metrics["auc"] is None
    assert metrics["accuracy"] == pytest.approx(0.75)
    # F1 per class: a 2/2=1, b 2*1/(2+1)=2/3, c 0 -> macro 5/9
    assert metrics["f1"] == pytest.approx(5 / 9)


def test_later_label_file_wins_and_conflicts_are_counted(quality, tmp_path):
    paths = write_inputs(tmp_path, "binary_classification", {}, ["0", "1"])
    write_capture(paths["capture"], [capture_line("x", "0.9\n"), capture_line("z", "0.1\n")])
    labels_file(paths, [("x", "0"), ("z", "0")], name="a.csv")
    labels_file(paths, [("x", "1")], name="b.csv")
    summary = run(quality, paths)["quality_summary.json"]
    assert summary["conflicting_labels"] == 1
    assert summary["metrics"]["accuracy"] == 1.0


def test_predictions_outside_the_window_are_not_judged(quality, tmp_path):
    paths = write_inputs(tmp_path, "binary_classification", {}, ["0", "1"])
    write_capture(paths["capture"], [capture_line("in", "0.9\n")])
    later = paths["capture"] / "AllTraffic" / "2026" / "12" / "01" / "11"
    later.mkdir(parents=True)
    (later / "05-00-000-b.jsonl").write_text(capture_line("out", "0.9\n") + "\n")
    labels_file(paths, [("in", "1"), ("out", "0")])
    assert run(quality, paths)["quality_summary.json"]["labelled"] == 1


def test_main_explains_a_missing_evaluation(quality, tmp_path):
    paths = write_inputs(tmp_path, "binary_classification", {}, ["0", "1"])
    paths["evaluation"].unlink()
    message = tmp_path / "message"
    code = quality.main(
        [
            "--capture-dir", str(paths["capture"]),
            "--labels-dir", str(paths["labels"]),
            "--evaluation", str(paths["evaluation"]),
            "--preprocessor-dir", str(paths["preprocessor"]),
            "--config", str(paths["config"]),
            "--output-dir", str(paths["output"]),
            "--exit-message", str(message),
        ]
    )  # fmt: skip
    assert code == 1 and "evaluation" in message.read_text()


def test_binary_metrics_agree_with_scikit_learn_on_random_traffic(quality, tmp_path):
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    rng = np.random.default_rng(7)
    truth = rng.integers(0, 2, 500)
    scores = np.clip(truth * 0.3 + rng.random(500) * 0.7, 0, 1).round(3)  # ties included
    paths = write_inputs(tmp_path, "binary_classification", {}, ["0", "1"])
    write_capture(paths["capture"], [capture_line(f"r{i}", f"{s}\n") for i, s in enumerate(scores)])
    labels_file(paths, [(f"r{i}", str(t)) for i, t in enumerate(truth)])

    metrics = run(quality, paths)["quality_summary.json"]["metrics"]

    assert metrics["auc"] == pytest.approx(roc_auc_score(truth, scores))
    assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, scores >= 0.5))
    assert metrics["f1"] == pytest.approx(f1_score(truth, scores >= 0.5))


def test_multiclass_json_answers_give_one_vs_rest_auc(quality, tmp_path):
    from sklearn.metrics import roc_auc_score

    classes = ["a", "b", "c"]
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 300)
    raw = rng.random((300, 3)) + np.eye(3)[truth] * 0.8
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    bodies = [
        json.dumps(
            {
                "predictions": [
                    {"label": classes[int(np.argmax(p))], "probabilities": dict(zip(classes, p.tolist(), strict=True))}
                ]
            }
        )
        for p in probabilities
    ]
    paths = write_inputs(tmp_path, "multiclass_classification", {}, classes)
    write_capture(paths["capture"], [capture_line(f"r{i}", b, "application/json") for i, b in enumerate(bodies)])
    labels_file(paths, [(f"r{i}", classes[t]) for i, t in enumerate(truth)])

    metrics = run(quality, paths)["quality_summary.json"]["metrics"]

    assert metrics["auc"] == pytest.approx(roc_auc_score(truth, probabilities, multi_class="ovr"))
    assert metrics["accuracy"] == pytest.approx(float(np.mean(probabilities.argmax(axis=1) == truth)))


def write_variant_capture(root: Path, variant: str, lines: list[str]) -> None:
    folder = root / variant / "2026" / "12" / "01" / "10"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"05-00-000-{variant}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_each_variant_is_scored_on_its_own_predictions_with_the_ab_tests_counts(quality, tmp_path):
    # Given production (AllTraffic) right on 3 of 4 labelled answers and the candidate right on 1 of 3, one of
    # its answers still unlabelled; SageMaker names the variant in the capture path, not in the record
    paths = write_inputs(tmp_path, "binary_classification", {"accuracy": 0.8}, ["no", "yes"])
    write_variant_capture(
        paths["capture"], "AllTraffic", [capture_line(f"a{i}", f"{p}\n") for i, p in enumerate([0.9, 0.8, 0.2, 0.7])]
    )
    write_variant_capture(
        paths["capture"], "candidate-1", [capture_line(f"b{i}", f"{p}\n") for i, p in enumerate([0.9, 0.1, 0.3, 0.6])]
    )
    labels_file(
        paths,
        [("a0", "yes"), ("a1", "yes"), ("a2", "no"), ("a3", "no"), ("b0", "no"), ("b1", "no"), ("b2", "yes")],
    )
    # When the quality job runs
    summary = run(quality, paths)["quality_summary.json"]
    # Then each variant has its own counts, accuracy and the correct/labelled the A/B test needs
    production, candidate = summary["variants"]["AllTraffic"], summary["variants"]["candidate-1"]
    assert (production["correct"], production["labelled"], production["missing_labels"]) == (3, 4, 0)
    assert production["metrics"]["accuracy"] == pytest.approx(0.75)
    assert (candidate["correct"], candidate["labelled"], candidate["missing_labels"]) == (1, 3, 1)
    assert candidate["predictions_with_id"] == 4
    assert candidate["metrics"]["accuracy"] == pytest.approx(1 / 3)
    # and the model-level figures still cover both variants
    assert summary["labelled"] == 7 and summary["metrics"]["accuracy"] == pytest.approx(4 / 7)


def test_regression_variants_carry_their_absolute_errors_sufficient_statistics(quality, tmp_path):
    # Given a regression candidate off by 1, 2 and 6 (production off by 0.5 twice)
    paths = write_inputs(tmp_path, "regression", {"rmse": 1.0, "mae": 1.0}, None)
    write_variant_capture(paths["capture"], "AllTraffic", [capture_line("a0", "10.5\n"), capture_line("a1", "9.5\n")])
    write_variant_capture(
        paths["capture"],
        "candidate-1",
        [capture_line("b0", "11\n"), capture_line("b1", "8\n"), capture_line("b2", "16\n")],
    )
    labels_file(paths, [("a0", "10"), ("a1", "10"), ("b0", "10"), ("b1", "10"), ("b2", "10")])
    summary = run(quality, paths)["quality_summary.json"]
    # Then n, mean and the sample variance of |error| per variant: (1, 2, 6) -> mean 3, variance (4+1+9)/2 = 7
    assert summary["variants"]["candidate-1"]["absolute_error"] == {"n": 3, "mean": 3.0, "variance": 7.0}
    assert summary["variants"]["AllTraffic"]["absolute_error"] == {"n": 2, "mean": 0.5, "variance": 0.0}
