"""SageMaker hyperparameter tuning jobs that really run their trials.

moto 5.2.5 records CreateHyperParameterTuningJob and reports it `Completed` at once with a made-up best
training job; it has no ListTrainingJobsForHyperParameterTuningJob and no StopHyperParameterTuningJob.
Here a tuning job runs in a thread of its own:

- it refuses what CreateHyperParameterTuningJob refuses and moto lets through (name length, resource
  limits, range counts and shapes, a hyperparameter both static and tuned, an objective no metric
  definition names, early stopping with Hyperband, unknown or unfinished warm-start parents);
- it launches trials as training jobs (`<tuning job>-<nnn>-<8 hex>`) through the job runner's
  `submit_training`, never more than `MaxParallelTrainingJobs` at a time and `MaxNumberOfTrainingJobs`
  in all. A trial is the TrainingJobDefinition with the static hyperparameters, the trial's tuned values
  and `_tuning_objective_metric` (which SageMaker adds), the tuning job's tags, and its own checkpoint
  prefix: CheckpointConfig.S3Uri + `/<trial name>`;
- the search is Random (uniform, or log-uniform for Logarithmic scaling) or, for Bayesian, a small
  surrogate: after a few random trials, each new trial is the best of 64 random candidates scored by a
  Gaussian-kernel average of the objectives seen so far plus an exploration bonus for distance from
  them and from the trials still running (not SageMaker's Gaussian-process optimiser; bench/tuning.py
  compares it with Random). Warm-start parents' trials seed it. Hyperband runs as Random with every
  trial given its full rounds; early stopping (AUTO) stops no trial locally;
- a trial's objective is the last value of the objective metric in its log (its FinalMetricDataList);
  the best trial is the one whose objective is highest (Maximize) or lowest (Minimize), the earliest
  on a tie; it becomes BestTrainingJob. With no trial that reported the objective, the tuning job fails;
- a spot interruption of a trial is the job runner's: with `resume` the trial restarts in place from its
  checkpoints (what managed spot does for any training job); a trial whose capacity never returns ends
  Stopped (MaxWaitTimeExceeded) or Failed (CapacityError) and counts as a trial without an objective;
- `SageMaker HyperParameter Tuning Job State Change` is put on the default bus when the tuning job starts and
  when it ends, with the fields SageMaker's event has (`EVENT_FIELDS`: name, ARN, status, training job
  definition, counters, times, tags as a map), not the whole Describe output: no BestTrainingJob, no
  FailureReason (a handler asks DescribeHyperParameterTuningJob for those, as it must on AWS).
"""

from __future__ import annotations

import json
import math
import random
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftline_local.context import LocalCloudContext

from . import jobs
from ._aws import LOG, event_detail, put_event

TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
MAX_RANGES = 30
MAX_CATEGORICAL_VALUES = 30
MAX_HYPERPARAMETERS = 100
MAX_PARENTS = 5
# What a tuning job's state-change event holds (SageMaker's EventBridge reference, "Hyperparameter tuning job state
# change"): not the whole DescribeHyperParameterTuningJob; no BestTrainingJob, no FailureReason.
EVENT_FIELDS = (
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobArn",
    "TrainingJobDefinition",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "LastModifiedTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
    "Tags",
)
CANDIDATES = 64


def _now() -> datetime:
    return datetime.now(UTC)


# ---- the search --------------------------------------------------------------------------------


