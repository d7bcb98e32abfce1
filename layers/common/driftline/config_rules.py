"""Upload-time rules for a model config: every value that AWS, XGBoost or Driftline would refuse later.

`ModelConfig` (driftline.config) is the schema: types and simple bounds, used both at upload and when
a stored config is read back. The rules here run only when a model.yaml is uploaded
(`parse_model_config`), so tightening them never makes an already active config unreadable. Each
problem is one sentence that names the field, says what is wrong and what to do.

Sources (docs/internals.md, "Config rules at upload", has the full list):
- EventBridge schedule expressions: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
  and .../eb-rate-expressions.html
- CloudWatch PutMetricAlarm Period/EvaluationPeriods: botocore cloudwatch service-2.json (PutMetricAlarmInput)
- SageMaker limits: botocore sagemaker service-2.json (StoppingCondition, ProcessingMaxRuntimeInSeconds,
  AlarmList, WaitIntervalInSeconds, MonitoringScheduleName, the instance-type enums)
- XGBoost parameters: https://xgboost.readthedocs.io/en/stable/parameter.html (dmlc/xgboost doc/parameter.rst)
- Step Functions quotas (25,000 history events, one year per standard execution):
  https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftline.tuning_config import tuning_problems

if TYPE_CHECKING:
    from driftline.config import ModelConfig

# --- limits and the files they come from ---------------------------------------------------------------

MINUTE, HOUR, DAY = 60, 3600, 86400
# PutMetricAlarm: Period x EvaluationPeriods <= 604,800 s (7 days); <= 86,400 s when Period < 3,600 s.
# The drift alarm has EvaluationPeriods 1 and Period = the schedule's interval (monitoring.put_drift_alarm).
ALARM_MAX_EVALUATION_SECONDS = 7 * DAY
ALARM_MAX_EVALUATION_SECONDS_SHORT_PERIOD = DAY
MAX_WINDOW_SECONDS = 7 * DAY
TRAINING_MAX_RUNTIME_SECONDS = 28 * DAY  # StoppingCondition.MaxRuntimeInSeconds: "The maximum value is 28 days"
PROCESSING_MAX_RUNTIME_SECONDS = 777_600  # ProcessingMaxRuntimeInSeconds max (9 days)
# statemachines/training_pipeline.asl.json, "Train the model": TimeoutSeconds of the task-token wait that
# spans every training attempt of a run (spot successors and the on-demand fallback).
TRAINING_WAIT_TIMEOUT_SECONDS = 172_800
GUARDRAILS_MAX_WAIT_INTERVAL_SECONDS = 3600  # TrafficRoutingConfig.WaitIntervalInSeconds max
GUARDRAILS_MAX_ALARMS = 10  # AutoRollbackConfig.Alarms (AlarmList) max
CANDIDATE_ALARMS = 3  # driftline.alarms: 5xx, model-errors, latency
DESCRIBE_ALARMS_MAX_NAMES = 100  # DescribeAlarms AlarmNames max
ALARM_NAME_MAX = 255
# CanaryRollout bakes in a loop (Watch the candidate -> What did the watch find? -> Bake at this traffic
# step -> Keep the bake clock): about 11 history events per poll. A standard execution holds at most
# 25,000 events, so the polls of all steps together must stay well below 25,000 / 11.
MAX_BAKE_POLLS = 2000
SFN_MAX_EXECUTION_SECONDS = 365 * DAY
MONITORING_SCHEDULE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

# Metrics jobs/evaluate.py computes, per problem type (tests/unit/test_config_rules.py keeps this in sync).
GATE_METRICS = {
    "binary_classification": ("auc", "accuracy", "f1"),
    "multiclass_classification": ("auc", "accuracy", "f1"),
    "regression": ("rmse", "mae", "r2"),
}
_BOUNDED_METRICS = {"auc", "accuracy", "f1"}  # in [0, 1]
# Names people type that Driftline does not compute: for "did you mean" hints only.
_OTHER_METRICS = (
    "precision",
    "recall",
    "logloss",
    "mlogloss",
    "mse",
    "mape",
    "aucpr",
    "roc_auc",
    "balanced_accuracy",
    "rmsle",
    "error",
    "merror",
)


def closest(value: Any, choices: Any) -> str | None:
    close = difflib.get_close_matches(str(value).lower(), [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(value: Any, choices: Any) -> str:
    """` (did you mean 'x'?)` for the closest choice, or nothing."""
    found = closest(value, choices)
    return f" (did you mean '{found}'?)" if found else ""


# --- schedule ---------------------------------------------------------------------------------------------

_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNITS = {"minute": MINUTE, "hour": HOUR, "day": DAY}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, lowest, highest, names for values, extra wildcards)
_CRON_FIELDS = [
    ("minutes", 0, 59, None, ""),
    ("hours", 0, 23, None, ""),
    ("day-of-month", 1, 31, None, "?LW"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 1, 7, _DAYS, "?L#"),
    ("year", 1970, 2199, None, ""),
]
_SCHEDULE_HELP = (
    "use rate(N unit) with unit minute|hour|day (plural when N > 1), e.g. rate(1 hour), "
    "rate(30 minutes), or cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 * * * ? *)"
)


def schedule_problem(schedule: str) -> str | None:
    """Why EventBridge's PutRule would refuse `schedule`, or None."""
    if schedule != schedule.strip():
        return f"'{schedule}' has spaces around it; {_SCHEDULE_HELP}"
    rate = _RATE.match(schedule)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        singular = unit.rstrip("s")
        if singular not in _UNITS or unit not in (singular, singular + "s"):
            units = ["minute", "minutes", "hour", "hours", "day", "days"]
            return f"'{unit}' is not a rate unit{suggest(unit, units)}; {_SCHEDULE_HELP}"
        if value < 1:
            return f"'{schedule}': the rate must be a positive number; {_SCHEDULE_HELP}"
        if value == 1 and unit != singular:
            return f"'{schedule}': EventBridge needs the singular unit for 1: rate(1 {singular})"
        if value > 1 and unit == singular:
            return f"'{schedule}': EventBridge needs the plural unit for {value}: rate({value} {singular}s)"
        return None
    cron = _CRON.match(schedule)
    if cron:
        return _cron_problem(schedule, cron.group(1).split())
    return f"'{schedule}' is not an EventBridge schedule expression; {_SCHEDULE_HELP}"


