"""inference.py: the hosting contract, raw rows in (CSV or JSON), predictions out."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from driftline_local.sample_data import generate_bank_marketing
from sklearn.metrics import roc_auc_score


@pytest.fixture(scope="module")
def bank(pipelines, inference):
    return pipelines.trained.bank, inference.model_fn(str(pipelines.trained.bank.model_dir))


def csv_body(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False)
    return buffer.getvalue().encode()


def invoke(inference, model, body, content_type="text/csv", accept="application/json"):
    return inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), model), accept)


def test_csv_rows_in_give_label_and_positive_probability_out(bank, inference):
    pipeline, model = bank
    rows = pd.read_csv(pipeline.processed / "baseline" / "baseline.csv").head(5)

    predictions = json.loads(invoke(inference, model, csv_body(rows)))["predictions"]

    assert len(predictions) == 5
    for prediction in predictions:
        assert 0.0 <= prediction["score"] <= 1.0
        assert prediction["label"] == ("yes" if prediction["score"] >= 0.5 else "no")


def test_serving_encodes_raw_rows_exactly_as_preprocessing_did(bank, inference, harness):
    pipeline, model = bank
    rows = pd.read_csv(pipeline.processed / "baseline" / "baseline.csv", dtype=str, keep_default_na=False)
    _, encoded = harness.read_label_first(pipeline.processed / "train" / "train.csv")
    booster = xgb.Booster(model_file=str(pipeline.model_dir / "xgboost-model.json"))

    served = [p["score"] for p in json.loads(invoke(inference, model, csv_body(rows)))["predictions"]]

    assert np.abs(np.array(served) - booster.predict(xgb.DMatrix(encoded))).max() < 1e-6


def test_json_instances_by_name_or_as_lists_score_like_csv(bank, inference):
    pipeline, model = bank
    rows = pd.read_csv(pipeline.processed / "baseline" / "baseline.csv").head(3)
    by_csv = invoke(inference, model, csv_body(rows), accept="text/csv")
    named = json.dumps({"instances": json.loads(rows.to_json(orient="records"))})
    listed = json.dumps({"instances": json.loads(rows.to_json(orient="values"))})

    assert invoke(inference, model, named, "application/json", "text/csv") == by_csv
    assert invoke(inference, model, listed.encode(), "application/json; charset=utf-8", "text/csv") == by_csv


def test_csv_output_is_one_probability_per_line(bank, inference):
    pipeline, model = bank
    rows = pd.read_csv(pipeline.processed / "baseline" / "baseline.csv").head(4)

    lines = invoke(inference, model, csv_body(rows), accept="text/csv").splitlines()

    assert len(lines) == 4 and all(0.0 <= float(line) <= 1.0 for line in lines)


def test_an_unseen_category_scores_like_a_missing_value(bank, inference):
    _, model = bank
    row = {"age": 41, "job": "astronaut", "contact": "cellular", "month": "may", "euribor3m": 1.3}
    unseen = invoke(inference, model, json.dumps({"instances": [row]}), "application/json")
    missing = invoke(inference, model, json.dumps({"instances": [{**row, "job": None}]}), "application/json")
    assert unseen == missing


def test_a_row_with_the_wrong_column_count_is_rejected_naming_the_expected_columns(bank, inference):
    _, model = bank
    with pytest.raises(ValueError, match=r"row 2 has 3 columns but the model expects 19, in this order: age, job"):
        inference.predict_fn(inference.input_fn(b"\n".join([b",".join([b"1"] * 19), b"1,2,3"]), "text/csv"), model)


def test_an_unknown_content_type_is_rejected(inference):
    with pytest.raises(ValueError, match="unsupported content type 'text/plain'"):
        inference.input_fn(b"41,admin.", "text/plain")


def test_bank_model_ranks_fresh_customers_well(bank, inference):
    _, model = bank
    fresh = generate_bank_marketing(1500, seed=99)
    features = fresh[model.feature_names]

    scores = [float(v) for v in invoke(inference, model, csv_body(features), accept="text/csv").splitlines()]

    assert roc_auc_score(fresh["y"] == "yes", scores) > 0.72


def test_multiclass_predictions_carry_the_label_and_class_probabilities(pipelines, inference):
    segments = pipelines.trained.segments
    model = inference.model_fn(str(segments.model_dir))
    rows = pd.read_csv(segments.processed / "baseline" / "baseline.csv").head(5)

    predictions = json.loads(invoke(inference, model, csv_body(rows)))["predictions"]
    labels = invoke(inference, model, csv_body(rows), accept="text/csv").splitlines()

    for prediction, label in zip(predictions, labels, strict=True):
        probabilities = prediction["probabilities"]
        assert set(probabilities) == {"bronze", "gold", "platinum", "silver"}
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction["label"] == max(probabilities, key=probabilities.get) == label


def test_regression_predictions_are_values(pipelines, inference):
    prices = pipelines.trained.prices
    model = inference.model_fn(str(prices.model_dir))
    rows = [["2000", "3", "", "hills", "good"], ["900", "1", "80", "industrial", "poor"]]
    body = "\n".join(",".join(r) for r in rows).encode()

    predictions = json.loads(invoke(inference, model, body))["predictions"]
    values = [float(line) for line in invoke(inference, model, body, accept="text/csv").splitlines()]

    assert predictions[0]["value"] > 2 * predictions[1]["value"] > 0
    assert values == pytest.approx([p["value"] for p in predictions])
