"""evaluate.py: candidate, trivial baseline and production scored on the same test set."""

from __future__ import annotations

import pytest


def test_binary_candidate_clearly_beats_the_trivial_baseline(pipelines):
    bank = pipelines.finished.bank
    evaluation = bank.evaluation
    assert evaluation["problem_type"] == "binary_classification"
    assert evaluation["test_rows"] == bank.preprocessor["rows"]["test"]
    assert set(evaluation["metrics"]) == {"auc", "accuracy", "f1"}
    assert evaluation["metrics"]["auc"] > 0.72  # without the leaking duration column
    assert evaluation["baseline_metrics"]["auc"] == 0.5
    assert evaluation["baseline_metrics"]["f1"] == 0.0  # the majority class is "no"
    assert evaluation["baseline_metrics"]["accuracy"] == pytest.approx(0.89, abs=0.02)


def test_first_model_has_no_production_metrics(pipelines):
    assert pipelines.finished.bank.evaluation["production_metrics"] is None


def test_multiclass_scores_macro_f1_and_one_vs_rest_auc(pipelines):
    evaluation = pipelines.finished.segments.evaluation
    metrics, baseline = evaluation["metrics"], evaluation["baseline_metrics"]
    assert metrics["auc"] > 0.85 and metrics["accuracy"] > 0.6
    assert metrics["f1"] > baseline["f1"] + 0.3
    assert baseline["auc"] == 0.5


def test_regression_scores_errors_against_the_training_mean(pipelines):
    evaluation = pipelines.finished.prices.evaluation
    metrics, baseline = evaluation["metrics"], evaluation["baseline_metrics"]
    assert set(metrics) == {"rmse", "mae", "r2"}
    assert metrics["r2"] > 0.8 and baseline["r2"] <= 0.01
    assert metrics["rmse"] < 0.5 * baseline["rmse"]


def test_production_model_is_scored_on_the_same_test_set(pipelines, tmp_path, harness):
    bank = pipelines.finished.bank
    evaluate = harness.load_job_module("evaluate")

    code = evaluate.main(
        [
            "--model",
            str(bank.model_archive),
            "--test",
            str(bank.processed / "test"),
            "--production",
            str(bank.model_archive),
            "--output-dir",
            str(tmp_path),
        ]
    )

    assert code == 0
    evaluation = harness.read_json(tmp_path / "evaluation.json")
    assert evaluation["production_metrics"] == evaluation["metrics"]


def test_a_test_set_in_shards_read_in_chunks_scores_as_one_file(pipelines, harness, tmp_path):
    bank = pipelines.finished.bank
    evaluate = harness.load_job_module("evaluate")
    lines = (bank.processed / "test" / "test.csv").read_text().splitlines(keepends=True)
    shards = tmp_path / "test"
    shards.mkdir()
    (shards / "test.csv").write_text("".join(lines[:250]))
    (shards / "test-algo-2-0000.csv").write_text("".join(lines[250:]))

    whole = evaluate.evaluate(bank.model_archive, bank.processed / "test" / "test.csv", None, tmp_path / "a")
    chunked = evaluate.evaluate(bank.model_archive, shards / "test.csv", None, tmp_path / "b", chunk_rows=64)

    assert chunked == whole and chunked["test_rows"] == len(lines)
