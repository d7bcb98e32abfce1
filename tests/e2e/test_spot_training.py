"""Managed spot on the local cloud: a run whose capacity is reclaimed twice still finishes, from checkpoints."""

import pytest
from driftline_local.loop import (
    FAST_TIMINGS,
    Clients,
    Interruption,
    Stack,
    interrupt_training,
    onboard_model,
    upload_frames,
    wait_for_run,
)
from driftline_local.sagemaker.jobs import interrupt_training_job
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import read_mailbox

pytestmark = pytest.mark.e2e

CONFIG = f"""name: spotty
problem_type: binary_classification
target: y
drop_columns: [duration]
{FAST_TIMINGS}training:
  checkpoint_interval: 10
  max_spot_resumes: {{resumes}}
  hyperparameters:
    num_round: 800
gate:
  max_regression_vs_production: 0.05  # the second test's data is another sample: allow its noise
"""


def reclaim(name: str, outcome: str) -> None:
    interrupt_training_job(name, notice_seconds=2.0, outcome=outcome)


def final_metrics(clients: Clients, job: str) -> dict[str, float]:
    described = clients("sagemaker").describe_training_job(TrainingJobName=job)
    return {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}


def test_run_interrupted_twice_resumes_from_checkpoints_and_serves_the_model(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG.format(resumes=3), "spotty")
    plan = [Interruption(attempt=1, after_seconds=3.0),  # capacity gone: a successor job takes over
            Interruption(attempt=2, after_seconds=3.0, outcome="resume")]  # capacity back: restarts in place

    since = upload_frames(clients, stack, "spotty", [generate_bank_marketing(20000, seed=11)])
    interruptions = interrupt_training(clients, "spotty", since, plan, reclaim, progress=lambda message: None)
    result = wait_for_run(clients, stack, "spotty", since, progress=lambda message: None, timeout=600)
    interruptions.join(timeout=5)

    assert result.status == "SUCCEEDED", result.error
    assert [a["outcome"] for a in result.attempts] == ["spot_capacity_lost", "completed"]
    assert result.spot["interruptions"] == 2 and result.spot["resumes"] == 1
    assert not result.spot["on_demand_fallback"]
    successor = final_metrics(clients, result.attempts[1]["job_name"])
    assert successor["train:resumed_from_round"] > 0  # finished work was kept, not redone
    assert successor["train:rounds_completed"] == 800
    assert result.metrics["auc"] > 0.7
    summary = [m for m in read_mailbox(cloud.ctx) if "spotty: new model serving" in (m.get("subject") or "")]
    assert summary and "2 spot interruption(s), 1 resume(s)" in summary[0]["message"]


def test_run_out_of_spot_resumes_finishes_on_demand_and_pages(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG.format(resumes=0), "spotty")

    since = upload_frames(clients, stack, "spotty", [generate_bank_marketing(20000, seed=12)], prefix="more")
    interruptions = interrupt_training(clients, "spotty", since, [Interruption(attempt=1, after_seconds=3.0)],
                                       reclaim, progress=lambda message: None)
    result = wait_for_run(clients, stack, "spotty", since, progress=lambda message: None, timeout=600)
    interruptions.join(timeout=5)

    assert result.status == "SUCCEEDED", (result.error, result.gate.get("reasons"))
    assert [a["spot"] for a in result.attempts] == [True, False]
    assert result.spot["on_demand_fallback"]
    subjects = [m.get("subject") or "" for m in read_mailbox(cloud.ctx)]
    assert any("spotty: training falls back to on-demand" in s for s in subjects)
