"""The shadow test's verdict and how production's and the shadow's captured answers are compared."""

from __future__ import annotations

import base64
import json

from driftline.shadow import ShadowJudge, ShadowStats, compare, predictions, verdict

JUDGE = ShadowJudge(
    model="m",
    run_id="m-upload-20261201T000000",
    endpoint_name="driftline-m",
    expected_config="m-upload-20261201T000000-shadow",
    candidate_variant="upload-20261201T000000",
    production_variant="upload-20261101T000000",
    problem_type="binary_classification",
    capture_uri="s3://artifacts/m/datacapture",
    shadow_seconds=60,
    min_requests=100,
    max_error_rate=0.01,
    max_latency_ms=200,
    max_disagreement=0.05,
    poll_seconds=5,
)


def record(body: str, output: str, *, inference_id: str | None = None, encoding: str = "CSV") -> dict:
    data = base64.b64encode(output.encode()).decode() if encoding == "BASE64" else output
    metadata = {"eventId": "e", **({"inferenceId": inference_id} if inference_id else {})}
    return {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "x", "mode": "OUTPUT", "data": data, "encoding": encoding},
        },
        "eventMetadata": metadata,
    }


def labels(*pairs: tuple[str, str]) -> str:
    return json.dumps({"predictions": [{"label": label, "score": float(score)} for label, score in pairs]})


def test_healthy_shadow_passes():
    stats = ShadowStats(requests=500, errors=2, latency_ms=12.0, compared=400, disagreement=0.01)

    assert verdict(JUDGE, stats) == ("pass", [])


def test_failing_slow_and_disagreeing_shadow_fails_with_every_reason():
    stats = ShadowStats(requests=500, errors=500, latency_ms=800.0, compared=400, disagreement=0.5)

    action, reasons = verdict(JUDGE, stats)

    assert action == "fail" and len(reasons) == 3
    assert "500 of 500 mirrored requests failed (100.0%" in reasons[0]
    assert "average model latency 800 ms" in reasons[1]
    assert "differs from production's on 50.0% of 400 requests" in reasons[2]


def test_too_few_mirrored_requests_fail_the_test_rather_than_pass_it():
    action, reasons = verdict(JUDGE, ShadowStats(requests=12, latency_ms=5.0))

    assert action == "fail" and "only 12 requests were mirrored" in reasons[0]


def test_regression_difference_is_judged_only_when_a_limit_is_set():
    stats = ShadowStats(requests=500, compared=500, mean_abs_difference=3.0)

    assert verdict(JUDGE, stats)[0] == "pass"
    assert verdict(JUDGE.model_copy(update={"max_mean_abs_difference": 1.0}), stats)[0] == "fail"


def test_binary_labels_are_compared_request_by_request_from_json_answers():
    production = [record("1,2", labels(("yes", 0.9))), record("3,4", labels(("no", 0.1)))]
    shadow = [record("1,2", labels(("yes", 0.8))), record("3,4", labels(("yes", 0.7))), record("9,9", labels())]

    assert compare(shadow, production, "binary_classification") == {"compared": 2, "disagreement": 0.5}


def test_binary_csv_scores_are_compared_as_labels_at_one_half():
    production = [record("1,2", "0.9\n"), record("3,4", "0.2\n")]
    shadow = [record("1,2", "0.6\n", encoding="BASE64"), record("3,4", "0.45\n")]

    assert compare(shadow, production, "binary_classification") == {"compared": 2, "disagreement": 0.0}


def test_multiclass_numeric_labels_are_not_thresholded():
    production = [record("1", "1\n"), record("2", "2\n")]
    shadow = [record("1", "2\n"), record("2", "2\n")]

    assert compare(shadow, production, "multiclass_classification") == {"compared": 2, "disagreement": 0.5}


def test_regression_values_give_the_mean_absolute_difference():
    production = [record("1", "10.0\n"), record("2", "20.0\n")]
    shadow = [record("1", "11.0\n"), record("2", "17.0\n")]

    assert compare(shadow, production, "regression") == {"compared": 2, "mean_abs_difference": 2.0}


def test_requests_pair_by_inference_id_as_well_as_input():
    production = [record("1,2", labels(("yes", 0.9)), inference_id="a")]
    shadow = [record("1,2", labels(("no", 0.1)), inference_id="b")]

    assert compare(shadow, production, "binary_classification") == {"compared": 0}


def test_a_batch_answer_holds_one_prediction_per_line():
    assert predictions(record("1\n2", "0.1\n0.7\n")) == [0.1, 0.7]
