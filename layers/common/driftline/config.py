"""The model config (`models/<model>/model.yaml`): only name, problem_type and target are required."""

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from driftline.errors import InvalidModelConfig
from driftline.tuning_config import Tuning

MODEL_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


class ProblemType(StrEnum):
    BINARY = "binary_classification"
    MULTICLASS = "multiclass_classification"
    REGRESSION = "regression"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Strict):
    name: str = Field(min_length=1)
    type: Literal["numeric", "categorical"]


class Split(_Strict):
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)


class Training(_Strict):
    instance_type: str = "ml.m5.large"
    # > 1: distributed XGBoost (its collective across the hosts); the train split is ShardedByS3Key, so it
    # needs at least this many files (a host without one trains on nothing)
    instance_count: int = Field(1, ge=1, le=100)
    # how the train and validation channels reach the container: File downloads them before the script
    # starts; FastFile streams them from S3 behind the same file paths (no script change). Pipe is refused:
    # it needs a script that reads FIFOs, which jobs/train.py does not (docs/decisions.md)
    input_mode: Literal["File", "FastFile"] = "File"
    volume_size_gb: int = Field(10, ge=1, le=512)
    max_runtime_seconds: int = Field(3600, ge=60)
    use_spot: bool = True
    # Spot jobs may wait for capacity up to this long in total (must be >= max_runtime_seconds).
    max_wait_seconds: int = Field(7200, ge=60)
    checkpoint_interval: int = Field(10, ge=1, description="boosting rounds between checkpoints")
    max_spot_resumes: int = Field(3, ge=0, description="successor spot jobs after capacity loss")
    fallback_to_on_demand: bool = Field(True, description="after max_spot_resumes, finish on demand")
    start_on_upload: bool = Field(True, description="false: uploads are validated and kept; drift starts runs")
    hyperparameters: dict[str, bool | int | float | str] = Field(default_factory=dict)
    # automatic model tuning: a HyperParameterTuningJob instead of one training job (driftline.tuning_config)
    tuning: Tuning | None = None

    @model_validator(mode="after")
    def _wait_covers_runtime(self) -> "Training":
        if self.use_spot and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError("max_wait_seconds must be >= max_runtime_seconds when use_spot is true")
        return self

    @model_validator(mode="after")
    def _distributed_tree_method(self) -> "Training":
        # XGBoost's collective trains with the hist and approx tree methods only; exact is single-node
        if self.instance_count > 1 and str(self.hyperparameters.get("tree_method", "hist")) not in ("hist", "approx"):
            raise ValueError(
                "hyperparameters.tree_method must be hist or approx when instance_count > 1 "
                "(distributed XGBoost has no exact method)"
            )
        return self


class Processing(_Strict):
    instance_type: str = "ml.m5.large"
    volume_size_gb: int = Field(10, ge=1, le=512)
    max_runtime_seconds: int = Field(3600, ge=60)
    # > 1: preprocessing runs as two sharded jobs (statistics, then encode) on this many instances
    instance_count: int = Field(1, ge=1, le=100)


class Gate(_Strict):
    metric: str | None = Field(None, description="defaults to auc (classification) or rmse (regression)")
    # A first model must beat the trivial baseline by this margin (absolute, in the metric's units;
    # for error metrics such as rmse, as a fraction of the baseline's error).
    min_improvement_over_baseline: float = Field(0.05, ge=0)
    # A later model may be at most this much worse than production on the same test set.
    max_regression_vs_production: float = Field(0.0, ge=0)
    min_value: float | None = Field(None, description="optional absolute floor (or ceiling for errors)")


ABMetric = Literal["error_rate", "latency", "quality"]  # what deployment.ab_metrics may name


