"""Managed spot on the local cloud: a run whose capacity is reclaimed twice still finishes, from checkpoints."""

import re

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, upload_frames, wait_for_run
from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption
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


ROUND = re.compile(r"\bround=(\d+) ")  # jobs/train.py logs it at every checkpoint


def reclaim_at_round(attempt: int, rounds: int, outcome: str = "max_wait_exceeded") -> PlannedInterruption:
    """Reclaim the run's `attempt`-th training job once it has trained `rounds` rounds (not after a time:
    on a busy machine a job can finish before a timed interruption lands)."""
    return plan_training_interruption(
        PlannedInterruption(f"-train-{attempt}", ROUND, at_least=rounds, notice_seconds=2.0, outcome=outcome)
    )


def assert_landed(plans: list[PlannedInterruption]) -> None:
    """Fail, naming requested against landed, unless every planned interruption really happened."""
    missed = [f"job *{p.name_suffix} at round {p.at_least:g}" for p in plans if not p.fired.is_set()]
    assert not missed, (
        f"{len(plans) - len(missed)} of {len(plans)} requested spot interruptions landed; "
        f"not landed: {', '.join(missed)}"
    )


def final_metrics(clients: Clients, job: str) -> dict[str, float]:
    described = clients("sagemaker").describe_training_job(TrainingJobName=job)
    return {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}


def test_run_interrupted_twice_resumes_from_checkpoints_and_serves_the_model(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG.format(resumes=3), "spotty")
    plans = [
        reclaim_at_round(1, 100),  # capacity gone: a successor job takes over
        reclaim_at_round(2, 400, outcome="resume"),  # capacity back: restarts in place
    ]

    since = upload_frames(clients, stack, "spotty", [generate_bank_marketing(20000, seed=11)])
    result = wait_for_run(clients, stack, "spotty", since, progress=lambda message: None, timeout=600)

    assert_landed(plans)
    assert result.status == "SUCCEEDED", result.error
    assert [a["outcome"] for a in result.attempts] == ["spot_capacity_lost", "completed"]
    assert result.spot["interruptions"] == 2, f"2 interruptions landed, the run recorded {result.spot['interruptions']}"
    assert result.spot["resumes"] == 1
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

    plan = reclaim_at_round(1, 100)
    since = upload_frames(clients, stack, "spotty", [generate_bank_marketing(20000, seed=12)], prefix="more")
    result = wait_for_run(clients, stack, "spotty", since, progress=lambda message: None, timeout=600)

    assert_landed([plan])
    assert result.status == "SUCCEEDED", (result.error, result.gate.get("reasons"))
    assert [a["spot"] for a in result.attempts] == [True, False]
    assert result.spot["on_demand_fallback"]
    subjects = [m.get("subject") or "" for m in read_mailbox(cloud.ctx)]
    assert any("spotty: training falls back to on-demand" in s for s in subjects)
