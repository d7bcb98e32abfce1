"""inference.py: the hosting contract, raw rows in (CSV or JSON), predictions out.

Requests go through the local cloud's re-implementation of the XGBoost container's serving stack
(`driftline_local/sagemaker/_serving_contract.py`, loaded by path as the model server loads it), so these
tests see what a client of the real endpoint sees: status, Content-Type and body.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import flask
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from driftline_local.sample_data import generate_bank_marketing
from sklearn.metrics import roc_auc_score

CONTRACT = Path(__file__).resolve().parents[3] / "local" / "driftline_local" / "sagemaker" / "_serving_contract.py"
CSV_ANSWER = "text/csv; charset=utf-8"  # what the container's Flask worker makes of a ("...", "text/csv") result


def _load_contract() -> ModuleType:
    spec = importlib.util.spec_from_file_location("serving_contract", CONTRACT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()


@pytest.fixture(scope="module")
def bank(pipelines, inference):
    return pipelines.trained.bank, inference.model_fn(str(pipelines.trained.bank.model_dir))


def csv_body(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False)
    return buffer.getvalue().encode()


def serve(inference, model, body, content_type="text/csv", accept="application/json"):
    """(status, Content-Type, body text) of one request, answered as the XGBoost container answers it."""
    _, transform = contract.transform_of(inference)
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept is not None else {})}
    status, answer_type, answer = contract.invoke(
        transform, model, body if isinstance(body, bytes) else body.encode(), headers
    )
    return status, answer_type, answer.decode()


def invoke(inference, model, body, content_type="text/csv", accept="application/json"):
    """The answer's body for a request the container answers 200, with the content type asked for."""
    status, answer_type, answer = serve(inference, model, body, content_type, accept)
    assert status == 200, answer
    assert answer_type == {"text/csv": CSV_ANSWER}.get(accept, "application/json")
    return answer


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


def test_a_row_with_the_wrong_column_count_is_a_400_naming_the_expected_columns(bank, inference):
    _, model = bank
    body = b"\n".join([b",".join([b"1"] * 19), b"1,2,3"])

    status, answer_type, answer = serve(inference, model, body)

    assert (status, answer_type) == (400, "application/json")
    assert json.loads(answer)["message"].startswith(
        "CSV row 2 has 3 columns but the model expects 19, in this order: age, job"
    )


def test_an_unknown_content_type_is_a_415_naming_the_types_to_send(bank, inference):
    _, model = bank

    status, answer_type, answer = serve(inference, model, b"41,admin.", "text/plain")

    assert (status, answer_type) == (415, "application/json")
    assert json.loads(answer) == {
        "error": "Unsupported Media Type",
        "message": "unsupported content type 'text/plain'; send text/csv (no header, columns in preprocessor.json "
        'feature order) or application/json ({"instances": [...]})',
    }


def test_an_accept_asking_for_neither_json_nor_csv_is_a_406(bank, inference):
    pipeline, model = bank
    rows = pd.read_csv(pipeline.processed / "baseline" / "baseline.csv").head(2)

    status, _, answer = serve(inference, model, csv_body(rows), accept="application/x-npy")

    assert status == 406
    assert "unsupported accept type 'application/x-npy'" in json.loads(answer)["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"", "text/csv", "the request has no rows to score"),
        (b"{not json", "application/json", "the request body is not valid JSON"),
        (b'{"rows": []}', "application/json", 'JSON requests must be {"instances": [...]}'),
        (b"\xff\xfe41", "text/csv; charset=latin-1", "the request body is not UTF-8 text"),
    ],
)
def test_a_body_that_cannot_be_scored_is_a_400_saying_why(bank, inference, body, content_type, says):
    _, model = bank

    status, _, answer = serve(inference, model, body, content_type)

    assert status == 400
    assert says in json.loads(answer)["message"]


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_no_accept_or_any_is_answered_with_the_containers_default_json(bank, inference, accept):
    pipeline, model = bank
    rows = pd.read_csv(pipeline.processed / "baseline" / "baseline.csv").head(2)

    status, answer_type, answer = serve(inference, model, csv_body(rows), accept=accept)

    assert (status, answer_type) == (200, "application/json")
    assert len(json.loads(answer)["predictions"]) == 2


def test_a_list_of_accepted_types_is_answered_with_the_first_one_served(bank, inference):
    pipeline, model = bank
    rows = pd.read_csv(pipeline.processed / "baseline" / "baseline.csv").head(2)

    status, answer_type, answer = serve(
        inference, model, csv_body(rows), accept="application/x-npy, text/csv;q=0.9, application/json"
    )

    assert (status, answer_type) == (200, CSV_ANSWER)
    assert len(answer.splitlines()) == 2


def test_flask_itself_answers_a_rejection_with_its_status_and_json_body(bank, inference):
    """The container's worker is Flask (3.1.3 in the XGBoost image, the version here): check the 4xx path
    against Flask itself, not only against the local re-implementation."""
    _, model = bank
    app = flask.Flask("xgboost-container")
    app.add_url_rule(
        "/invocations",
        "invocations",
        lambda: inference.transform_fn(model, flask.request.get_data(), flask.request.content_type, "application/json"),
        methods=["POST"],
    )

    answer = app.test_client().post("/invocations", data=b"41", content_type="text/plain")

    assert answer.status_code == 415
    assert answer.headers["Content-Type"] == "application/json"
    assert json.loads(answer.data)["error"] == "Unsupported Media Type"


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