class Deployment(_Strict):
    instance_type: str = "ml.m5.large"
    initial_instance_count: int = Field(1, ge=1)
    data_capture_percent: int = Field(100, ge=0, le=100)
    # canary: Step Functions shifts traffic step by step; guardrails: SageMaker's own blue/green canary;
    # shadow-canary: the candidate first answers a copy of production traffic as a SageMaker shadow variant
    # (its answers reach no caller) and is judged on errors, latency and disagreement before the canary starts.
    # ab: production and candidate serve side by side at ab_candidate_percent for ab_seconds, then a two-sided test
    # on ab_metrics decides: promote, keep production, or extend once (driftline.ab_test).
    strategy: Literal["canary", "guardrails", "shadow-canary", "ab"] = "canary"
    traffic_steps_percent: list[int] = Field(default_factory=lambda: [10, 50, 100])
    bake_seconds: int = Field(300, ge=1, description="watch the candidate this long at each step")
    max_latency_ms: int = Field(1000, ge=1, description="candidate ModelLatency average that rolls back")
    max_error_rate: float = Field(0.01, ge=0, le=1, description="candidate 5xx/model-error share that rolls back")
    extra_alarms: list[str] = Field(default_factory=list, description="more CloudWatch alarms to watch")
    # shadow-canary: how long the shadow test runs and what fails it (driftline.shadow)
    shadow_seconds: int = Field(600, ge=1, description="the candidate answers mirrored traffic this long")
    shadow_min_requests: int = Field(100, ge=1, description="fewer mirrored requests: the test cannot pass")
    shadow_max_error_rate: float = Field(0.01, ge=0, le=1, description="shadow 5xx share that stops the rollout")
    shadow_max_latency_ms: int = Field(1000, ge=1, description="shadow ModelLatency average that stops it")
    shadow_max_disagreement: float = Field(0.05, ge=0, le=1, description="share of labels differing (classification)")
    shadow_max_mean_abs_difference: float | None = Field(
        None, ge=0, description="regression: mean |shadow - production| that stops it (None: reported, not judged)"
    )
    # ab: the experiment's length, its traffic split and what decides it
    ab_seconds: int = Field(3600, ge=1, description="both variants serve side by side this long before deciding")
    ab_candidate_percent: int = Field(50, ge=1, le=99, description="share of requests the candidate answers")
    ab_min_requests: int = Field(1000, ge=1, description="per variant; fewer: extend once, then keep production")
    ab_metrics: list[ABMetric] = Field(default_factory=lambda: list[ABMetric](["error_rate", "latency"]))
    # quality (needs monitoring.quality): after ab_seconds, wait this long for labels of the A/B window's predictions
    ab_quality_wait_seconds: int = Field(3600, ge=0, description="then decide on the labels that arrived")
    ab_alpha: float = Field(0.05, gt=0, lt=1, description="two-sided significance level of every test")

    @field_validator("traffic_steps_percent")
    @classmethod
    def _increasing_to_100(cls, steps: list[int]) -> list[int]:
        if not steps or steps[-1] != 100 or any(not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
            raise ValueError("must be strictly increasing percentages between 1 and 100 that end at 100")
        return steps

    @model_validator(mode="after")
    def _guardrails_canary_size(self) -> "Deployment":
        # SageMaker's blue/green canary takes at most half of the new fleet in its first step.
        if self.strategy == "guardrails" and self.traffic_steps_percent[0] > 50:
            raise ValueError("with strategy guardrails, the first traffic step must be at most 50 (SageMaker's limit)")
        return self


class Quality(_Strict):
    """Model quality against delayed ground truth: labels/<model>/*.csv (inference_id,<target>) joined with capture."""

    enabled: bool = True
    # Labels arrive late: each run judges the predictions made this long before its window's end.
    label_delay_seconds: int = Field(0, ge=0, description="judge predictions this long after they were made")
    window_seconds: int | None = Field(None, ge=60, description="predictions per run (default: monitoring window)")
    min_labels: int = Field(100, ge=1, description="fewer labelled predictions: report, but judge nothing")
    # auc/accuracy/f1 may fall this far below the evaluation's test value (absolute) before it is a violation
    max_score_drop: float = Field(0.05, ge=0, le=1)
    # rmse/mae may rise this far above the evaluation's test value, as a fraction of it
    max_error_increase: float = Field(0.2, ge=0)


class Monitoring(_Strict):
    enabled: bool = True
    schedule: str = Field("rate(1 hour)", description="EventBridge schedule of the drift monitor")
    window_seconds: int | None = Field(None, ge=60, description="captured traffic per run (default: the schedule)")
    # PSI above this marks a feature drifted (0.1 slight, 0.2 significant is the usual reading).
    drift_threshold: float = Field(0.2, gt=0)
    feature_thresholds: dict[str, float] = Field(default_factory=dict)
    # PSI over 10 bins reads about 9/N on identical distributions: below a few hundred rows, noise alone
    # crosses 0.2 on some feature. Smaller windows are reported but not judged.
    min_records: int = Field(500, ge=1, description="fewer captured records: report, but judge no drift")
    drifted_features_to_alarm: int = Field(1, ge=1)
    retrain_cooldown_seconds: int = Field(6 * 3600, ge=0, description="no second drift retrain within this")
    # newest: a drift retrain trains on the data uploaded since the production model's data was frozen
    # (all data if there is none), so its baseline is the new population; all: on everything kept.
    retrain_data: Literal["newest", "all"] = "newest"
    # Accounts with SageMaker Model Monitor: Driftline reads this schedule's outputs instead of its own.
    model_monitor_schedule: str | None = None
    # Driftline's monitor can also report the KS statistic per numeric feature: informational (PSI decides),
    # and a third to a half of its statistics' CPU time (bench/monitor.py), so off unless asked for.
    ks_test: bool = False
    # > 1: each drift monitor run is two jobs: this many instances each read a share of the window's capture objects
    # (ShardedByS3Key) and write partial counts, then one instance merges them into the reports (same verdicts).
    # Runs on processing.instance_type; a window with fewer capture objects than this runs on one instance.
    instance_count: int = Field(1, ge=1, le=100, description="drift monitor instances (SageMaker allows 1-100)")
    quality: Quality = Quality()


class Timings(_Strict):
    """How long the state machines wait; shorten them for local runs, never edit the ASL."""

    settle_seconds: int = Field(60, ge=1, description="quiet window after the last upload before a run")
    endpoint_poll_seconds: int = Field(30, ge=1)
    alarm_poll_seconds: int = Field(30, ge=1, description="how often a bake checks the candidate's alarms")


class Limits(_Strict):
    max_upload_bytes: int = Field(5 * 1024**3, ge=1)


class Batch(_Strict):
    """Batch predictions: a CSV dropped in batch/<model>/ runs a SageMaker transform job with the production model."""

    enabled: bool = True
    instance_type: str = "ml.m5.large"
    instance_count: int = Field(1, ge=1, le=100)
    # SageMaker: MaxPayloadInMB 1-100 (a record must fit in one payload) and MaxPayloadInMB x
    # MaxConcurrentTransforms at most 100 (CreateTransformJob API reference).
    max_payload_mb: int = Field(6, ge=1, le=100, description="largest mini-batch (MultiRecord) per request")
    max_concurrent_transforms: int = Field(1, ge=1, le=100, description="parallel requests per instance")
    id_column: str = Field("id", min_length=1, description="carried to each output row; absent: the row number")
    invocation_timeout_seconds: int = Field(600, ge=1, le=3600, description="per request (ModelClientConfig)")

    @model_validator(mode="after")
    def _payload_times_concurrency(self) -> "Batch":
        if self.max_payload_mb * self.max_concurrent_transforms > 100:
            raise ValueError(
                "max_payload_mb x max_concurrent_transforms must be at most 100 (SageMaker's limit per instance)"
            )
        return self


class ModelConfig(_Strict):
    name: str
    problem_type: ProblemType
    target: str = Field(min_length=1)
    features: list[Feature] | None = Field(None, description="inferred from the first data if absent")
    drop_columns: list[str] = Field(default_factory=list)
    positive_class: str | None = None
    seed: int = 42
    split: Split = Split()
    training: Training = Training()
    processing: Processing = Processing()
    gate: Gate = Gate()
    deployment: Deployment = Deployment()
    monitoring: Monitoring = Monitoring()
    timings: Timings = Timings()
    limits: Limits = Limits()
    batch: Batch = Batch()

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not MODEL_NAME_PATTERN.match(value):
            raise ValueError("must be 3-32 characters of lowercase letters, digits and '-', starting with a letter")
        return value

    @model_validator(mode="after")
    def _consistent_columns(self) -> "ModelConfig":
        if self.target in self.drop_columns:
            raise ValueError(f"target '{self.target}' cannot also be in drop_columns")
        if self.features:
            names = [f.name for f in self.features]
            if len(set(names)) != len(names):
                raise ValueError("features: names must be unique")
            if self.target in names:
                raise ValueError(f"features: the target '{self.target}' cannot be a feature")
        if self.positive_class is not None and self.problem_type is not ProblemType.BINARY:
            raise ValueError("positive_class only applies to binary_classification")
        return self

    @property
    def gate_metric(self) -> str:
        if self.gate.metric:
            return self.gate.metric
        return "rmse" if self.problem_type is ProblemType.REGRESSION else "auc"

    def xgboost_hyperparameters(self, num_classes: int | None = None) -> dict[str, str | int | float]:
        """XGBoost parameters: sensible defaults per problem type, overridden by the config."""
        defaults: dict[str, str | int | float] = {
            "num_round": 100,
            "max_depth": 5,
            "eta": 0.2,
            "subsample": 0.8,
            "min_child_weight": 1,
            "tree_method": "hist",
        }
        if self.problem_type is ProblemType.BINARY:
            defaults |= {"objective": "binary:logistic", "eval_metric": "auc"}
        elif self.problem_type is ProblemType.MULTICLASS:
            defaults |= {"objective": "multi:softprob", "eval_metric": "mlogloss"}
            if num_classes:
                defaults["num_class"] = num_classes
        else:
            defaults |= {"objective": "reg:squarederror", "eval_metric": "rmse"}
        return defaults | self.training.hyperparameters


# A model.yaml is a few hundred bytes; these caps keep a hostile or broken file from exhausting the handler.
MAX_CONFIG_BYTES = 64 * 1024
MAX_CONFIG_DEPTH = 20  # the schema nests 4 deep; PyYAML's composer recurses per level (RecursionError near 1000)
MAX_CONFIG_NODES = 10_000  # counted with aliases expanded: a "billion laughs" file is refused before it expands


def parse_model_config(text: str | bytes, *, expected_name: str | None = None) -> ModelConfig:
    """Parse and validate a model.yaml; InvalidModelConfig names every wrong field."""
    from driftline import config_rules  # upload-time rules: only the config handler needs them

    raw = load_yaml(text)
    if not isinstance(raw, dict):
        raise InvalidModelConfig("model.yaml must be a mapping with at least name, problem_type and target")
    try:
        config = ModelConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidModelConfig(describe_validation_error(exc)) from exc
    if expected_name is not None and config.name != expected_name:
        raise InvalidModelConfig(
            f"name: '{config.name}' does not match the folder models/{expected_name}/; "
            f"set name: {expected_name} or move the file"
        )
    problems = config_rules.problems(config)
    if problems:
        raise InvalidModelConfig("; ".join(problems))
    return config


def load_yaml(text: str | bytes) -> Any:
    """YAML within the caps above (size, depth, nodes with aliases expanded; no duplicate keys)."""
    import yaml  # only the config upload parses YAML: keep it out of every other handler's cold start

    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_CONFIG_BYTES:
        raise InvalidModelConfig(
            f"model.yaml is {size} bytes; the limit is {MAX_CONFIG_BYTES} ({MAX_CONFIG_BYTES // 1024} KiB). "
            "A config needs only a few hundred bytes: remove what is not configuration"
        )

    class TooComplex(yaml.YAMLError):
        pass

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            if self.depth > MAX_CONFIG_DEPTH:
                mark = self.peek_event().start_mark
                raise TooComplex(f"nesting deeper than {MAX_CONFIG_DEPTH} levels at line {mark.line + 1}")
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, _ in node.value:
                    key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                    if key is not None and key in seen:
                        raise TooComplex(f"the key '{key}' appears twice (line {key_node.start_mark.line + 1})")
                    seen.add(key)
            return super().construct_mapping(node, deep)

    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _count_nodes(node, {}, set())
        return loader.construct_document(node) if node is not None else None
    except TooComplex as exc:
        raise InvalidModelConfig(f"model.yaml is refused: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidModelConfig(f"model.yaml is not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _count_nodes(node: Any, counted: dict[int, int], open_: set[int]) -> int:
    """Nodes under `node` with every alias expanded (memoized: each distinct node is visited once)."""
    import yaml

    key = id(node)
    if key in counted:
        return counted[key]
    if key in open_:
        raise InvalidModelConfig("model.yaml is refused: an alias refers to a node that contains it")
    open_.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_count_nodes(child, counted, open_) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_count_nodes(k, counted, open_) + _count_nodes(v, counted, open_) for k, v in node.value)
    open_.discard(key)
    counted[key] = total
    if total > MAX_CONFIG_NODES:
        raise InvalidModelConfig(
            f"model.yaml is refused: it expands to more than {MAX_CONFIG_NODES} values (anchors and aliases "
            "included); a config needs far fewer"
        )
    return total


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
