"""A run's summary judges each job's instance from the utilisation its real processes published (issue 14 item 6)."""

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, upload_frames, wait_for_run
from driftline_local.sample_data import generate_regression
from driftline_local.sns import wait_for_mail

pytestmark = pytest.mark.e2e

VERDICTS = ("over-sized", "under-sized", "fits")


def test_the_summary_judges_every_jobs_instance_and_gives_the_training_throughput_with_its_unit(cloud):
    # Given a model onboarded through S3 alone
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    config = (
        "name: sizes\nproblem_type: regression\ntarget: price\n"
        + FAST_TIMINGS
        + "training:\n  hyperparameters:\n    num_round: 200\n"
    )
    onboard_model(clients, stack, config, "sizes")

    # When its data is uploaded and the run ends
    since = upload_frames(clients, stack, "sizes", [generate_regression(20000, seed=7)])
    result = wait_for_run(clients, stack, "sizes", since, progress=lambda message: None, timeout=600)
    assert result.status == "SUCCEEDED", result.error

    # Then on-call's summary has a verdict on each job's instance, read under report_run's own role
    summary = wait_for_mail(cloud.ctx, "sizes: new model serving", timeout=60)["message"]
    facts = dict(line.split(": ", 1) for line in summary.splitlines() if line.startswith("Instance ("))
    print("\n".join(f"{label}: {text}" for label, text in facts.items()))  # shown with -rP: what on-call read
    assert set(facts) == {"Instance (preprocess)", "Instance (train)", "Instance (evaluate)"}, summary
    assert not any(text.startswith("not judged") for text in facts.values()), facts
    assert facts["Instance (train)"].startswith(VERDICTS), facts
    assert "ml.m5.large CPU" in facts["Instance (train)"]
    # and the training job's throughput says its unit
    assert "rows x rounds per second" in facts["Instance (train)"]
