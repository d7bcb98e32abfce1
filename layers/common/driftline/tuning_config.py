"""`training.tuning` in model.yaml: automatic model tuning (a SageMaker HyperParameterTuningJob).

The schema (`Tuning`) checks each field on its own; `tuning_problems(config)` checks what needs the
rest of the config (the objective against the eval metric XGBoost reports, ranges against the XGBoost
parameters, a tuned parameter that is also fixed). The limits are CreateHyperParameterTuningJob's
(API reference: ResourceLimits, ParameterRanges, CategoricalParameterRange, HyperbandStrategyConfig,
HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType); docs/internals.md cites each.
"""

import json
import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from driftline.config import ModelConfig

MAX_TUNED_PARAMETERS = 30  # ParameterRanges: the ranges of all three kinds together
MAX_CATEGORICAL_VALUES = 30  # CategoricalParameterRange.Values
MAX_CATEGORICAL_VALUE_LENGTH = 256
MAX_HYPERPARAMETERS = 100  # static + tunable (automatic-model-tuning-define-ranges)
MAX_PARENT_JOBS = 5  # HyperParameterTuningJobWarmStartConfig.ParentHyperParameterTuningJobs
# Metrics XGBoost reports where a higher value is better; every other eval metric is an error or a loss.
MAXIMIZED_METRICS = ("auc", "aucpr", "map", "ndcg", "pre")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """One tuned hyperparameter: `{min, max}` (integer or continuous) or `{values: [...]}` (categorical)."""

    type: Literal["continuous", "integer", "categorical"] | None = Field(
        None, description="inferred: values -> categorical; whole-number min and max -> integer; else continuous"
    )
    min: float | None = None
    max: float | None = None
    values: list[str | int | float] | None = None
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = "Auto"

    @property
    def kind(self) -> str:
        if self.type:
            return self.type
        if self.values is not None:
            return "categorical"
        whole = all(v is not None and float(v).is_integer() for v in (self.min, self.max))
        return "integer" if whole else "continuous"

    @model_validator(mode="after")
    def _shape(self) -> "Range":
        kind = self.kind
        if kind == "categorical":
            if not self.values:
                raise ValueError("a categorical range needs values: [...]")
            if self.min is not None or self.max is not None:
                raise ValueError("a categorical range has values, not min/max")
            if len(self.values) > MAX_CATEGORICAL_VALUES:
                raise ValueError(f"at most {MAX_CATEGORICAL_VALUES} values (SageMaker's limit), got {len(self.values)}")
            if len({str(v) for v in self.values}) != len(self.values):
                raise ValueError("values must be distinct")
            # The request carries each value JSON-encoded (driftline.tuning: script mode reads JSON), quotes and all.
            if any(len(json.dumps(v)) > MAX_CATEGORICAL_VALUE_LENGTH for v in self.values):
                raise ValueError(
                    f"each value is at most {MAX_CATEGORICAL_VALUE_LENGTH} characters once JSON-encoded "
                    f"({MAX_CATEGORICAL_VALUE_LENGTH - 2} for a text value, which is sent in quotes)"
                )
            if self.scaling != "Auto":
                raise ValueError("scaling applies to integer and continuous ranges only")
            return self
        if self.values is not None:
            raise ValueError(f"an {kind} range has min and max, not values")
        if self.min is None or self.max is None:
            raise ValueError(f"an {kind} range needs both min and max")
        if not (math.isfinite(self.min) and math.isfinite(self.max)) or self.min >= self.max:
            raise ValueError(f"min must be less than max, got min {self.min} and max {self.max}")
        if kind == "integer" and not (float(self.min).is_integer() and float(self.max).is_integer()):
            raise ValueError("an integer range needs whole-number min and max")
        if self.scaling == "Logarithmic" and self.min <= 0:
            raise ValueError("Logarithmic scaling needs min > 0")
        if self.scaling == "ReverseLogarithmic":
            if kind != "continuous":
                raise ValueError("ReverseLogarithmic scaling applies to continuous ranges only")
            if not (self.min >= 0 and self.max < 1):
                raise ValueError("ReverseLogarithmic scaling needs 0 <= min < max < 1")
        return self


class Hyperband(_Strict):
    """HyperbandStrategyConfig: the resource is boosting rounds (XGBoost's epochs)."""

    min_resource: int = Field(1, ge=1, description="rounds a trial gets before Hyperband may stop it")
    max_resource: int = Field(100, ge=1, description="rounds a trial may run at most")

    @model_validator(mode="after")
    def _ordered(self) -> "Hyperband":
        if self.min_resource > self.max_resource:
            raise ValueError("min_resource must be at most max_resource")
        return self