def _cron_problem(schedule: str, fields: list[str]) -> str | None:
    if len(fields) != 6:
        return f"'{schedule}' has {len(fields)} fields, cron needs 6; {_SCHEDULE_HELP}"
    for text, (name, low, high, names, extra) in zip(fields, _CRON_FIELDS, strict=True):
        if not _cron_field_ok(text, low, high, names, extra):
            span = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
            wildcards = ", - * /" + "".join(f" {c}" for c in extra)
            return f"'{schedule}': the {name} field '{text}' is not valid (values {span}, wildcards {wildcards})"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return (
            f"'{schedule}': exactly one of day-of-month and day-of-week must be '?' "
            "(EventBridge cannot combine both), e.g. cron(0 12 * * ? *)"
        )
    return None


def _cron_field_ok(text: str, low: int, high: int, names: list[str] | None, extra: str) -> bool:
    if text == "?":
        return "?" in extra
    if "#" in extra and re.fullmatch(r"[^,#]+#[1-5]", text):  # 3#2: the second Tuesday
        return _cron_value(text.split("#")[0], low, high, names) is not None
    if "L" in extra and (text == "L" or (text == "LW" and "W" in extra)):
        return True
    if "L" in extra and "#" in extra and text.endswith("L"):  # 6L: the last Friday
        return _cron_value(text[:-1], low, high, names) is not None
    if "W" in extra and text.endswith("W"):  # 15W: the weekday nearest the 15th
        return _cron_value(text[:-1], low, high, names) is not None
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            return False
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        start = _cron_value(first, low, high, names)
        if start is None or (dash and _cron_value(last, low, high, names) is None):
            return False
    return True


def _cron_value(text: str, low: int, high: int, names: list[str] | None) -> int | None:
    if names and text.upper() in names:
        return names.index(text.upper()) + low
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    return None


def schedule_interval_seconds(schedule: str) -> int:
    """The period a valid schedule repeats with; cron schedules count as hourly (monitoring.interval_seconds)."""
    rate = _RATE.match(schedule.strip())
    if not rate:
        return HOUR
    return int(rate.group(1)) * _UNITS.get(rate.group(2).rstrip("s"), HOUR)


