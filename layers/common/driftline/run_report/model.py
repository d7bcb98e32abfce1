"""What a run report shows, part by part. A part that could not be gathered is `Unavailable` with the reason."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from driftline.run_report.svg import Marker, Series


class Unavailable(BaseModel):
    why: str


class Attempt(BaseModel):
    attempt: int
    job: str | None = None
    started_at_round: int
    last_round: int
    ended: str | None = None


class TrainingPart(BaseModel):
    metric: str  # the one plotted (the gate metric when XGBoost reports it, else the first)
    series: list[Series]
    markers: list[Marker]
    attempts: list[Attempt]
    jobs: list[dict[str, Any]] = []  # the run's training jobs as on_training_state_change recorded them


class EvaluationPart(BaseModel):
    test_rows: int | None = None
    # metric -> {"candidate": v, "trivial baseline": v, "production": v}
    metrics: dict[str, dict[str, float | None]]
    gate_metric: str | None = None
    gate_summary: str | None = None
    production_note: str | None = None  # why production has no numbers (first model, not comparable)


class RolloutPart(BaseModel):
    strategy: str | None = None
    outcome: str  # promoted | rolled back | running | ...
    endpoint: str | None = None
    decided_by: str  # the alarm that decided, or what did
    alarm_reason: str | None = None
    share: list[Series]  # traffic share (%) per variant over time
    requests: list[Series] | Unavailable
    errors: list[Series] | Unavailable
    markers: list[Marker] = []


class Distribution(BaseModel):
    feature: str
    distance: float | None = None
    threshold: float | None = None
    buckets: list[str]
    baseline: list[float | None] | None  # shares; None when the baseline could not be read
    window: list[float | None]
    baseline_note: str | None = None


class DriftPart(BaseModel):
    monitor_job: str | None = None  # the window that started the run
    threshold: float | None = None
    series: list[Series]  # distance per feature over time (x = epoch seconds), plus the threshold
    left_out: int = 0  # features under the threshold throughout, not drawn
    drifted: list[dict[str, Any]]
    distributions: list[Distribution] | Unavailable


class Trial(BaseModel):
    job: str
    status: str | None = None
    params: dict[str, str] = {}
    objective: float | None = None
    failure_reason: str | None = None
    best: bool = False


class TuningPart(BaseModel):
    """training.tuning: the tuning job and every trial (tuned values, objective, status)."""

    job: str
    status: str | None = None
    strategy: str | None = None
    objective: str | None = None
    objective_type: str | None = None
    warm_start_parent: str | None = None
    failure_reason: str | None = None
    trials: list[Trial]


class RunReport(BaseModel):
    model: str
    run_id: str
    trigger: str | None = None
    status: str | None = None
    generated_at: str
    facts: dict[str, Any] = {}
    training: TrainingPart | Unavailable
    evaluation: EvaluationPart | Unavailable
    rollout: RolloutPart | Unavailable
    drift: DriftPart | Unavailable
    tuning: TuningPart | Unavailable | None = None  # None: the run did not tune
    # As the rollout's judges recorded them on the run (driftline.shadow, driftline.ab_test); None: not run.
    shadow_test: dict[str, Any] | None = None
    ab_test: dict[str, Any] | None = None
