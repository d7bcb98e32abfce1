"""What `driftline watch` (and `driftline demo`) print on a pipe: each change once, in order."""

from datetime import UTC, datetime, timedelta

import pytest
from driftline_local.ops.runinfo import current_step, reconciled_status, steps
from driftline_local.ops.watch import LineView, Snapshot, Training

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _event(kind: str, name: str, second: float) -> dict:
    details = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
    return {"type": kind, "timestamp": T0 + timedelta(seconds=second), details: {"name": name}}


def _poll_loop() -> list[dict]:
    """Create the endpoint, then wait/check three times (a polling loop), then promote (still running)."""
    events = [_event("TaskStateEntered", "Create the endpoint", 0), _event("TaskStateExited", "Create the endpoint", 1)]
    for i in range(3):
        events += [
            _event("WaitStateEntered", "Wait for the endpoint", 1 + 2 * i),
            _event("WaitStateExited", "Wait for the endpoint", 2 + 2 * i),
            _event("ChoiceStateEntered", "Is the endpoint in service?", 2 + 2 * i),
            _event("ChoiceStateExited", "Is the endpoint in service?", 2 + 2 * i),
        ]
    return [*events, _event("TaskStateEntered", "Promote the candidate", 8)]


def _snapshot(events: list[dict], traffic: list[tuple[str, float]], finished: bool = False) -> Snapshot:
    snapshot = Snapshot("m-upload-1", "m", "SUCCEEDED" if finished else "RUNNING", finished)
    snapshot.machines = {"rollout": {"status": "RUNNING", "steps": steps(events), "step": current_step(events)}}
    snapshot.traffic = [{"variant": v, "traffic_percent": p} for v, p in traffic]
    snapshot.candidate_shares = [10.0]
    return snapshot


def test_a_polling_loop_is_one_step_with_its_time_added_up_and_the_running_step_is_current():
    events = _poll_loop()

    rows = {row["step"]: row for row in steps(events)}

    assert rows["Wait for the endpoint"]["times"] == 3 and rows["Wait for the endpoint"]["seconds"] == 3.0
    assert rows["Promote the candidate"]["state"] == "running"
    assert current_step(events) == "Promote the candidate"


def test_line_view_announces_each_step_once_and_every_traffic_change_even_back_to_an_earlier_split():
    printed: list[str] = []
    view = LineView(printed.append)
    events = _poll_loop()

    view.show(_snapshot(events[:4], [("old", 100.0)]))
    view.show(_snapshot(events, [("old", 90.0), ("new", 10.0)]))
    view.show(_snapshot(events, [("old", 90.0), ("new", 10.0)]))
    view.show(_snapshot(events, [("old", 100.0)], finished=True))

    assert printed.count("rollout: Wait for the endpoint") == 1
    assert [line for line in printed if line.startswith("rollout: Wait for the endpoint done")] == [
        "rollout: Wait for the endpoint done (1.0s)"
    ]  # the loop's later ends are not announced again
    assert [line for line in printed if line.startswith("traffic")] == [
        "traffic: old 100%",
        "traffic: old 90%, new 10%",
        "traffic: old 100%",
    ]
    assert printed[-1] == "run m-upload-1 SUCCEEDED"


def test_line_view_shows_training_rounds_and_spot_interruptions():
    printed: list[str] = []
    view = LineView(printed.append)
    snapshot = _snapshot([], [])
    snapshot.candidate_shares = []
    for round_, interruptions in ((10, 0), (20, 0), (20, 1), (30, 1)):
        snapshot.training = Training("m-upload-1-train-1", round=round_, rounds=40, interruptions=interruptions)
        view.show(snapshot)

    assert printed == [
        "training m-upload-1-train-1: round 10 of 40",
        "training m-upload-1-train-1: round 20 of 40",
        "training m-upload-1-train-1: spot interruptions 1",
        "training m-upload-1-train-1: round 30 of 40",
    ]


@pytest.mark.parametrize(
    ("item", "execution", "shown"),
    [
        ("SUCCEEDED", "FAILED", "FAILED"),  # a step after the item was written failed: the execution says so
        ("DEPLOYED", "RUNNING", "RUNNING"),
        ("ROLLED_BACK", "FAILED", "ROLLED_BACK"),  # the item says more than FAILED
        ("REJECTED", "FAILED", "REJECTED"),
        ("TRAINING", "SUCCEEDED", "SUCCEEDED"),
        ("COLLECTING", None, "COLLECTING"),
        (None, "ABORTED", "ABORTED"),
    ],
)
def test_a_runs_status_reconciles_its_item_with_its_execution(item, execution, shown):
    assert reconciled_status(item, execution) == shown