class Tuning(_Strict):
    objective: str | None = Field(None, description="validation:<eval metric>; default: the eval metric XGBoost uses")
    objective_type: Literal["Maximize", "Minimize"] | None = Field(None, description="default: from the metric")
    strategy: Literal["Bayesian", "Random", "Hyperband"] = "Bayesian"
    max_jobs: int = Field(10, ge=1, description="training jobs the tuning job may launch (trials)")
    max_parallel_jobs: int = Field(2, ge=1, description="trials running at the same time")
    max_runtime_seconds: int | None = Field(None, ge=120, le=15_768_000, description="the whole tuning job")
    ranges: dict[str, Range] = Field(min_length=1)
    early_stopping: bool = Field(False, description="SageMaker stops trials unlikely to beat the best so far")
    warm_start: bool = Field(True, description="start from the production model's tuning job (TRANSFER_LEARNING)")
    hyperband: Hyperband | None = Field(None, description="Hyperband only")
    random_seed: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "Tuning":
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError(f"max_parallel_jobs ({self.max_parallel_jobs}) cannot exceed max_jobs ({self.max_jobs})")
        if len(self.ranges) > MAX_TUNED_PARAMETERS:
            raise ValueError(f"ranges: at most {MAX_TUNED_PARAMETERS} tuned hyperparameters (SageMaker's limit)")
        if self.strategy == "Hyperband" and self.early_stopping:
            raise ValueError(
                "early_stopping cannot be used with strategy Hyperband: Hyperband stops trials itself "
                "(SageMaker requires TrainingJobEarlyStoppingType OFF)"
            )
        if self.hyperband is not None and self.strategy != "Hyperband":
            raise ValueError("hyperband: applies only with strategy Hyperband")
        return self

    def objective_metric(self, eval_metric: str) -> str:
        return self.objective or f"validation:{eval_metric}"

    def objective_direction(self, eval_metric: str) -> str:
        if self.objective_type:
            return self.objective_type
        metric = self.objective_metric(eval_metric).removeprefix("validation:")
        return "Maximize" if metric.split("@")[0] in MAXIMIZED_METRICS else "Minimize"


def tuning_problems(config: "ModelConfig") -> list[str]:
    """Upload-time rules of training.tuning that need the rest of the config."""
    from driftline.config_rules import RESERVED_PARAMS, XGBOOST_PARAMS, suggest

    tuning = config.training.tuning
    if tuning is None:
        return []
    found: list[str] = []
    where = "training.tuning"
    eval_metric = str(config.xgboost_hyperparameters()["eval_metric"])
    objective = tuning.objective_metric(eval_metric)
    if objective != f"validation:{eval_metric}":
        found.append(
            f"{where}.objective: '{objective}' is not reported by training; the trials report "
            f"validation:{eval_metric} (the eval_metric). Set objective: validation:{eval_metric}, or set "
            f"training.hyperparameters.eval_metric to the metric you want to tune for"
        )
    fixed = config.training.hyperparameters
    for name, spec in tuning.ranges.items():
        here = f"{where}.ranges.{name}"
        if name in RESERVED_PARAMS or name.startswith("sagemaker_") or name.startswith("_"):
            found.append(f"{here}: set by Driftline or SageMaker, it cannot be tuned")
            continue
        param = XGBOOST_PARAMS.get(name)
        if param is None:
            found.append(f"{here}: not an XGBoost parameter Driftline passes on{suggest(name, XGBOOST_PARAMS)}")
            continue
        if name in fixed:
            found.append(
                f"{here}: also set in training.hyperparameters; a hyperparameter is either fixed or tuned "
                "(SageMaker refuses one that is both static and tunable): remove one of them"
            )
        if name in ("objective", "eval_metric"):
            found.append(f"{here}: tuning the {name} changes what the trials are compared on; fix it instead")
            continue
        kind = spec.kind
        if param.kind is int and kind == "continuous":
            found.append(f"{here}: {name} is a whole number; give whole-number min and max (an integer range)")
        elif param.kind in (int, float) and kind == "categorical":
            bad = [v for v in spec.values or [] if not _number(v)]
            if bad:
                found.append(f"{here}: {name} is a number; {bad[0]!r} is not")
        elif param.kind is str and kind != "categorical":
            found.append(f"{here}: {name} takes names, so its range is values: [...]")
        elif param.kind is bool:
            found.append(f"{here}: {name} is true or false; set it in training.hyperparameters instead of tuning it")
        if kind in ("integer", "continuous") and spec.min is not None and spec.max is not None:
            for bound in (spec.min, spec.max):
                typed = int(bound) if param.kind is int else float(bound)
                if not param.check(typed):
                    found.append(f"{here}: {bound:g} is outside what {name} accepts ({param.rule})")
                    break
        if param.choices and kind == "categorical":
            unknown = [v for v in spec.values or [] if str(v) not in param.choices]
            if unknown:
                found.append(f"{here}: '{unknown[0]}' is not one of {', '.join(param.choices)}")
    if len(fixed) + len(tuning.ranges) > MAX_HYPERPARAMETERS:
        found.append(f"{where}: at most {MAX_HYPERPARAMETERS} hyperparameters in all, fixed and tuned")
    if tuning.strategy == "Hyperband":
        rounds = int(config.xgboost_hyperparameters()["num_round"])
        if tuning.hyperband and tuning.hyperband.max_resource > rounds:
            band = tuning.hyperband
            found.append(
                f"{where}.hyperband.max_resource: {band.max_resource} rounds is more than num_round ({rounds})"
            )
    return found


def _number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True