def alarm_period_problem(period: int, evaluation_periods: int = 1) -> str | None:
    """Why PutMetricAlarm would refuse this Period/EvaluationPeriods, or None."""
    if period not in (10, 20, 30) and period % 60:
        return f"the alarm period {period} s must be 10, 20, 30 or a multiple of 60"
    total = period * evaluation_periods
    if period < HOUR and total > ALARM_MAX_EVALUATION_SECONDS_SHORT_PERIOD:
        return f"periods under an hour may span at most one day, not {total} s"
    if total > ALARM_MAX_EVALUATION_SECONDS:
        return f"an alarm may look back at most 7 days ({ALARM_MAX_EVALUATION_SECONDS} s), not {total} s"
    return None


# --- XGBoost hyperparameters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    kind: type  # int, float, str or bool
    check: Callable[[Any], bool] = lambda _value: True
    rule: str = ""
    choices: tuple[str, ...] = ()


def _between(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below

    return check


def _at_least(low: float, *, open_: bool = False) -> Callable[[Any], bool]:
    return _between(low, math.inf, low_open=open_)


_UNIT = Param(float, _between(0, 1), "in [0, 1]")
_FRACTION = Param(float, _between(0, 1, low_open=True), "in (0, 1]")
_NON_NEGATIVE = Param(float, _at_least(0), ">= 0")
# The parameters of XGBoost's tree boosters (and Driftline's num_round) that jobs/train.py passes on.
XGBOOST_PARAMS: dict[str, Param] = {
    "num_round": Param(int, _at_least(1), ">= 1"),
    "eta": _UNIT,
    "learning_rate": _UNIT,
    "gamma": _NON_NEGATIVE,
    "min_split_loss": _NON_NEGATIVE,
    "max_depth": Param(int, _at_least(0), ">= 0 (0: no limit, with grow_policy lossguide)"),
    "min_child_weight": _NON_NEGATIVE,
    "max_delta_step": _NON_NEGATIVE,
    "subsample": _FRACTION,
    "sampling_method": Param(str, choices=("uniform", "gradient_based")),
    "colsample_bytree": _FRACTION,
    "colsample_bylevel": _FRACTION,
    "colsample_bynode": _FRACTION,
    "lambda": _NON_NEGATIVE,
    "reg_lambda": _NON_NEGATIVE,
    "alpha": _NON_NEGATIVE,
    "reg_alpha": _NON_NEGATIVE,
    "tree_method": Param(str, choices=("auto", "exact", "approx", "hist")),
    "scale_pos_weight": _NON_NEGATIVE,
    "grow_policy": Param(str, choices=("depthwise", "lossguide")),
    "max_leaves": Param(int, _at_least(0), ">= 0"),
    "max_bin": Param(int, _at_least(2), ">= 2"),
    "num_parallel_tree": Param(int, _at_least(1), ">= 1"),
    "monotone_constraints": Param(str),
    "interaction_constraints": Param(str),
    "booster": Param(str, choices=("gbtree", "dart")),
    "sample_type": Param(str, choices=("uniform", "weighted")),
    "normalize_type": Param(str, choices=("tree", "forest")),
    "rate_drop": _UNIT,
    "skip_drop": _UNIT,
    "one_drop": Param(bool),
    "device": Param(str, choices=("cpu", "cuda", "gpu")),
    "verbosity": Param(int, _between(0, 3), "0, 1, 2 or 3"),
    "nthread": Param(int, _at_least(1), ">= 1"),
    "disable_default_eval_metric": Param(bool),
    "base_score": Param(float),
    "objective": Param(str),  # checked against the problem type below
    "eval_metric": Param(str),  # checked against XGBOOST_EVAL_METRICS below
    "tweedie_variance_power": Param(float, _between(1, 2, low_open=True, high_open=True), "in (1, 2)"),
    "huber_slope": Param(float, _at_least(0, open_=True), "> 0"),
    "max_cat_to_onehot": Param(int, _at_least(1), ">= 1"),
    "max_cached_hist_node": Param(int, _at_least(1), ">= 1"),
}
# Set by Driftline itself: a value in the config would be overwritten or break the run.
RESERVED_PARAMS = {
    "seed": "set the top-level seed instead",
    "random_state": "set the top-level seed instead",
    "num_class": "Driftline sets it from the classes in the data",
    "checkpoint_dir": "Driftline sets the checkpoint path",
    "checkpoint_interval": "set training.checkpoint_interval instead",
}
# Objectives whose predictions jobs/evaluate.py and jobs/inference.py read correctly (probabilities for
# binary, class probabilities or indices for multiclass, values for regression).
OBJECTIVES = {
    "binary_classification": ("binary:logistic", "binary:hinge"),
    "multiclass_classification": ("multi:softprob", "multi:softmax"),
    "regression": (
        "reg:squarederror",
        "reg:squaredlogerror",
        "reg:pseudohubererror",
        "reg:absoluteerror",
        "reg:logistic",
        "reg:gamma",
        "reg:tweedie",
        "count:poisson",
    ),
}
XGBOOST_EVAL_METRICS = (
    "rmse",
    "rmsle",
    "mae",
    "mape",
    "mphe",
    "logloss",
    "error",
    "merror",
    "mlogloss",
    "auc",
    "aucpr",
    "pre",
    "ndcg",
    "map",
    "poisson-nloglik",
    "gamma-nloglik",
    "gamma-deviance",
)
# error@t, pre@n, ndcg@n, map@n (optionally ending in '-') and tweedie-nloglik@rho, which needs its rho
_PARAMETERIZED_METRIC = re.compile(r"^(error@[0-9.]+|(pre|ndcg|map)@[0-9]+-?|tweedie-nloglik@[0-9.]+)$")
_GPU_FAMILY = re.compile(r"^ml\.(p\d|g\d)")


def _typed(param: Param, value: Any) -> tuple[bool, Any]:
    """(ok, value as the param's type); YAML gives numbers, booleans and strings."""
    if param.kind is bool:
        if isinstance(value, bool) or value in (0, 1):
            return True, bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "0", "1"):
            return True, value.lower() in ("true", "1")
        return False, value
    if isinstance(value, bool):
        return False, value
    if param.kind is int:
        if isinstance(value, int):
            return True, value
        # 4.0 is refused too: it reaches XGBoost as "4.0", which its integer parameters do not parse
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return True, int(value)
        return False, value
    if param.kind is float:
        if isinstance(value, int | float):
            return math.isfinite(value), float(value)
        try:
            number = float(value)
        except ValueError:
            return False, value
        return math.isfinite(number), number
    return isinstance(value, str), value


