"""Domain errors. The class name is the contract: state machines route on it (`ErrorEquals`)."""

from __future__ import annotations


class DriftlineError(Exception):
    """Base of every error Driftline raises on purpose."""


class InvalidModelConfig(DriftlineError):
    """A `models/<model>/model.yaml` failed validation."""


class UnknownModel(DriftlineError):
    """Data arrived for a model that has no valid config yet."""


class InvalidDataset(DriftlineError):
    """An uploaded file cannot be used for training.

    `rule` names the check that failed (a stable word, e.g. `field-count`), `line` and `column` say
    where (1-based; `line` counts physical lines of the file, the header is line 1). The message never
    quotes the file's content: no cell values, and no column names but the model config's own.
    """

    def __init__(
        self, message: str, *, rule: str = "invalid", line: int | None = None, column: int | None = None
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.line = line
        self.column = column


class RunNotFound(DriftlineError):
    """A step asked for a run the state table does not know."""


class TrainingJobFailed(DriftlineError):
    """The training job ended in failure (its FailureReason is the message)."""


class TrainingJobStopped(DriftlineError):
    """A person (or another system) stopped the training job."""


class EvaluationMissing(DriftlineError):
    """The evaluation job finished but wrote no readable evaluation.json."""


class EndpointFailed(DriftlineError):
    """The endpoint went to Failed while deploying."""


class SpotResumeExhausted(DriftlineError):
    """Spot capacity was lost more often than `training.max_spot_resumes` allows, with no on-demand fallback."""


class TrainingTimedOut(DriftlineError):
    """The training job hit MaxRuntimeInSeconds."""


class RolloutInProgress(DriftlineError):
    """Another rollout of the same model is running; this candidate is refused, not queued."""


class EndpointNotSettled(DriftlineError):
    """The endpoint is not in a state a rollout can start from (e.g. it still serves two variants)."""


class InvalidSettings(DriftlineError):
    """The function's environment lacks a variable it needs (the message names it)."""


class ModelPaused(DriftlineError):
    """The model is paused: no retrain, no promotion, no automatic rollout until it is resumed."""
