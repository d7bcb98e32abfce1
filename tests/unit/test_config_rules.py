"""Upload-time config rules: each value that would fail later is rejected, naming the field and what to do."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from driftline import config_rules
from driftline.config import parse_model_config
from driftline.errors import InvalidModelConfig

REPO = Path(__file__).resolve().parents[2]
BINARY = "name: churn\nproblem_type: binary_classification\ntarget: churned\n"
REGRESSION = "name: price\nproblem_type: regression\ntarget: price\n"


def rejected(text: str) -> str:
    with pytest.raises(InvalidModelConfig) as raised:
        parse_model_config(text)
    return str(raised.value)


# --- monitoring.schedule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(7 days)",
        "cron(0 * * * ? *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "cron(0 12 L * ? *)",
        "cron(0 12 ? * 6L 2027)",
        "cron(0 12 ? * 3#2 *)",
        "cron(30 2 15W JAN,JUL ? *)",
    ],
)
def test_valid_schedules_are_accepted(schedule):
    assert parse_model_config(BINARY + f"monitoring:\n  schedule: '{schedule}'\n").monitoring.schedule == schedule


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        ("whenever", "not an EventBridge schedule expression"),
        ("rate(1 hours)", "singular unit for 1: rate(1 hour)"),
        ("rate(5 hour)", "plural unit for 5: rate(5 hours)"),
        ("rate(0 minutes)", "positive"),
        ("rate(2 weeks)", "'weeks' is not a rate unit"),
        ("rate(1 hour) ", "spaces around it"),
        ("cron(0 * * * *)", "has 5 fields, cron needs 6"),
        ("cron(0 * * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(61 * * * ? *)", "the minutes field '61'"),
        ("cron(0 24 * * ? *)", "the hours field '24'"),
        ("cron(0 12 ? FOO * *)", "the month field 'FOO'"),
        ("cron(0 12 ? * 8 *)", "the day-of-week field '8'"),
        ("cron(0 12 * * ? 1969)", "the year field '1969'"),
        ("cron(0 ? * * ? *)", "the hours field '?'"),
    ],
)
def test_schedules_eventbridge_refuses_are_rejected(schedule, words):
    message = rejected(BINARY + f"monitoring:\n  schedule: '{schedule}'\n")

    assert message.startswith("monitoring.schedule: ")
    assert words in message


@pytest.mark.parametrize("schedule", ["rate(8 days)", "rate(169 hours)", "rate(10081 minutes)"])
def test_schedules_longer_than_the_drift_alarm_may_look_back_are_rejected(schedule):
    message = rejected(BINARY + f"monitoring:\n  schedule: '{schedule}'\n")

    assert "monitoring.schedule" in message and "at most 7 days" in message and "PutMetricAlarm" in message


def test_alarm_period_rules_follow_put_metric_alarm():
    assert config_rules.alarm_period_problem(60) is None
    assert config_rules.alarm_period_problem(604_800) is None
    assert "multiple of 60" in config_rules.alarm_period_problem(90)
    assert "at most one day" in config_rules.alarm_period_problem(60, evaluation_periods=1441)
    assert "at most 7 days" in config_rules.alarm_period_problem(3600, evaluation_periods=169)


def test_every_accepted_rate_gives_an_alarm_period_cloudwatch_accepts():
    for unit, limit in (("minutes", 10080), ("hours", 168), ("days", 7)):
        for value in (2, limit):
            schedule = f"rate({value} {unit})"
            assert config_rules.schedule_problem(schedule) is None
            assert config_rules.alarm_period_problem(max(60, config_rules.schedule_interval_seconds(schedule))) is None


def test_window_longer_than_seven_days_is_rejected():
    assert "monitoring.window_seconds: at most 604800" in rejected(BINARY + "monitoring:\n  window_seconds: 604801\n")


def test_model_monitor_schedule_must_be_a_sagemaker_name():
    message = rejected(BINARY + "monitoring:\n  model_monitor_schedule: my_schedule!\n")

    assert "monitoring.model_monitor_schedule: 'my_schedule!' is not a SageMaker monitoring schedule name" in message


def test_monitoring_without_captured_traffic_is_rejected():
    message = rejected(BINARY + "deployment:\n  data_capture_percent: 0\n")

    assert "deployment.data_capture_percent: 0 captures no traffic" in message
    assert parse_model_config(BINARY + "deployment:\n  data_capture_percent: 0\nmonitoring:\n  enabled: false\n")


def test_feature_thresholds_must_name_features():
    text = BINARY + "features:\n  - {name: age, type: numeric}\nmonitoring:\n  feature_thresholds: {agee: 0.3}\n"

    assert "monitoring.feature_thresholds.agee: not a feature of this model (did you mean 'age'?)" in rejected(text)


# --- gate.metric --------------------------------------------------------------------------------------------


def test_misspelt_gate_metric_is_rejected_with_a_hint():
    message = rejected(BINARY + "gate:\n  metric: precison\n")

    assert message.startswith("gate.metric: 'precison' is not a metric Driftline computes (did you mean 'precision'?")
    assert "use one of auc, accuracy, f1" in message


def test_near_miss_of_a_computed_metric_suggests_it():
    assert "did you mean 'accuracy'?" in rejected(BINARY + "gate:\n  metric: acuracy\n")


def test_metric_of_another_problem_type_is_rejected():
    message = rejected(REGRESSION + "gate:\n  metric: auc\n")

    assert "gate.metric: 'auc' is a binary_classification metric; for regression use one of rmse, mae, r2" in message


@pytest.mark.parametrize(("text", "metric"), [(BINARY, "f1"), (REGRESSION, "r2"), (REGRESSION, "mae")])
def test_computed_metrics_are_accepted(text, metric):
    assert parse_model_config(text + f"gate:\n  metric: {metric}\n").gate_metric == metric


def test_gate_bars_that_can_never_be_met_are_rejected():
    assert "gate.min_improvement_over_baseline: 1.0 can never be met" in rejected(
        BINARY + "gate:\n  min_improvement_over_baseline: 1.0\n"
    )
    assert "gate.min_value: auc lies in [0, 1]" in rejected(BINARY + "gate:\n  min_value: 75\n")


def test_gate_metrics_are_exactly_what_evaluate_computes():
    jobs = str(REPO / "jobs")
    sys.path.insert(0, jobs)
    try:
        spec = importlib.util.spec_from_file_location("driftline_job_evaluate_for_rules", REPO / "jobs" / "evaluate.py")
        evaluate = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(evaluate)
    finally:
        sys.path.remove(jobs)
    labels = np.array([0, 1, 0, 1, 2, 2], dtype=float)
    computed = {
        "binary_classification": evaluate.score("binary_classification", labels % 2, np.linspace(0.1, 0.9, 6)),
        "multiclass_classification": evaluate.score("multiclass_classification", labels, np.eye(3)[[0, 1, 0, 1, 2, 2]]),
        "regression": evaluate.score("regression", labels, labels + 0.5),
    }

    assert {p: set(m) for p, m in computed.items()} == {p: set(m) for p, m in config_rules.GATE_METRICS.items()}


# --- instance types ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "value", "words"),
    [
        ("training", "ml.banana.huge", "training.instance_type: 'ml.banana.huge' is not a SageMaker training"),
        ("training", "ml.m5.larg", "did you mean 'ml.m5.large'?"),
        ("training", "ml.inf2.xlarge", "it exists for hosting only"),
        ("processing", "ml.trn1.2xlarge", "processing.instance_type: 'ml.trn1.2xlarge' is not a SageMaker processing"),
        ("deployment", "ml.t3.medium", "deployment.instance_type: 'ml.t3.medium' is not a SageMaker hosting"),
        ("deployment", "ml.c7g.large", "Graviton (arm64)"),
    ],
)
def test_instance_types_must_exist_for_the_job_kind(section, value, words):
    assert words in rejected(BINARY + f"{section}:\n  instance_type: {value}\n")


def test_common_instance_types_are_accepted():
    text = BINARY + "training:\n  instance_type: ml.c5.2xlarge\nprocessing:\n  instance_type: ml.t3.large\n"
    text += "deployment:\n  instance_type: ml.t2.medium\n"

    assert parse_model_config(text).deployment.instance_type == "ml.t2.medium"


# --- hyperparameters --------------------------------------------------------------------------------------


def hyper(**values) -> str:
    return BINARY + "training:\n  hyperparameters:\n" + "".join(f"    {k}: {v}\n" for k, v in values.items())


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"max_depth": "deep"}, "training.hyperparameters.max_depth: must be a whole number, got 'deep'"),
        ({"max_depth": "-1"}, "max_depth: must be >= 0"),
        ({"max_depth": "3.5"}, "max_depth: must be a whole number, got 3.5"),
        ({"max_depth": "4.0"}, "max_depth: must be a whole number, got 4.0"),
        ({"eta": "1.5"}, "eta: must be in [0, 1], got 1.5"),
        ({"subsample": "0"}, "subsample: must be in (0, 1], got 0"),
        ({"num_round": "0"}, "num_round: must be >= 1"),
        ({"num_round": "true"}, "num_round: must be a whole number, got True"),
        ({"max_dept": "4"}, "max_dept: not an XGBoost parameter Driftline passes on (did you mean 'max_depth'?)"),
        ({"tree_method": "gpu_hist"}, "'gpu_hist' is not one of auto, exact, approx, hist"),
        ({"booster": "gblinear"}, "'gblinear' is not one of gbtree, dart"),
        ({"objective": "reg:squarederror"}, "'reg:squarederror' does not suit binary_classification"),
        ({"objective": "binary:logitraw"}, "use one of binary:logistic, binary:hinge"),
        ({"eval_metric": "acc"}, "eval_metric: 'acc' is not an XGBoost evaluation metric"),
        ({"seed": "7"}, "seed: set by Driftline, not by the config; set the top-level seed instead"),
        ({"num_class": "3"}, "num_class: set by Driftline"),
        ({"device": "cuda"}, "needs a GPU training.instance_type"),
    ],
)
def test_bad_hyperparameters_are_rejected(values, words):
    assert words in rejected(hyper(**values))


def test_typed_hyperparameters_are_accepted():
    config = parse_model_config(
        hyper(max_depth=0, grow_policy="lossguide", eta="0.05", subsample=1, num_round="'250'", eval_metric="error@0.6")
    )

    assert config.xgboost_hyperparameters()["num_round"] == "250"


def test_every_allowed_objective_and_eval_metric_is_known_to_xgboost():
    xgb = pytest.importorskip("xgboost")
    matrix = xgb.DMatrix(np.array([[0.0], [1.0], [2.0], [3.0]]), label=np.array([0.0, 1.0, 0.0, 1.0]))
    # gamma needs positive labels, reg:logistic labels in [0, 1]: such data rules are checked on the data, not here
    positive = xgb.DMatrix(np.array([[0.0], [1.0], [2.0], [3.0]]), label=np.array([0.5, 1.0, 0.5, 1.0]))
    for problem, objectives in config_rules.OBJECTIVES.items():
        for objective in objectives:
            params = {"objective": objective} | ({"num_class": 2} if problem.startswith("multi") else {})
            xgb.train(params, positive if problem == "regression" else matrix, num_boost_round=1)
    parameterized = ["error@0.6", "pre@3", "ndcg@3-", "map@2", "tweedie-nloglik@1.5"]
    assert all(config_rules.eval_metric_problem(m) is None for m in parameterized)
    for metric in [*config_rules.XGBOOST_EVAL_METRICS, *parameterized]:
        params = {"objective": "binary:logistic", "eval_metric": metric}
        if metric in {"merror", "mlogloss"}:
            params = {"objective": "multi:softprob", "num_class": 2, "eval_metric": metric}
        xgb.train(params, matrix, num_boost_round=1, evals=[(matrix, "train")], verbose_eval=False)


# --- runtimes and rollout -----------------------------------------------------------------------------------


def test_training_that_cannot_finish_within_the_pipelines_wait_is_rejected():
    message = rejected(BINARY + "training:\n  max_runtime_seconds: 36000\n  max_wait_seconds: 72000\n")

    assert "training: the longest training of a run (4 attempt(s) of up to 72000 s" in message
    assert "exceeds the pipeline's 172800 s wait" in message


def test_training_runtime_over_sagemakers_28_days_is_rejected():
    text = BINARY + "training:\n  use_spot: false\n  max_runtime_seconds: 2419201\n"

    assert "training.max_runtime_seconds: SageMaker allows at most 28 days" in rejected(text)


def test_processing_runtime_over_sagemakers_limit_is_rejected():
    assert "processing.max_runtime_seconds: SageMaker allows at most 777600" in rejected(
        BINARY + "processing:\n  max_runtime_seconds: 777601\n"
    )


def test_pipeline_wait_for_training_matches_the_state_machine():
    definition = json.loads((REPO / "statemachines" / "training_pipeline.asl.json").read_text())

    assert definition["States"]["Train the model"]["TimeoutSeconds"] == config_rules.TRAINING_WAIT_TIMEOUT_SECONDS


def test_guardrails_limits_are_checked():
    alarms = "".join(f"    - extra-{i}\n" for i in range(8))
    text = BINARY + "deployment:\n  strategy: guardrails\n  bake_seconds: 7200\n  extra_alarms:\n" + alarms

    message = rejected(text)

    assert "deployment.extra_alarms: SageMaker's auto-rollback takes at most 10 alarms" in message
    assert "deployment.bake_seconds: with strategy guardrails SageMaker bakes at most 3600 s" in message


def test_bake_with_more_alarm_checks_than_an_execution_holds_is_rejected():
    text = BINARY + "deployment:\n  bake_seconds: 86400\ntimings:\n  alarm_poll_seconds: 30\n"

    assert "deployment.bake_seconds: baking 86400 s at each of 3 steps" in rejected(text)
    assert parse_model_config(BINARY + "deployment:\n  bake_seconds: 86400\ntimings:\n  alarm_poll_seconds: 300\n")


def test_every_problem_is_reported_at_once():
    message = rejected(
        BINARY + "gate:\n  metric: precison\ntraining:\n  instance_type: ml.banana.huge\n  hyperparameters:\n"
        "    max_depth: deep\nmonitoring:\n  schedule: whenever\n"
    )

    for field in ("gate.metric", "training.instance_type", "training.hyperparameters.max_depth", "monitoring.schedule"):
        assert field in message


def test_upload_rules_and_the_local_clouds_put_rule_agree_on_schedules():
    eventbridge = pytest.importorskip("driftline_local.eventbridge")
    good = ["rate(1 minute)", "rate(7 days)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(0 12 ? * 3#2 *)"]
    bad = ["whenever", "rate(1 hours)", "rate(5 hour)", "rate(0 minutes)", "rate(2 weeks)", "cron(0 * * * *)"]
    bad += ["cron(61 * * * ? *)", "cron(0 * * * * *)", "cron(0 12 ? * 8 *)", "cron(0 12 * * ? 1969)"]
    bad += ["cron(0 ? * * ? *)"]

    for schedule in good:
        assert config_rules.schedule_problem(schedule) is None
        eventbridge.validate_schedule(schedule)
    for schedule in bad:
        assert config_rules.schedule_problem(schedule)
        with pytest.raises(ValueError):
            eventbridge.validate_schedule(schedule)


def _job_module(name: str):
    jobs = str(REPO / "jobs")
    sys.path.insert(0, jobs)
    try:
        spec = importlib.util.spec_from_file_location(f"driftline_job_{name}_for_rules", REPO / "jobs" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(jobs)


@pytest.mark.parametrize(
    "values",
    [
        {"max_depth": "'4'", "eta": "'0.1'", "subsample": 1, "colsample_bytree": 0.5, "eval_metric": "error@0.6"},
        {"max_depth": 0, "grow_policy": "lossguide", "max_leaves": 8, "tree_method": "approx", "max_bin": 16},
        {"booster": "dart", "one_drop": "true", "rate_drop": 0.1, "sample_type": "weighted", "verbosity": 0},
        {"disable_default_eval_metric": "true", "lambda": 2, "alpha": 0.5, "scale_pos_weight": 3, "gamma": 1},
    ],
)
def test_accepted_hyperparameters_reach_xgboost_in_a_form_it_accepts(values):
    """What the config accepts survives the training request (JSON values) and jobs/train.py's parsing."""
    xgb = pytest.importorskip("xgboost")
    train = _job_module("train")
    config = parse_model_config(hyper(**values))
    argv = [
        part for name, value in config.xgboost_hyperparameters().items() for part in (f"--{name}", json.dumps(value))
    ]
    _, params = train.parse_arguments(argv)
    rounds = params.pop("num_round", None) or 2
    matrix = xgb.DMatrix(np.array([[0.0], [1.0], [2.0], [3.0]]), label=np.array([0.0, 1.0, 0.0, 1.0]))

    xgb.train(params, matrix, num_boost_round=int(rounds), evals=[(matrix, "train")], verbose_eval=False)