_KIND_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}


def eval_metric_problem(value: str) -> str | None:
    if value in XGBOOST_EVAL_METRICS or _PARAMETERIZED_METRIC.match(value):
        return None
    if value == "tweedie-nloglik":
        return "'tweedie-nloglik' needs its variance power: tweedie-nloglik@1.5"
    return f"'{value}' is not an XGBoost evaluation metric{suggest(value, XGBOOST_EVAL_METRICS)}"


def hyperparameter_problems(hyperparameters: dict[str, Any], problem_type: str, instance_type: str) -> list[str]:
    problems = []
    for name, raw in hyperparameters.items():
        where = f"training.hyperparameters.{name}"
        if name in RESERVED_PARAMS or name.startswith("sagemaker_"):
            problems.append(f"{where}: set by Driftline, not by the config; {RESERVED_PARAMS.get(name, 'remove it')}")
            continue
        param = XGBOOST_PARAMS.get(name)
        if param is None:
            problems.append(
                f"{where}: not an XGBoost parameter Driftline passes on{suggest(name, XGBOOST_PARAMS)}; "
                "XGBoost would ignore it with a warning, so fix the name or remove it"
            )
            continue
        ok, value = _typed(param, raw)
        if not ok:
            problems.append(f"{where}: must be {_KIND_WORDS[param.kind]}, got {raw!r}")
        elif param.choices and value not in param.choices:
            choices = ", ".join(param.choices)
            problems.append(f"{where}: '{value}' is not one of {choices}{suggest(value, param.choices)}")
        elif not param.check(value):
            problems.append(f"{where}: must be {param.rule}, got {raw!r}")
        elif name == "objective" and value not in OBJECTIVES[problem_type]:
            allowed = OBJECTIVES[problem_type]
            problems.append(
                f"{where}: '{value}' does not suit {problem_type}{suggest(value, allowed)}; "
                f"use one of {', '.join(allowed)} (Driftline reads the predictions these produce)"
            )
        elif name == "eval_metric" and eval_metric_problem(value):
            problems.append(f"{where}: {eval_metric_problem(value)}")
        elif name == "device" and value != "cpu" and not _GPU_FAMILY.match(instance_type):
            problems.append(
                f"{where}: '{value}' needs a GPU training.instance_type (ml.g*/ml.p*), "
                f"not {instance_type}; use device: cpu or a GPU instance"
            )
    return problems


