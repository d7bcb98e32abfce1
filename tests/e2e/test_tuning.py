"""Automatic model tuning on the local cloud: a model.yaml with training.tuning goes from CSVs to a served
model through a tuning job of spot trials, and its report lists the trials; a tuning job whose trials all
fail pages on-call with the reason."""

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, predict, upload_frames, wait_for_run
from driftline_local.sample_data import generate_regression
from driftline_local.sns import read_mailbox

pytestmark = pytest.mark.e2e


def _config(name: str, tree_methods: str) -> str:
    return (
        f"name: {name}\nproblem_type: regression\ntarget: price\n"
        + FAST_TIMINGS
        + "training:\n  hyperparameters:\n    num_round: 30\n"
        + "  tuning:\n    strategy: Random\n    max_jobs: 3\n    max_parallel_jobs: 2\n"
        + "    ranges:\n      eta: {min: 0.1, max: 0.5, scaling: Logarithmic}\n      max_depth: {min: 2, max: 5}\n"
        + f"      tree_method: {{values: [{tree_methods}]}}\n"
    )


def test_a_tuned_model_is_served_from_its_best_trial_and_its_report_lists_the_trials(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, _config("tuned", "hist, approx"), "tuned")

    since = upload_frames(clients, stack, "tuned", [generate_regression(1200, seed=11)])
    result = wait_for_run(clients, stack, "tuned", since, progress=lambda message: None, timeout=900)

    assert result.status == "SUCCEEDED", result.error
    endpoint = clients("sagemaker").describe_endpoint(EndpointName=result.endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    fresh = generate_regression(5, seed=12)
    assert all(
        isinstance(p["value"], float) for p in predict(clients, result.endpoint_name, fresh.drop(columns="price"))
    )
    # the tuning job ran three spot trials and the served model is its best one
    tuning_jobs = clients("sagemaker").list_hyper_parameter_tuning_jobs(NameContains="tuned")
    [summary] = tuning_jobs["HyperParameterTuningJobSummaries"]
    described = clients("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
    )
    best = described["BestTrainingJob"]["TrainingJobName"]
    trials = clients("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
    )["TrainingJobSummaries"]
    assert len(trials) == 3
    best_job = clients("sagemaker").describe_training_job(TrainingJobName=best)
    assert best_job["EnableManagedSpotTraining"] is True and best_job["CheckpointConfig"]["S3Uri"].endswith(best)
    package = clients("sagemaker").describe_model_package(ModelPackageName=result.model_package_arn)
    assert (
        package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        == best_job["ModelArtifacts"]["S3ModelArtifacts"]
    )
    report = (
        clients("s3")
        .get_object(Bucket=stack.artifact_bucket, Key=f"tuned/runs/{result.run_id}/report.html")["Body"]
        .read()
        .decode()
    )
    assert 'id="tuning"' in report and f"best: {best}" in report
    assert all(t["TrainingJobName"] in report for t in trials)


def test_a_tuning_job_whose_trials_all_fail_pages_on_call_with_the_reason(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    # Valid at upload, refused by XGBoost in every trial: more monotone constraints than the data has features.
    constraints = "(" + ",".join(["1"] * 40) + ")"
    config = _config("untunable", "hist").replace(
        "    num_round: 30\n", f'    num_round: 30\n    monotone_constraints: "{constraints}"\n'
    )
    onboard_model(clients, stack, config, "untunable")

    since = upload_frames(clients, stack, "untunable", [generate_regression(600, seed=13)])
    result = wait_for_run(clients, stack, "untunable", since, progress=lambda message: None, timeout=900)

    assert result.status == "FAILED"
    pages = [m for m in read_mailbox(cloud.ctx) if "untunable: run failed" in (m.get("subject") or "")]
    assert pages, [m.get("subject") for m in read_mailbox(cloud.ctx)]
    assert "Tune the hyperparameters" in pages[0]["message"]
    assert "TuningJobFailed" in pages[0]["message"] or "trials failed" in pages[0]["message"], pages[0]["message"]
