"""The whole loop on the local cloud: model.yaml + CSVs in S3 -> a served model answering predictions."""

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, predict, upload_frames, wait_for_run
from driftline_local.sample_data import generate_multiclass, generate_regression
from driftline_local.sns import read_mailbox

pytestmark = pytest.mark.e2e


def _config(name: str, problem: str, target: str) -> str:
    return (
        f"name: {name}\nproblem_type: {problem}\ntarget: {target}\n"
        + FAST_TIMINGS
        + "training:\n  hyperparameters:\n    num_round: 40\n"
    )


def test_new_multiclass_model_onboarded_through_s3_alone_serves_good_predictions(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, _config("segments", "multiclass_classification", "segment"), "segments")
    data = generate_multiclass(3000, seed=3)

    since = upload_frames(clients, stack, "segments", [data.iloc[:1500], data.iloc[1500:]])
    result = wait_for_run(clients, stack, "segments", since, progress=lambda message: None, timeout=600)

    assert result.status == "SUCCEEDED", result.error
    assert result.metrics["accuracy"] > 0.6
    fresh = generate_multiclass(200, seed=4)
    predictions = predict(clients, result.endpoint_name, fresh.drop(columns=["segment"]))
    accuracy = sum(p["label"] == actual for p, actual in zip(predictions, fresh["segment"], strict=True)) / 200
    assert accuracy > 0.6
    subjects = [m["subject"] for m in read_mailbox(cloud.ctx)]
    assert any("segments: new model serving" in s for s in subjects)


def test_regression_model_is_gated_and_served(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, _config("prices", "regression", "price"), "prices")

    since = upload_frames(clients, stack, "prices", [generate_regression(2000, seed=5)])
    result = wait_for_run(clients, stack, "prices", since, progress=lambda message: None, timeout=600)

    assert result.status == "SUCCEEDED", result.error
    assert result.gate["passed"] and result.metrics["r2"] > 0.5
    fresh = generate_regression(5, seed=6)
    predictions = predict(clients, result.endpoint_name, fresh.drop(columns=["price"]))
    assert all(isinstance(p["value"], float) for p in predictions)


def test_run_that_fails_in_a_job_pages_on_call_with_the_step(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    # Valid data, but far more boosting rounds than the job's runtime limit allows: SageMaker stops the
    # training job at MaxRuntimeInSeconds (the upload checks cannot know how long training will take).
    config = (
        "name: slow\nproblem_type: regression\ntarget: price\n"
        + FAST_TIMINGS
        + "training:\n  use_spot: false\n  max_runtime_seconds: 60\n  checkpoint_interval: 1000000\n"
        + "  hyperparameters:\n    num_round: 100000000\n"
    )
    onboard_model(clients, stack, config, "slow")

    since = upload_frames(clients, stack, "slow", [generate_regression(300, seed=7)])
    result = wait_for_run(clients, stack, "slow", since, progress=lambda message: None, timeout=600)

    assert result.status == "FAILED"
    pages = [m for m in read_mailbox(cloud.ctx) if "slow: run failed" in (m.get("subject") or "")]
    assert pages and "Step:" in pages[0]["message"]
    assert "MaxRuntimeInSeconds" in pages[0]["message"], pages[0]["message"]


def test_candidate_that_misses_the_gate_is_rejected_and_never_served(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, _config("strict", "regression", "price") + "gate:\n  min_value: 0.001\n", "strict")

    since = upload_frames(clients, stack, "strict", [generate_regression(1500, seed=8)])
    result = wait_for_run(clients, stack, "strict", since, progress=lambda message: None, timeout=600)

    assert result.status == "FAILED"
    assert result.gate["passed"] is False and "misses the floor" in " ".join(result.gate["reasons"])
    endpoints = clients("sagemaker").list_endpoints(NameContains="strict")["Endpoints"]
    assert endpoints == []
    pages = [m for m in read_mailbox(cloud.ctx) if "strict: candidate rejected" in (m.get("subject") or "")]
    assert pages and "misses the floor" in pages[0]["message"]