# --- instance types ---------------------------------------------------------------------------------------

_ARM_FAMILY = re.compile(r"^ml\.[a-z]+\d+g[a-z]*\.")  # Graviton: c6g, c7g, m6gd, r8g, c6gn ...


def instance_type_problem(kind: str, value: str) -> str | None:
    from driftline import instance_types  # a few hundred names; only the config upload needs them

    known = {
        "training": instance_types.TRAINING,
        "processing": instance_types.PROCESSING,
        "hosting": instance_types.HOSTING,
        "transform": instance_types.TRANSFORM,
    }[kind]
    if value not in known:
        other = [
            k
            for k, names in (
                ("training", instance_types.TRAINING),
                ("processing", instance_types.PROCESSING),
                ("hosting", instance_types.HOSTING),
            )
            if value in names
        ]
        elsewhere = f"; it exists for {' and '.join(other)} only" if other else ""
        return (
            f"'{value}' is not a SageMaker {kind} instance type{suggest(value, known)}{elsewhere}; "
            "see https://aws.amazon.com/sagemaker/pricing/ for the types per job kind"
        )
    if kind == "hosting" and _ARM_FAMILY.match(value):
        return (
            f"'{value}' is a Graviton (arm64) instance; the XGBoost 3.x serving image Driftline deploys is "
            "x86_64 only. Use an x86 type such as ml.m5.large or ml.c6i.large"
        )
    return None


# --- all rules --------------------------------------------------------------------------------------------


def problems(config: ModelConfig) -> list[str]:
    """Every upload-time problem of a schema-valid config, each naming its field."""
    found: list[str] = []
    found += _instance_problems(config)
    found += _runtime_problems(config)
    found += hyperparameter_problems(
        config.training.hyperparameters, config.problem_type.value, config.training.instance_type
    )
    found += _gate_problems(config)
    found += _deployment_problems(config)
    found += _monitoring_problems(config)
    found += tuning_problems(config)
    return found


def _instance_problems(config: ModelConfig) -> list[str]:
    found = []
    for field, kind, value in (
        ("training.instance_type", "training", config.training.instance_type),
        ("processing.instance_type", "processing", config.processing.instance_type),
        ("deployment.instance_type", "hosting", config.deployment.instance_type),
        # Transform jobs take their own list (TransformInstanceType: no ml.t2/ml.t3, unlike hosting); same
        # x86 serving image as an endpoint.
        ("batch.instance_type", "transform", config.batch.instance_type),
    ):
        problem = instance_type_problem(kind, value)
        if problem:
            found.append(f"{field}: {problem}")
    return found


def _runtime_problems(config: ModelConfig) -> list[str]:
    found = []
    training = config.training
    if training.max_runtime_seconds > TRAINING_MAX_RUNTIME_SECONDS:
        found.append(
            f"training.max_runtime_seconds: SageMaker allows at most 28 days "
            f"({TRAINING_MAX_RUNTIME_SECONDS}), got {training.max_runtime_seconds}"
        )
    attempts = 1 + (training.max_spot_resumes if training.use_spot else 0)
    per_attempt = training.max_wait_seconds if training.use_spot else training.max_runtime_seconds
    fallback = training.max_runtime_seconds if training.use_spot and training.fallback_to_on_demand else 0
    worst = attempts * per_attempt + fallback
    if worst > TRAINING_WAIT_TIMEOUT_SECONDS:
        found.append(
            f"training: the longest training of a run ({attempts} attempt(s) of up to {per_attempt} s"
            f"{f' plus an on-demand fallback of {fallback} s' if fallback else ''} = {worst} s) exceeds the "
            f"pipeline's {TRAINING_WAIT_TIMEOUT_SECONDS} s wait for training; lower max_wait_seconds, "
            "max_runtime_seconds or max_spot_resumes"
        )
    if config.processing.max_runtime_seconds > PROCESSING_MAX_RUNTIME_SECONDS:
        found.append(
            f"processing.max_runtime_seconds: SageMaker allows at most {PROCESSING_MAX_RUNTIME_SECONDS} "
            f"(9 days), got {config.processing.max_runtime_seconds}"
        )
    return found


