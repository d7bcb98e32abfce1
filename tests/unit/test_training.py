"""How a training job's end is read: capacity loss is resumable, everything else is final."""

import pytest
from driftline.training import JobOutcome, TrainingJobStateChange, classify, on_demand, spot_summary


def change(status: str, secondary: str | None = None, reason: str | None = None, spot: bool = True):
    return TrainingJobStateChange(
        TrainingJobName="j",
        TrainingJobStatus=status,
        SecondaryStatus=secondary,
        FailureReason=reason,
        EnableManagedSpotTraining=spot,
    )


@pytest.mark.parametrize(
    ("event", "outcome"),
    [
        (change("InProgress", "Interrupted"), JobOutcome.RUNNING),
        (change("Completed", "Completed"), JobOutcome.COMPLETED),
        (change("Stopped", "MaxWaitTimeExceeded"), JobOutcome.SPOT_CAPACITY_LOST),
        (
            change("Failed", "Failed", "CapacityError: Unable to provision requested ML compute capacity."),
            JobOutcome.SPOT_CAPACITY_LOST,
        ),
        (change("Failed", "Failed", "CapacityError: Unable to provision", spot=False), JobOutcome.FAILED),
        (change("Failed", "Failed", "AlgorithmError: boom"), JobOutcome.FAILED),
        (change("Stopped", "Stopped"), JobOutcome.STOPPED_BY_PERSON),
        (change("Stopped", "MaxRuntimeExceeded"), JobOutcome.TIMED_OUT),
    ],
)
def test_each_ending_is_classified(event, outcome):
    assert classify(event) is outcome


def test_spot_summary_of_a_run_that_fell_back_to_on_demand():
    attempts = [
        {"outcome": "spot_capacity_lost", "spot": True, "training_seconds": 50, "billable_seconds": 15},
        {"outcome": "completed", "spot": False, "training_seconds": 50, "billable_seconds": 50, "interruptions": 0},
    ]

    summary = spot_summary(attempts)

    assert summary["spot_savings_percent"] == 35.0
    assert summary["on_demand_fallback"] is True
    assert summary["resumes"] == 1 and summary["interruptions"] == 1


def test_on_demand_request_drops_the_spot_wait():
    request = {
        "EnableManagedSpotTraining": True,
        "StoppingCondition": {"MaxRuntimeInSeconds": 60, "MaxWaitTimeInSeconds": 120},
    }

    assert on_demand(request) == {"EnableManagedSpotTraining": False, "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