@dataclass
class _Dimension:
    name: str
    kind: str  # integer | continuous | categorical
    low: float = 0.0
    high: float = 1.0
    scaling: str = "Auto"
    values: list[str] = field(default_factory=list)

    def sample(self, rng: random.Random) -> str:
        return self.value_at(rng.random())

    def value_at(self, u: float) -> str:
        """The value at position u in [0, 1] of the range, in its scaling."""
        if self.kind == "categorical":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        low, high = self.low, self.high
        if self.scaling == "Logarithmic":
            number = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        elif self.scaling == "ReverseLogarithmic":
            number = 1 - math.exp(math.log(1 - low) + u * (math.log(1 - high) - math.log(1 - low)))
        else:
            number = low + u * (high - low)
        if self.kind == "integer":
            return str(min(int(high), max(int(low), int(math.floor(number + 0.5)))))
        return repr(min(high, max(low, number)))

    def position(self, value: str) -> float | None:
        """Where a value sits in [0, 1] (for the surrogate); None if it is not in the range."""
        if self.kind == "categorical":
            if value not in self.values:
                return None
            return (self.values.index(value) + 0.5) / len(self.values)
        try:
            number = float(json.loads(value)) if value.startswith('"') else float(value)
        except ValueError:
            return None
        if not self.low <= number <= self.high:
            return None
        if self.scaling == "Logarithmic":
            return (math.log(number) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        if self.scaling == "ReverseLogarithmic":
            span = math.log(1 - self.high) - math.log(1 - self.low)
            return (math.log(1 - number) - math.log(1 - self.low)) / span
        return (number - self.low) / (self.high - self.low)


def dimensions(ranges: dict[str, Any]) -> list[_Dimension]:
    found: list[_Dimension] = []
    for item in ranges.get("IntegerParameterRanges") or []:
        found.append(
            _Dimension(
                item["Name"],
                "integer",
                float(item["MinValue"]),
                float(item["MaxValue"]),
                item.get("ScalingType", "Auto"),
            )
        )
    for item in ranges.get("ContinuousParameterRanges") or []:
        found.append(
            _Dimension(
                item["Name"],
                "continuous",
                float(item["MinValue"]),
                float(item["MaxValue"]),
                item.get("ScalingType", "Auto"),
            )
        )
    for item in ranges.get("CategoricalParameterRanges") or []:
        found.append(_Dimension(item["Name"], "categorical", values=[str(v) for v in item["Values"]]))
    return found


class Search:
    """Proposes each trial's tuned values from the trials so far (Random, or the small Bayesian surrogate)."""

    def __init__(self, strategy: str, dims: list[_Dimension], maximize: bool, seed: int) -> None:
        self.strategy, self.dims, self.maximize = strategy, dims, maximize
        self.rng = random.Random(seed)
        self.seen: list[tuple[list[float], float]] = []  # (positions, objective as "higher is better")
        self.pending: list[list[float]] = []  # trials proposed and still running: new ones keep away from them
        self.initial = 2

    def _positions(self, params: dict[str, str]) -> list[float] | None:
        positions = [d.position(params.get(d.name, "")) for d in self.dims]
        return None if any(p is None for p in positions) else [float(p) for p in positions if p is not None]

    def observe(self, params: dict[str, str], objective: float | None) -> None:
        """A trial ended: its objective (None when it reported none) joins what the surrogate knows."""
        positions = self._positions(params)
        if positions is None:
            return  # a parent's trial outside this job's ranges tells the surrogate nothing here
        if positions in self.pending:
            self.pending.remove(positions)
        if objective is not None:
            self.seen.append((positions, objective if self.maximize else -objective))

    def propose(self) -> dict[str, str]:
        if self.strategy != "Bayesian" or len(self.seen) < self.initial:
            params = {d.name: d.sample(self.rng) for d in self.dims}
        else:
            candidates = [[self.rng.random() for _ in self.dims] for _ in range(CANDIDATES)]
            best = max(candidates, key=self._score)
            params = {d.name: d.value_at(u) for d, u in zip(self.dims, best, strict=True)}
        positions = self._positions(params)
        if positions is not None:
            self.pending.append(positions)
        return params

    def _score(self, point: list[float]) -> float:
        values = [v for _, v in self.seen]
        low, high = min(values), max(values)
        spread = (high - low) or 1.0
        weights, total = 0.0, 0.0
        nearest = min((_distance(point, p) for p in self.pending), default=math.inf)
        for position, value in self.seen:
            distance = _distance(point, position)
            nearest = min(nearest, distance)
            weight = math.exp(-((distance / 0.25) ** 2))
            weights += weight
            total += weight * (value - low) / spread
        mean = total / weights if weights > 1e-12 else 0.5
        return mean + 0.5 * nearest


def _distance(a: list[float], b: list[float]) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


# ---- the tuning job ----------------------------------------------------------------------------


@dataclass
class _Trial:
    name: str
    params: dict[str, str]
    fake: Any
    objective: float | None = None
    status: str = "InProgress"


class TuningJob:
    """One tuning job: launches its trials within its limits and keeps moto's record current."""

    def __init__(self, ctx: LocalCloudContext, backend: Any, fake: Any) -> None:
        self.ctx, self.backend, self.fake = ctx, backend, fake
        config = fake.hyper_parameter_tuning_job_config
        self.definition = fake.training_job_definition
        limits = config["ResourceLimits"]
        self.max_jobs = int(limits.get("MaxNumberOfTrainingJobs") or 1)
        self.max_parallel = int(limits["MaxParallelTrainingJobs"])
        objective = config["HyperParameterTuningJobObjective"]
        self.metric, self.maximize = objective["MetricName"], objective["Type"] == "Maximize"
        self.objective_type = objective["Type"]
        seed = config.get("RandomSeed")
        self.search = Search(
            config["Strategy"],
            dimensions(config.get("ParameterRanges") or {}),
            self.maximize,
            int(seed) if seed is not None else secrets.randbits(32),
        )
        self.trials: list[_Trial] = []
        self.stop_requested = threading.Event()
        self.max_running = 0  # the most trials that were InProgress at once (for tests and benches)

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        for parent in self._parents():
            for trial in parent.trials:
                if trial.objective is not None:
                    self.search.observe(trial.params, trial.objective)
        self._emit()
        threading.Thread(target=self._guarded, name=f"tuning-{self.fake.hyper_parameter_tuning_job_name}").start()

    def _parents(self) -> list[TuningJob]:
        warm = self.fake.warm_start_config or {}
        names = [p["HyperParameterTuningJobName"] for p in warm.get("ParentHyperParameterTuningJobs") or []]
        return [_JOBS[n] for n in names if n in _JOBS]

    def _guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # never leave a tuning job InProgress because the runner broke
            if self.ctx.stop_event.is_set():
                return
            LOG.exception("tuning job %s crashed the local runner", self.fake.hyper_parameter_tuning_job_name)
            self._finish("Failed", f"InternalServerError: local runner error: {exc}"[:1024])

    def _run(self) -> None:
        runner = jobs.runner()
        running: list[_Trial] = []
        while not self.stop_requested.is_set() and not self.ctx.stop_event.is_set():
            while len(running) < self.max_parallel and len(self.trials) < self.max_jobs:
                trial = self._launch(runner)
                running.append(trial)
                self.max_running = max(self.max_running, len(running))
                self._count()
            if not running:
                break
            ended = next((t for t in running if runner.wait("training", t.name, timeout=0.2)), None)
            if ended is None:
                continue
            running.remove(ended)
            self._record(ended)
            self._count()
        if self.stop_requested.is_set() or self.ctx.stop_event.is_set():
            for trial in running:
                runner.stop("training", trial.name)
            for trial in running:
                runner.wait("training", trial.name, timeout=self.ctx.scaled(jobs.STOP_GRACE_SECONDS) + 5)
                self._record(trial)
            self._count()
            self._finish("Stopped", None)
            return
        best = self._best()
        if best is None:
            reasons = [t.fake.failure_reason for t in self.trials if t.fake.failure_reason]
            reason = "No training job reported the objective metric " + self.metric
            self._finish("Failed", (f"{reason}; the last failure: {reasons[-1]}" if reasons else reason)[:1024])
            return
        self._finish("Completed", None)

    def _launch(self, runner: jobs.JobRunner) -> _Trial:
        tuning_name = self.fake.hyper_parameter_tuning_job_name
        name = f"{tuning_name}-{len(self.trials) + 1:03d}-{secrets.token_hex(4)}"
        params = self.search.propose()
        definition = self.definition
        algorithm = dict(definition.get("AlgorithmSpecification") or {})
        metric_definitions = [dict(d) for d in algorithm.get("MetricDefinitions") or []]
        hyperparameters = dict(definition.get("StaticHyperParameters") or {}) | params
        hyperparameters["_tuning_objective_metric"] = self.metric
        checkpoint = definition.get("CheckpointConfig")
        if checkpoint:
            checkpoint = dict(checkpoint) | {"S3Uri": f"{str(checkpoint['S3Uri']).rstrip('/')}/{name}"}
        fake = self.backend.create_training_job(
            training_job_name=name,
            hyper_parameters=hyperparameters,
            algorithm_specification=algorithm,
            role_arn=definition["RoleArn"],
            input_data_config=definition.get("InputDataConfig") or [],
            output_data_config=definition["OutputDataConfig"],
            resource_config=definition["ResourceConfig"],
            vpc_config=definition.get("VpcConfig"),
            stopping_condition=definition["StoppingCondition"],
            tags=list(self.fake.tags or []),
            enable_network_isolation=bool(definition.get("EnableNetworkIsolation")),
            enable_inter_container_traffic_encryption=bool(definition.get("EnableInterContainerTrafficEncryption")),
            enable_managed_spot_training=bool(definition.get("EnableManagedSpotTraining")),
            checkpoint_config=checkpoint,
            debug_hook_config=None,
            debug_rule_configurations=None,
            tensor_board_output_config=None,
            experiment_config=None,
        )
        fake.tuning_job_arn = self.fake.arn
        trial = _Trial(name, params, fake)
        self.trials.append(trial)
        runner.submit_training(fake, definition.get("Environment"), metric_definitions)
        return trial

    def _record(self, trial: _Trial) -> None:
        trial.status = trial.fake.training_job_status
        if trial.status == "Completed":
            for metric in trial.fake.final_metric_data_list or []:
                if metric["MetricName"] == self.metric:
                    trial.objective = float(metric["Value"])
        self.search.observe(trial.params, trial.objective)

    def _best(self) -> _Trial | None:
        scored = [t for t in self.trials if t.status == "Completed" and t.objective is not None]
        if not scored:
            return None
        sign = 1.0 if self.maximize else -1.0
        # max() keeps the first of equals: the earliest trial wins a tie
        return max(scored, key=lambda t: sign * float(t.objective or 0.0))

    # ---- moto's record ----------------------------------------------------------------------

    def summary(self, trial: _Trial) -> dict[str, Any]:
        fake = trial.fake
        status = fake.training_job_status
        entry: dict[str, Any] = {
            "TrainingJobName": trial.name,
            "TrainingJobArn": fake.arn,
            "TuningJobName": self.fake.hyper_parameter_tuning_job_name,
            "CreationTime": fake.creation_time,
            "TrainingJobStatus": status,
            "TunedHyperParameters": dict(trial.params),
        }
        if fake.training_start_time:
            entry["TrainingStartTime"] = fake.training_start_time
        if fake.training_end_time:
            entry["TrainingEndTime"] = fake.training_end_time
        if fake.failure_reason:
            entry["FailureReason"] = fake.failure_reason
        if trial.objective is not None:
            entry["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": self.objective_type,
                "MetricName": self.metric,
                "Value": trial.objective,
            }
        if status in ("Completed", "Failed", "Stopped"):
            entry["ObjectiveStatus"] = "Succeeded" if trial.objective is not None else "Failed"
        else:
            entry["ObjectiveStatus"] = "Pending"
        return entry

    def _count(self) -> None:
        statuses = [t.fake.training_job_status for t in self.trials]
        retryable = sum(1 for t in self.trials if (t.fake.failure_reason or "").startswith("CapacityError"))
        retryable += sum(1 for t in self.trials if t.fake.secondary_status == "MaxWaitTimeExceeded")
        self.fake.training_job_status_counters = {
            "Completed": statuses.count("Completed"),
            "InProgress": statuses.count("InProgress") + statuses.count("Stopping"),
            "RetryableError": retryable,
            "NonRetryableError": statuses.count("Failed")
            - sum(1 for t in self.trials if (t.fake.failure_reason or "").startswith("CapacityError")),
            "Stopped": statuses.count("Stopped"),
        }
        summaries = [self.summary(t) for t in self.trials]
        self.fake.objective_status_counters = {
            "Succeeded": sum(1 for s in summaries if s["ObjectiveStatus"] == "Succeeded"),
            "Pending": sum(1 for s in summaries if s["ObjectiveStatus"] == "Pending"),
            "Failed": sum(1 for s in summaries if s["ObjectiveStatus"] == "Failed"),
        }
        best = self._best()
        self.fake.best_training_job = self.summary(best) if best else None
        self.fake.OverallBestTrainingJob = self.fake.best_training_job
        self.fake.last_modified_time = _now()

    def _finish(self, status: str, reason: str | None) -> None:
        self._count()
        now = _now()
        self.fake.hyper_parameter_tuning_job_status = status
        self.fake.failure_reason = reason or ""
        self.fake.hyper_parameter_tuning_end_time = now
        self.fake.last_modified_time = now
        started = self.fake.creation_time  # moto's times are naive UTC
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        self.fake.consumed_resources = {"RuntimeInSeconds": max(1, int((now - started).total_seconds()))}
        self.fake.tuning_job_completion_details = {"NumberOfTrainingJobsObjectiveNotImproving": 0}
        self._emit()

    def _emit(self) -> None:
        describe = self.fake.describe() | {"Tags": list(self.fake.tags or [])}
        detail = {k: v for k, v in event_detail(describe).items() if k in EVENT_FIELDS}
        put_event(self.ctx, TUNING_EVENT, self.fake.arn, detail)


_JOBS: dict[str, TuningJob] = {}


def tuning_job(name: str) -> TuningJob | None:
    """The local tuning job of that name (tests read its trials and `max_running`)."""
    return _JOBS.get(name)


# ---- what CreateHyperParameterTuningJob refuses -----------------------------------------------------


def refusal(request: dict[str, Any], known: dict[str, Any]) -> str | None:
    """The ValidationException message AWS gives this request, or None when it is accepted."""
    name = str(request.get("HyperParameterTuningJobName") or "")
    if not NAME_PATTERN.match(name):
        return (
            f"1 validation error detected: Value '{name}' at 'hyperParameterTuningJobName' failed to satisfy "
            "constraint: Member must have length less than or equal to 32 and match the pattern "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
        )
    config = request.get("HyperParameterTuningJobConfig") or {}
    definition = request.get("TrainingJobDefinition")
    if not definition:
        return (
            "The local cloud runs tuning jobs with one TrainingJobDefinition (TrainingJobDefinitions is not supported)"
        )
    limits = config.get("ResourceLimits") or {}
    parallel, total = limits.get("MaxParallelTrainingJobs"), limits.get("MaxNumberOfTrainingJobs")
    if not isinstance(parallel, int) or parallel < 1:
        return "ResourceLimits.MaxParallelTrainingJobs must be at least 1"
    if total is not None and (not isinstance(total, int) or total < 1):
        return "ResourceLimits.MaxNumberOfTrainingJobs must be at least 1"
    runtime = limits.get("MaxRuntimeInSeconds")
    if runtime is not None and not 120 <= int(runtime) <= 15_768_000:
        return "ResourceLimits.MaxRuntimeInSeconds must be between 120 and 15768000"
    ranges = config.get("ParameterRanges") or {}
    tuned = [r["Name"] for kind in ranges.values() if isinstance(kind, list) for r in kind]
    if len(tuned) > MAX_RANGES:
        return f"The tuning job can search at most {MAX_RANGES} hyperparameters; {len(tuned)} were given"
    if len(set(tuned)) != len(tuned):
        return "A hyperparameter can appear in only one parameter range"
    static = definition.get("StaticHyperParameters") or {}
    both = sorted(set(tuned) & set(static))
    if both:
        return f"Hyperparameters {both} are specified as both static and tunable"
    if len(static) + len(tuned) > MAX_HYPERPARAMETERS:
        return f"At most {MAX_HYPERPARAMETERS} static and tunable hyperparameters in all"
    for item in ranges.get("CategoricalParameterRanges") or []:
        if not 1 <= len(item.get("Values") or []) <= MAX_CATEGORICAL_VALUES:
            return f"Categorical range {item['Name']} needs 1 to {MAX_CATEGORICAL_VALUES} values"
    for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
        for item in ranges.get(kind) or []:
            low, high, scaling = float(item["MinValue"]), float(item["MaxValue"]), item.get("ScalingType", "Auto")
            if low > high:
                return f"Range {item['Name']}: MinValue must be less than or equal to MaxValue"
            if scaling == "Logarithmic" and low <= 0:
                return f"Range {item['Name']}: Logarithmic scaling needs MinValue greater than 0"
            if scaling == "ReverseLogarithmic" and (kind != "ContinuousParameterRanges" or not 0 <= low < high < 1):
                return f"Range {item['Name']}: ReverseLogarithmic scaling needs a continuous range within [0, 1)"
    strategy = config.get("Strategy")
    if strategy == "Hyperband" and config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        return "TrainingJobEarlyStoppingType must be Off when Strategy is Hyperband"
    if config.get("StrategyConfig") and strategy != "Hyperband":
        return "StrategyConfig is supported only for the Hyperband strategy"
    objective = (config.get("HyperParameterTuningJobObjective") or {}).get("MetricName")
    metrics = [d.get("Name") for d in (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []]
    if objective not in metrics:
        return f"The objective metric {objective} is not defined in the algorithm's MetricDefinitions {metrics}"
    if definition.get("EnableManagedSpotTraining") is not True and (definition.get("StoppingCondition") or {}).get(
        "MaxWaitTimeInSeconds"
    ):
        return "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining is set to true"
    warm = request.get("WarmStartConfig")
    if warm:
        parents = warm.get("ParentHyperParameterTuningJobs") or []
        if not 1 <= len(parents) <= MAX_PARENTS:
            return f"WarmStartConfig takes 1 to {MAX_PARENTS} parent tuning jobs"
        for parent in parents:
            found = known.get(parent.get("HyperParameterTuningJobName"))
            if found is None:
                return f"Parent tuning job {parent.get('HyperParameterTuningJobName')} does not exist"
            # "all parent jobs must be in a terminal state (Completed, Stopped, or Failed)"
            if found.hyper_parameter_tuning_job_status not in ("Completed", "Stopped", "Failed"):
                return f"Parent tuning job {parent.get('HyperParameterTuningJobName')} has not finished"
            problem = _warm_start_change(found, config, definition)
            if problem:
                return f"Parent tuning job {parent.get('HyperParameterTuningJobName')}: {problem}"
    return None


def _hyperparameters(config: dict[str, Any], definition: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(static values, {tuned name: (range type, categorical values)}) of a tuning request."""
    ranges = config.get("ParameterRanges") or {}
    tuned = {
        item["Name"]: (kind, tuple(item.get("Values") or ()))
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
        for item in ranges.get(kind) or []
    }
    return dict(definition.get("StaticHyperParameters") or {}), tuned


def _warm_start_change(parent: Any, config: dict[str, Any], definition: dict[str, Any]) -> str | None:
    """SageMaker's warm start restrictions ("Run a Warm Start Hyperparameter Tuning Job"): the number of static
    plus tunable hyperparameters stays the same, no hyperparameter changes type, and tunable-to-static changes
    plus changed static values are at most 10 (each value of a categorical counts)."""
    old_static, old_tuned = _hyperparameters(
        parent.hyper_parameter_tuning_job_config or {}, parent.training_job_definition or {}
    )
    new_static, new_tuned = _hyperparameters(config, definition)
    if len(old_static) + len(old_tuned) != len(new_static) + len(new_tuned):
        return (
            "the total number of static plus tunable hyperparameters must remain the same as in the parent jobs "
            f"({len(old_static) + len(old_tuned)}), got {len(new_static) + len(new_tuned)}"
        )
    for name, (kind, _) in new_tuned.items():
        if name in old_tuned and old_tuned[name][0] != kind:
            return f"hyperparameter {name} changed type from {old_tuned[name][0]} to {kind}"
    changes = sum(
        len(values) if kind == "CategoricalParameterRanges" else 1
        for name, (kind, values) in old_tuned.items()
        if name in new_static
    )
    changes += sum(1 for name, value in new_static.items() if old_static.get(name, value) != value)
    if changes > 10:
        return f"{changes} changes of tunable-to-static and static values; at most 10 are allowed"
    return None


# ---- moto patches -------------------------------------------------------------------------------


def install(ctx: LocalCloudContext) -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    original_create = getattr(
        SageMakerResponse.create_hyper_parameter_tuning_job,
        "__wrapped__",
        SageMakerResponse.create_hyper_parameter_tuning_job,
    )

    def create_hyper_parameter_tuning_job(self: Any) -> Any:
        request = {
            key: self._get_param(key)
            for key in (
                "HyperParameterTuningJobName",
                "HyperParameterTuningJobConfig",
                "TrainingJobDefinition",
                "TrainingJobDefinitions",
                "WarmStartConfig",
            )
        }
        problem = refusal(request, self.sagemaker_backend.hyper_parameter_tuning_jobs)
        if problem:
            raise ValidationError(message=problem)
        result = original_create(self)
        fake = self.sagemaker_backend.hyper_parameter_tuning_jobs[request["HyperParameterTuningJobName"]]
        fake.hyper_parameter_tuning_job_status = "InProgress"
        fake.hyper_parameter_tuning_end_time = None
        fake.best_training_job = None
        fake.OverallBestTrainingJob = None
        fake.failure_reason = ""
        fake.training_job_status_counters = dict.fromkeys(
            ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
        )
        fake.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        fake.tuning_job_completion_details = None
        fake.consumed_resources = None
        job = TuningJob(ctx, self.sagemaker_backend, fake)
        _JOBS[fake.hyper_parameter_tuning_job_name] = job
        job.start()
        return result

    def list_training_jobs_for_hyper_parameter_tuning_job(self: Any) -> Any:
        name = self._get_param("HyperParameterTuningJobName")
        self.sagemaker_backend.describe_hyper_parameter_tuning_job(name)  # ResourceNotFound if unknown
        job = _JOBS.get(name)
        summaries = [job.summary(t) for t in job.trials] if job else []
        wanted = self._get_param("StatusEquals")
        if wanted:
            summaries = [s for s in summaries if s["TrainingJobStatus"] == wanted]
        sort_by = self._get_param("SortBy") or "CreationTime"
        if sort_by == "FinalObjectiveMetricValue":
            summaries.sort(key=lambda s: (s.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value", 0))
        elif sort_by == "Status":
            summaries.sort(key=lambda s: s["TrainingJobStatus"])
        else:
            summaries.sort(key=lambda s: s["CreationTime"])
        if (self._get_param("SortOrder") or "Descending") == "Descending":
            summaries.reverse()
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxResults") or 10)
        page = summaries[start : start + size]
        response: dict[str, Any] = {"TrainingJobSummaries": page}
        if start + size < len(summaries):
            response["NextToken"] = str(start + size)
        return ActionResult(response)

    def stop_hyper_parameter_tuning_job(self: Any) -> Any:
        name = self._get_param("HyperParameterTuningJobName")
        self.sagemaker_backend.describe_hyper_parameter_tuning_job(name)
        fake = self.sagemaker_backend.hyper_parameter_tuning_jobs[name]
        if fake.hyper_parameter_tuning_job_status != "InProgress":
            raise ValidationError(
                message=f"The request was rejected because the tuning job is in status "
                f"{fake.hyper_parameter_tuning_job_status}."
            )
        fake.hyper_parameter_tuning_job_status = "Stopping"
        job = _JOBS.get(name)
        if job:
            job.stop_requested.set()
        return EmptyResult()

    create_hyper_parameter_tuning_job.__wrapped__ = original_create  # type: ignore[attr-defined]
    SageMakerResponse.create_hyper_parameter_tuning_job = create_hyper_parameter_tuning_job  # type: ignore[method-assign]
    SageMakerResponse.list_training_jobs_for_hyper_parameter_tuning_job = (  # type: ignore[attr-defined]
        list_training_jobs_for_hyper_parameter_tuning_job
    )
    SageMakerResponse.stop_hyper_parameter_tuning_job = stop_hyper_parameter_tuning_job  # type: ignore[attr-defined]