def _gate_problems(config: ModelConfig) -> list[str]:
    found = []
    problem = config.problem_type.value
    computed = GATE_METRICS[problem]
    metric = config.gate.metric
    if metric is not None and metric not in computed:
        elsewhere = [p for p, names in GATE_METRICS.items() if metric in names]
        near = closest(metric, computed) or closest(metric, _OTHER_METRICS)
        if elsewhere:
            why = f"'{metric}' is a {elsewhere[0]} metric"
        elif near in computed:
            why = f"'{metric}' is not a metric Driftline computes (did you mean '{near}'?)"
        elif near == metric:
            why = f"'{metric}' is not computed by Driftline's evaluation"
        elif near:
            why = f"'{metric}' is not a metric Driftline computes (did you mean '{near}'? it is not computed either)"
        else:
            why = f"'{metric}' is not a metric Driftline computes"
        found.append(f"gate.metric: {why}; for {problem} use one of {', '.join(computed)}")
    if config.gate.min_improvement_over_baseline >= 1:
        found.append(
            f"gate.min_improvement_over_baseline: {config.gate.min_improvement_over_baseline} can never be "
            "met (it is absolute for scores in [0, 1] and a fraction of the baseline's error for errors); "
            "use a value below 1, e.g. 0.05"
        )
    floor = config.gate.min_value
    if floor is not None and config.gate_metric in _BOUNDED_METRICS and not 0 <= floor <= 1:
        found.append(
            f"gate.min_value: {config.gate_metric} lies in [0, 1], so {floor} can never be met; use a value in [0, 1]"
        )
    return found


def _deployment_problems(config: ModelConfig) -> list[str]:
    found = []
    deployment = config.deployment
    for index, name in enumerate(deployment.extra_alarms):
        if not name.strip() or len(name) > ALARM_NAME_MAX:
            found.append(
                f"deployment.extra_alarms.{index}: a CloudWatch alarm name has 1-{ALARM_NAME_MAX} "
                "characters, not only spaces"
            )
    watched = CANDIDATE_ALARMS + len(deployment.extra_alarms)
    if deployment.strategy == "guardrails":
        if watched > GUARDRAILS_MAX_ALARMS:
            found.append(
                f"deployment.extra_alarms: SageMaker's auto-rollback takes at most {GUARDRAILS_MAX_ALARMS} "
                f"alarms and Driftline adds {CANDIDATE_ALARMS}; list at most "
                f"{GUARDRAILS_MAX_ALARMS - CANDIDATE_ALARMS}"
            )
        if deployment.bake_seconds > GUARDRAILS_MAX_WAIT_INTERVAL_SECONDS:
            found.append(
                f"deployment.bake_seconds: with strategy guardrails SageMaker bakes at most "
                f"{GUARDRAILS_MAX_WAIT_INTERVAL_SECONDS} s (WaitIntervalInSeconds), got "
                f"{deployment.bake_seconds}; lower it or use strategy canary"
            )
        return found
    if watched > DESCRIBE_ALARMS_MAX_NAMES:
        found.append(f"deployment.extra_alarms: at most {DESCRIBE_ALARMS_MAX_NAMES - CANDIDATE_ALARMS} alarms")
    polls_per_step = math.ceil(
        deployment.bake_seconds / max(1, min(config.timings.alarm_poll_seconds, deployment.bake_seconds))
    )
    polls = polls_per_step * len(deployment.traffic_steps_percent)
    if polls > MAX_BAKE_POLLS:
        found.append(
            f"deployment.bake_seconds: baking {deployment.bake_seconds} s at each of "
            f"{len(deployment.traffic_steps_percent)} steps with an alarm check every "
            f"{config.timings.alarm_poll_seconds} s is {polls} checks, more than a Step Functions execution's "
            f"history holds (about {MAX_BAKE_POLLS}); raise timings.alarm_poll_seconds or lower bake_seconds"
        )
    # shadow-canary's shadow test and ab's A/B test (extended once at most) are judged every alarm_poll_seconds too
    ab_waits = 2 * deployment.ab_quality_wait_seconds if "quality" in deployment.ab_metrics else 0
    tested = {"shadow-canary": deployment.shadow_seconds, "ab": 2 * deployment.ab_seconds + ab_waits}.get(
        deployment.strategy
    )
    if deployment.strategy == "ab" and "quality" in deployment.ab_metrics and not config.monitoring.quality.enabled:
        found.append(
            "deployment.ab_metrics: 'quality' compares the variants on labelled predictions, which needs "
            "monitoring.quality.enabled: true (labels dropped in labels/<model>/)"
        )
    if tested:
        checks = math.ceil(tested / max(1, min(config.timings.alarm_poll_seconds, tested)))
        checks += 0 if deployment.strategy == "ab" else polls
        if checks > MAX_BAKE_POLLS:
            what = "shadow_seconds" if deployment.strategy == "shadow-canary" else "ab_seconds"
            found.append(
                f"deployment.{what}: with an alarm check every {config.timings.alarm_poll_seconds} s the rollout "
                f"makes {checks} checks, more than a Step Functions execution's history holds (about "
                f"{MAX_BAKE_POLLS}); raise timings.alarm_poll_seconds or shorten the test"
            )
    total = deployment.bake_seconds * len(deployment.traffic_steps_percent)
    if total >= SFN_MAX_EXECUTION_SECONDS:
        found.append(f"deployment.bake_seconds: {total} s of baking exceeds a Step Functions execution's one year")
    return found


