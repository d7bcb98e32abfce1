"""Run reports of each kind, built from traces shaped as the run leaves them (for the unit and Chromium tests)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from driftline.run_report.collect import (
    categorical_distribution,
    drift_from_windows,
    evaluation_from,
    numeric_distribution,
    rollout_from_history,
    training_from_history,
)
from driftline.run_report.model import Distribution, RunReport, Unavailable
from driftline.run_report.svg import Series

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
GENERATED = "2026-12-01 12:30:00 UTC"


def interrupted_history() -> dict:
    """800 rounds: attempt 1 checkpointed 130 and was reclaimed; attempt 2 resumed there, restarted in place at
    400 (resumed from its checkpoint at 400), attempt 3 finished."""
    auc = [round(0.9 - 0.2 * math.exp(-r / 120), 6) for r in range(1, 801)]
    return {
        "version": 1,
        "dataset": "validation",
        "metrics": {"auc": auc},
        "attempts": [
            {
                "attempt": 1,
                "job": "spotty-upload-x-train-1",
                "started_at_round": 0,
                "last_round": 130,
                "ended": "interrupted",
            },
            {
                "attempt": 2,
                "job": "spotty-upload-x-train-2",
                "started_at_round": 130,
                "last_round": 400,
                "ended": "interrupted",
            },
            {
                "attempt": 3,
                "job": "spotty-upload-x-train-2",
                "started_at_round": 400,
                "last_round": 800,
                "ended": "completed",
            },
        ],
    }


JOBS = [
    {
        "job_name": "spotty-upload-x-train-1",
        "outcome": "spot_capacity_lost",
        "interruptions": 0,
        "training_seconds": 30,
        "billable_seconds": 9,
    },
    {
        "job_name": "spotty-upload-x-train-2",
        "outcome": "completed",
        "interruptions": 1,
        "training_seconds": 70,
        "billable_seconds": 21,
    },
]

EVALUATION = {
    "problem_type": "binary_classification",
    "test_rows": 3000,
    "metrics": {"auc": 0.91, "accuracy": 0.9, "f1": 0.42},
    "baseline_metrics": {"auc": 0.5, "accuracy": 0.88, "f1": 0.0},
    "production_metrics": {"auc": 0.89, "accuracy": 0.9, "f1": 0.4},
}
GATE = {
    "passed": True,
    "metric": "auc",
    "candidate": 0.91,
    "baseline": 0.5,
    "production": 0.89,
    "reasons": ["auc 0.91 beats the trivial baseline 0.5 and is within 0.01 of production 0.89"],
}


def training_report() -> RunReport:
    return RunReport(
        model="spotty",
        run_id="spotty-upload-20261201T120000",
        trigger="upload",
        status="SUCCEEDED",
        generated_at=GENERATED,
        training=training_from_history(interrupted_history(), "auc", JOBS),
        evaluation=evaluation_from(EVALUATION, GATE, "auc"),
        rollout=Unavailable(why="the run started no rollout (status REJECTED)"),
        drift=Unavailable(why="this run was started by 'upload', not by a drift alarm"),
    )


def _event(kind: str, at: float, **details) -> dict:
    return {"type": kind, "timestamp": datetime.fromtimestamp(T0 + at, UTC)} | details


def rolled_back_history() -> list[dict]:
    plan = {
        "plan": {
            "Payload": {
                "strategy": "canary",
                "endpoint_name": "driftline-churn",
                "candidate_variant": "churn-20261201T1200",
                "steps": [10, 50, 100],
                "production": {"variant": "churn-20261130T0900"},
                "alarms": ["driftline-churn-candidate-5xx", "driftline-churn-candidate-latency"],
            }
        }
    }
    alarm = {"name": "driftline-churn-candidate-5xx", "reason": "Threshold Crossed: 3 datapoints [12.0, 9.0, 15.0]"}
    return [
        _event("ExecutionStarted", 0),
        _event("TaskStateExited", 2, stateExitedEventDetails={"name": "Plan the rollout", "output": json.dumps(plan)}),
        _event(
            "TaskStateExited",
            20,
            stateExitedEventDetails={
                "name": "Put the candidate beside the production model",
                "output": json.dumps(plan),
            },
        ),
        _event(
            "TaskStateExited",
            140,
            stateExitedEventDetails={
                "name": "Shift more traffic to the candidate",
                "output": json.dumps(plan | {"watch": {"Payload": {"action": "shift", "percent": 50}}}),
            },
        ),
        _event(
            "TaskStateEntered",
            200,
            stateEnteredEventDetails={
                "name": "Roll back to previous model",
                "input": json.dumps(
                    plan
                    | {"failure": {"failed_step": "50% of traffic on the candidate", "alarm": alarm, "error": None}}
                ),
            },
        ),
        _event("TaskStateExited", 205, stateExitedEventDetails={"name": "Roll back to previous model", "output": "{}"}),
        _event("ExecutionFailed", 240),
    ]


def _per_minute(values: list[float]) -> list[tuple[float, float | None]]:
    return [(T0 + 60 * minute, value) for minute, value in enumerate(values)]


def rollout_report() -> RunReport:
    rollout = rollout_from_history(rolled_back_history(), {"status": "ROLLED_BACK"})
    rollout.requests = [
        Series(name="churn-20261130T0900 requests", points=_per_minute([600, 540, 300, 310, 600])),
        Series(name="churn-20261201T1200 requests", points=_per_minute([0, 60, 300, 290, 0])),
    ]
    rollout.errors = [Series(name="churn-20261201T1200 5XX", points=_per_minute([0, 0, 12, 15, 0]))]
    return RunReport(
        model="churn",
        run_id="churn-upload-20261201T120000",
        trigger="upload",
        status="ROLLED_BACK",
        generated_at=GENERATED,
        training=Unavailable(why="training job churn-x-train-1 left no output.tar.gz (it did not finish)"),
        evaluation=evaluation_from(EVALUATION, GATE, "auc"),
        rollout=rollout,
        drift=Unavailable(why="this run was started by 'upload', not by a drift alarm"),
    )


def drift_windows() -> list[tuple[float, str, dict]]:
    windows = []
    for index in range(6):
        age = index / 5
        features = {
            "age": {"distance": round(0.02 + 0.4 * age, 4), "threshold": 0.2, "drifted": 0.02 + 0.4 * age > 0.2},
            "balance": {"distance": round(0.01 + 0.05 * age, 4), "threshold": 0.2, "drifted": False},
            "job": {"distance": round(0.03 + 0.3 * age, 4), "threshold": 0.2, "drifted": 0.03 + 0.3 * age > 0.2},
        }
        windows.append(
            (T0 + 300 * index, f"drifty-2026120{index}-monitor", {"drift_threshold": 0.2, "features": features})
        )
    return windows


def drift_report() -> RunReport:
    drift = drift_from_windows(drift_windows(), 0.2)
    age_labels, age_base, age_window = numeric_distribution(
        [{"lower_bound": 30, "upper_bound": 40, "count": 20}, {"lower_bound": 40, "upper_bound": 60, "count": 280}],
        [str(v) for v in range(18, 60)],
    )
    job_labels, job_base, job_window = categorical_distribution(
        [{"value": "retired", "count": 200}, {"value": "student", "count": 100}],
        ["admin"] * 50 + ["student"] * 30 + ["retired"] * 20,
    )
    drift.distributions = [
        Distribution(
            feature="age", distance=0.42, threshold=0.2, buckets=age_labels, baseline=age_base, window=age_window
        ),
        Distribution(
            feature="job", distance=0.33, threshold=0.2, buckets=job_labels, baseline=job_base, window=job_window
        ),
    ]
    return RunReport(
        model="drifty",
        run_id="drifty-drift-20261201T123000",
        trigger="drift",
        status="SUCCEEDED",
        generated_at=GENERATED,
        training=training_from_history(
            {
                "metrics": {"auc": [0.7 + r / 200 for r in range(30)]},
                "attempts": [{"attempt": 1, "started_at_round": 0, "last_round": 30, "ended": "completed"}],
            },
            "auc",
            [],
        ),
        evaluation=evaluation_from(EVALUATION, GATE, "auc"),
        rollout=Unavailable(why="the run started no rollout (status REJECTED)"),
        drift=drift,
    )