def _monitoring_problems(config: ModelConfig) -> list[str]:
    found = []
    monitoring = config.monitoring
    problem = schedule_problem(monitoring.schedule)
    if problem:
        found.append(f"monitoring.schedule: {problem}")
    else:
        interval = schedule_interval_seconds(monitoring.schedule)
        alarm = alarm_period_problem(max(MINUTE, interval))
        if alarm:
            found.append(
                f"monitoring.schedule: '{monitoring.schedule}' repeats every {interval} s, and the drift "
                f"alarm's period is that interval: {alarm} (CloudWatch PutMetricAlarm); "
                "use a schedule of at most rate(7 days)"
            )
    if monitoring.window_seconds is not None and monitoring.window_seconds > MAX_WINDOW_SECONDS:
        found.append(
            f"monitoring.window_seconds: at most {MAX_WINDOW_SECONDS} (7 days, the longest schedule), "
            f"got {monitoring.window_seconds}"
        )
    schedule_name = monitoring.model_monitor_schedule
    if schedule_name is not None and not MONITORING_SCHEDULE_NAME.match(schedule_name):
        found.append(
            f"monitoring.model_monitor_schedule: '{schedule_name}' is not a SageMaker monitoring schedule "
            "name (1-63 letters, digits and '-', starting and ending with a letter or digit)"
        )
    if monitoring.ks_test and schedule_name:
        found.append(
            "monitoring.ks_test: the KS test is reported by Driftline's own monitor, which does not run when "
            f"monitoring.model_monitor_schedule ('{schedule_name}') is set; remove one of the two"
        )
    if monitoring.instance_count > 1 and schedule_name:
        found.append(
            "monitoring.instance_count: Driftline's own monitor runs on these instances, and it does not run when "
            f"monitoring.model_monitor_schedule ('{schedule_name}') is set; remove one of the two"
        )
    if monitoring.enabled and not schedule_name and config.deployment.data_capture_percent == 0:
        found.append(
            "deployment.data_capture_percent: 0 captures no traffic, so the drift monitor would never "
            "judge anything; capture some traffic (e.g. 10) or set monitoring.enabled: false"
        )
    for name, threshold in monitoring.feature_thresholds.items():
        if not threshold > 0:
            found.append(f"monitoring.feature_thresholds.{name}: must be > 0, got {threshold}")
    if config.features:
        names = [f.name for f in config.features]
        for name in monitoring.feature_thresholds:
            if name not in names:
                found.append(
                    f"monitoring.feature_thresholds.{name}: not a feature of this model"
                    f"{suggest(name, names)}; features are {', '.join(names)}"
                )
    return found
