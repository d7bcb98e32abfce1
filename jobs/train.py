"""Training job (XGBoost container, script mode): boost with checkpoints, resume after spot interruptions.

Hyperparameters arrive as `--name value` arguments. Driftline's own are num_round, checkpoint_dir,
checkpoint_interval and seed; sagemaker_* ones are ignored; every other one is an XGBoost parameter.
Channels: SM_CHANNEL_TRAIN, SM_CHANNEL_VALIDATION, SM_CHANNEL_PREPROCESSOR. Writes
SM_MODEL_DIR/xgboost-model.json (+ preprocessor.json), SM_OUTPUT_DATA_DIR/training_summary.json and
SM_OUTPUT_DATA_DIR/metric_history.json (the validation metrics of every round and the attempts that trained
them; the run report plots it from the job's output.tar.gz).

Checkpoints are checkpoint-<round>.json in checkpoint_dir, written atomically every
checkpoint_interval rounds, at the end, and on SIGTERM (then the job exits 143 at once). A start
resumes from the newest checkpoint that loads. Training is deterministic, so a resumed model predicts
exactly as an uninterrupted one: tree_method hist, and row subsampling (`subsample`) is drawn here
from a per-round seed instead of by XGBoost, whose sampler state a checkpoint does not keep.

The metric history travels inside each checkpoint (a booster attribute), so it always matches the rounds
the checkpoint holds: a resumed attempt continues it, and rounds an interrupted attempt trained after its
last checkpoint (redone by the next attempt) are not counted twice. Each attempt (a new process: a spot
replacement job, or a restart in place) is recorded with the round it started from and the last round it
checkpointed; `ended` is "interrupted" when it stopped on SIGTERM. The served model carries no attribute.

Distributed (a training job with InstanceCount > 1): every host runs this script. The hosts come from
SM_HOSTS / SM_CURRENT_HOST (else resourceconfig.json); the first host starts XGBoost's collective tracker
(xgboost.tracker.RabitTracker) on port 9099, as sagemaker-xgboost-container's distributed.py does, and
every host joins it (xgboost.collective, task id = host name, so ranks follow SageMaker's host order).
The train channel is ShardedByS3Key: each host builds its QuantileDMatrix from its own shard and
XGBoost merges the histogram sketches and gradients across hosts, so all hosts grow the same trees. The
validation channel is replicated. Rank 0 alone writes checkpoints, the model and the output files; on a
start it reads the newest checkpoint and broadcasts it, so every rank resumes from the same round. A stop
request (SIGTERM reaches each host at its own moment) is agreed by an allreduce after every round, so all
ranks stop at the same round and rank 0 checkpoints it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    BINARY,
    MODEL_FILE,
    MULTICLASS,
    PREPROCESSOR_FILE,
    JobInputError,
    find_file,
    import_xgboost,
    load_preprocessor,
    log_throughput,
    read_label_first,
    setup_logging,
    write_json,
)

xgb = import_xgboost()  # without scikit-learn, which training does not use

log = setup_logging()

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)\.json$")
KEEP_CHECKPOINTS = 3
HISTORY_ATTRIBUTE = "driftline_metric_history"
HISTORY_FILE = "metric_history.json"
EXIT_ON_SIGTERM = 143  # 128 + SIGTERM, what a process killed by the signal reports
TRACKER_PORT = 9099  # the collective tracker's port on the first host (sagemaker-xgboost-container's choice)
HOST_RESOLUTION_SECONDS = 900  # host names may resolve late while the cluster starts (AWS docs); wait this long
COLLECTIVE_TIMEOUT_SECONDS = 1800  # a collective call (or the tracker's start) that waits longer fails the job
DEFAULT_OBJECTIVE = {BINARY: "binary:logistic", MULTICLASS: "multi:softprob"}
DRIFTLINE_DEFAULTS = {
    "num_round": "100",
    "checkpoint_dir": "/opt/ml/checkpoints",
    "checkpoint_interval": "10",
    "seed": "42",
    "train": os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"),
    "validation": os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"),
    "preprocessor": os.environ.get("SM_CHANNEL_PREPROCESSOR", "/opt/ml/input/data/preprocessor"),
    "model_dir": os.environ.get("SM_MODEL_DIR", "/opt/ml/model"),
    "output_data_dir": os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"),
}


def decode(value: str) -> str:
    """Undo the SDK's JSON encoding of a hyperparameter ('"binary:logistic"' -> 'binary:logistic')."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value
    return value


def coerce(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_arguments(argv: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    """`--name value` / `--name=value` pairs: (driftline settings, xgboost params)."""
    settings = dict(DRIFTLINE_DEFAULTS)
    params: dict[str, Any] = {}
    position = 0
    while position < len(argv):
        token = argv[position]
        if not token.startswith("--") or len(token) == 2:
            raise JobInputError(f"unexpected argument {token!r}; hyperparameters must be --name value pairs")
        name, has_value, value = token[2:].partition("=")
        if not has_value:
            if position + 1 >= len(argv):
                raise JobInputError(f"hyperparameter --{name} has no value")
            value = argv[position + 1]
            position += 1
        position += 1
        name = name.replace("-", "_") if name.replace("-", "_") in settings else name
        value = decode(value)
        # SageMaker's own: the SDK's sagemaker_* and what a tuning job adds to each trial (_tuning_objective_metric)
        if name.startswith(("sagemaker_", "_tuning")):
            continue
        if name in settings:
            settings[name] = value
        else:
            params[name] = coerce(value)
    return settings, params


def as_int(settings: dict[str, str], name: str, minimum: int) -> int:
    try:
        number = int(float(settings[name]))
    except ValueError as exc:
        raise JobInputError(f"hyperparameter {name} must be an integer, got {settings[name]!r}") from exc
    if number < minimum:
        raise JobInputError(f"hyperparameter {name} must be at least {minimum}, got {number}")
    return number


def xgboost_params(params: dict[str, Any], preprocessor: dict[str, Any], seed: int) -> dict[str, Any]:
    problem = preprocessor["problem_type"]
    merged: dict[str, Any] = {
        "objective": DEFAULT_OBJECTIVE.get(problem, "reg:squarederror"),
        "tree_method": "hist",
        "nthread": int(os.environ.get("SM_NUM_CPUS") or 0) or os.cpu_count() or 1,  # the instance's CPUs
        "verbosity": 1,
    }
    merged.update(params)
    merged["seed"] = seed
    if str(merged["objective"]).startswith("multi:"):
        merged.setdefault("num_class", len(preprocessor.get("classes") or []))
    else:
        merged.pop("num_class", None)
    return merged


class Checkpoints:
    """checkpoint-<round>.json files in one directory: written atomically, loaded newest first."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def listed(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            match = CHECKPOINT_PATTERN.match(path.name)
            if match and path.is_file():
                found.append((int(match.group(1)), path))
        return sorted(found, reverse=True)

    def newest_readable(self) -> tuple[xgb.Booster | None, int, list[str]]:
        """(booster, its rounds, names of newer files that did not load); unreadable files are set aside."""
        skipped: list[str] = []
        for rounds, path in self.listed():
            try:
                booster = xgb.Booster(model_file=str(path))
                loaded = booster.num_boosted_rounds()
                if loaded != rounds:
                    raise ValueError(f"holds {loaded} rounds, not {rounds}")
            except (xgb.core.XGBoostError, OSError, ValueError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning("skipping unreadable checkpoint %s: %s", path.name, reason[:200])
                skipped.append(path.name)
                os.replace(path, path.with_name(path.name + ".corrupt"))
                continue
            return booster, rounds, skipped
        return None, 0, skipped

    def write(self, booster: xgb.Booster) -> Path:
        rounds = booster.num_boosted_rounds()
        final = self.directory / f"checkpoint-{rounds}.json"
        temporary = self.directory / f".checkpoint-{rounds}.{os.getpid()}.tmp.json"
        booster.save_model(str(temporary))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        listed = self.listed()
        kept = [path for older, path in listed if older <= rounds][:KEEP_CHECKPOINTS]
        for older, path in listed:
            if older < rounds and path not in kept:
                path.unlink(missing_ok=True)
        return final


class Cluster:
    """The job's hosts (SageMaker order) and this host's place among them; one host: not distributed."""

    def __init__(self, hosts: list[str], current: str) -> None:
        self.hosts, self.current = hosts, current
        self.rank = hosts.index(current) if current in hosts else 0

    @classmethod
    def from_environment(cls) -> Cluster:
        hosts = json.loads(os.environ.get("SM_HOSTS") or "[]")
        current = os.environ.get("SM_CURRENT_HOST") or ""
        if not hosts or not current:
            config_dir = Path(os.environ.get("SM_INPUT_CONFIG_DIR") or "/opt/ml/input/config")
            try:
                resource = json.loads((config_dir / "resourceconfig.json").read_text())
                hosts, current = list(resource["hosts"]), str(resource["current_host"])
            except (OSError, ValueError, KeyError):
                hosts, current = ["algo-1"], "algo-1"
        return cls(sorted(hosts), current)

    @property
    def distributed(self) -> bool:
        return len(self.hosts) > 1

    @property
    def is_master(self) -> bool:
        return self.rank == 0

    @contextlib.contextmanager
    def communicator(self) -> Iterator[None]:
        """XGBoost's collective across the hosts for the duration of the block (nothing for one host)."""
        if not self.distributed:
            yield
            return
        from xgboost import collective
        from xgboost.tracker import RabitTracker

        master = resolve(self.hosts[0])
        tracker = None
        if self.is_master:
            tracker = RabitTracker(
                n_workers=len(self.hosts),
                host_ip=master,
                port=TRACKER_PORT,
                sortby="task",
                timeout=COLLECTIVE_TIMEOUT_SECONDS,
            )
            tracker.start()
        log.info(
            "joining the collective of %d hosts on %s:%d as %s", len(self.hosts), master, TRACKER_PORT, self.current
        )
        with collective.CommunicatorContext(
            dmlc_communicator="rabit",
            dmlc_tracker_uri=master,
            dmlc_tracker_port=TRACKER_PORT,
            dmlc_task_id=self.current,
            dmlc_retry=30,
            dmlc_timeout=COLLECTIVE_TIMEOUT_SECONDS,
        ):
            if collective.get_rank() != self.rank:
                raise JobInputError(
                    f"{self.current} got collective rank {collective.get_rank()}, expected {self.rank} "
                    f"(hosts {self.hosts})"
                )
            yield
        if tracker is not None:
            tracker.wait_for(COLLECTIVE_TIMEOUT_SECONDS)

    def any(self, flag: bool) -> bool:
        """True on every host when it is true on any (always the local value on one host)."""
        if not self.distributed:
            return flag
        from xgboost import collective

        return bool(collective.allreduce(np.array([int(flag)], dtype=np.int32), collective.Op.MAX)[0])

    def per_host(self, value: int) -> list[int]:
        """Every host's `value`, in host order."""
        if not self.distributed:
            return [value]
        from xgboost import collective

        values = np.zeros(len(self.hosts), dtype=np.int64)
        values[self.rank] = value
        return [int(v) for v in collective.allreduce(values, collective.Op.SUM)]

    def from_master(self, value: Any) -> Any:
        """Rank 0's `value` on every host."""
        if not self.distributed:
            return value
        from xgboost import collective

        return collective.broadcast(value, 0)


def resolve(host: str) -> str:
    """The host's address; SageMaker's names can take a while to resolve as the cluster starts."""
    deadline = time.monotonic() + HOST_RESOLUTION_SECONDS
    delay = 0.1
    while True:
        try:
            return socket.gethostbyname(host)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


class StopRequest:
    """Set by SIGTERM (spot interruption, StopTrainingJob); training stops at the next round boundary."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True


class MetricHistory:
    """Validation metrics per round (index i = round i + 1) and the attempts that trained them."""

    def __init__(self, metrics: dict[str, list[float | None]], attempts: list[dict[str, Any]]) -> None:
        self.metrics, self.attempts = metrics, attempts

    @classmethod
    def resumed(cls, booster: xgb.Booster | None, rounds: int, job: str | None) -> MetricHistory:
        """The history a checkpoint carries (cut to its `rounds`), with a new attempt starting there."""
        stored: dict[str, Any] = {}
        if booster is not None:
            try:
                stored = json.loads(booster.attr(HISTORY_ATTRIBUTE) or "{}")
            except ValueError:
                log.warning("checkpoint's metric history does not parse; starting a new one")
        metrics = {str(name): list(values)[:rounds] for name, values in (stored.get("metrics") or {}).items()}
        attempts = [dict(a) for a in stored.get("attempts") or [] if int(a.get("started_at_round", 0)) <= rounds]
        for attempt in attempts:
            attempt["last_round"] = min(int(attempt.get("last_round", 0)), rounds)
            attempt["ended"] = attempt.get("ended") or "interrupted"  # killed before it could say so
        attempts.append(
            {"attempt": len(attempts) + 1, "job": job, "started_at_round": rounds, "last_round": rounds, "ended": None}
        )
        return cls(metrics, attempts)

    def record(self, rounds: int, latest: dict[str, float]) -> None:
        for name, value in latest.items():
            values = self.metrics.setdefault(name, [])
            del values[rounds - 1 :]
            values.extend([None] * (rounds - 1 - len(values)))
            values.append(round(value, 6) if np.isfinite(value) else None)
        self.attempts[-1]["last_round"] = rounds

    def as_json(self) -> dict[str, Any]:
        return {"version": 1, "dataset": "validation", "metrics": self.metrics, "attempts": self.attempts}

    def attach(self, booster: xgb.Booster) -> None:
        booster.set_attr(**{HISTORY_ATTRIBUTE: json.dumps(self.as_json(), separators=(",", ":"))})


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over uint64 values (wrapping arithmetic)."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX[1]
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX[2]
    return values ^ (values >> np.uint64(31))


def row_keys(labels: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """A 64-bit key per row from its content (label and encoded features): the same on any host, in any order."""
    keys = _mix(np.ascontiguousarray(labels, dtype=np.float64).view(np.uint64) ^ _MIX[0])
    columns = np.ascontiguousarray(matrix, dtype=np.float64).view(np.uint64).reshape(matrix.shape)
    for column in range(matrix.shape[1]):
        keys = _mix(keys ^ (columns[:, column] + _MIX[0]))
    return keys


class RowSubsample(xgb.callback.TrainingCallback):
    """Row subsampling with a mask drawn from (seed, round, the row's content).

    The same rows are drawn whether or not a run resumed, and whether the rows sit on one host or are
    sharded across several: a distributed model samples exactly the rows a single-instance one does.
    """

    def __init__(self, dtrain: xgb.DMatrix, keys: np.ndarray, fraction: float, seed: int) -> None:
        super().__init__()
        self.dtrain, self.keys, self.fraction, self.seed = dtrain, keys, fraction, seed

    def before_iteration(self, model: xgb.Booster, epoch: int, evals_log: Any) -> bool:
        salt = _mix(np.array([self.seed * 1_000_003 + model.num_boosted_rounds()], dtype=np.uint64))[0]
        uniform = (_mix(self.keys ^ salt) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        self.dtrain.set_weight((uniform < self.fraction).astype(np.float32))
        return False


class Progress(xgb.callback.TrainingCallback):
    """Logs the validation metrics and checkpoints every `interval` rounds; stops on SIGTERM.

    Distributed: only rank 0 writes checkpoints, and the stop is agreed across hosts after every round.
    """

    def __init__(
        self, checkpoints: Checkpoints, interval: int, stop: StopRequest, history: MetricHistory, cluster: Cluster
    ) -> None:
        super().__init__()
        self.checkpoints, self.interval, self.stop, self.history = checkpoints, interval, stop, history
        self.cluster = cluster
        self.stopping = False
        self.last_logged = -1
        self.last_metrics: dict[str, float] = {}
        self.evals_log: Any = {}

    def log_round(self, rounds: int, evals_log: Any) -> None:
        latest = {metric: float(values[-1]) for metric, values in (evals_log.get("validation") or {}).items()}
        self.last_metrics = latest
        metrics = " ".join(f"validation-{metric}={value:.6f}" for metric, value in latest.items())
        log.info("round=%d %s", rounds, metrics)
        self.last_logged = rounds

    def save(self, model: xgb.Booster) -> None:
        self.history.attach(model)
        if self.cluster.is_master:
            self.checkpoints.write(model)

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: Any) -> bool:
        rounds = model.num_boosted_rounds()
        self.evals_log = evals_log
        self.history.record(rounds, {m: float(v[-1]) for m, v in (evals_log.get("validation") or {}).items()})
        self.stopping = self.cluster.any(self.stop.requested)
        if self.stopping:
            self.history.attempts[-1]["ended"] = "interrupted"
        if rounds % self.interval == 0:
            self.log_round(rounds, evals_log)
            self.save(model)
        if self.stopping:
            if rounds % self.interval:
                self.log_round(rounds, evals_log)
                self.save(model)
            if self.cluster.is_master:
                log.warning("SIGTERM received: checkpoint-%d.json written, stopping", rounds)
            else:
                log.warning("SIGTERM received: stopping at round %d (rank 0 writes its checkpoint)", rounds)
            return True
        return False


def load_split(path: Path, name: str, width: int) -> tuple[np.ndarray, np.ndarray]:
    labels, matrix = read_label_first(path)
    if labels.size and matrix.shape[1] != width:
        raise JobInputError(
            f"the {name} channel has {matrix.shape[1]} feature columns but preprocessor.json describes {width}; "
            "were the channels produced by the same preprocessing job?"
        )
    return labels, matrix


def train(settings: dict[str, str], params: dict[str, Any], stop: StopRequest) -> int:
    cluster = Cluster.from_environment()
    with cluster.communicator():
        return train_on(cluster, settings, params, stop)


def newest_checkpoint(checkpoints: Checkpoints, cluster: Cluster) -> tuple[xgb.Booster | None, int, list[str]]:
    """The newest readable checkpoint; distributed, rank 0's, the same on every host."""
    if not cluster.distributed:
        return checkpoints.newest_readable()
    found: tuple[bytes | None, int, list[str]] = (None, 0, [])
    if cluster.is_master:
        booster, rounds, skipped = checkpoints.newest_readable()
        found = (bytes(booster.save_raw("json")) if booster is not None else None, rounds, skipped)
    raw, rounds, skipped = cluster.from_master(found)
    return (xgb.Booster(model_file=bytearray(raw)) if raw is not None else None), rounds, skipped


def train_on(cluster: Cluster, settings: dict[str, str], params: dict[str, Any], stop: StopRequest) -> int:
    num_round = as_int(settings, "num_round", 1)
    interval = as_int(settings, "checkpoint_interval", 1)
    seed = as_int(settings, "seed", 0)
    preprocessor_path = find_file(Path(settings["preprocessor"]), [PREPROCESSOR_FILE])
    if preprocessor_path is None:
        raise JobInputError(f"no {PREPROCESSOR_FILE} in the preprocessor channel {settings['preprocessor']}")
    preprocessor = load_preprocessor(preprocessor_path)
    width = len(preprocessor["encoded_feature_names"])
    train_labels, train_matrix = load_split(Path(settings["train"]), "train", width)
    rows_per_host = cluster.per_host(int(train_labels.size))
    if not sum(rows_per_host):
        raise JobInputError(f"the train channel {settings['train']} has no rows")
    if cluster.distributed and not train_labels.size:
        train_matrix = np.zeros((0, width))
        log.warning(
            "%s received no training rows: the train split has fewer files than the job has instances "
            "(ShardedByS3Key gives each instance whole files)",
            cluster.current,
        )
    validation_path = Path(settings["validation"])
    validation_labels, validation_matrix = (
        load_split(validation_path, "validation", width) if validation_path.exists() else (np.zeros(0), None)
    )

    booster_params = xgboost_params(params, preprocessor, seed)
    subsample = float(booster_params.pop("subsample", 1.0))
    if not 0.0 < subsample <= 1.0:
        raise JobInputError(f"hyperparameter subsample must be in (0, 1], got {subsample}")
    nthread = int(booster_params["nthread"])
    # With hist, QuantileDMatrix fixes the bins from the data alone, before any subsampling weights
    # (distributed: from the sketches of every host's shard, merged by the collective).
    matrix_type = xgb.QuantileDMatrix if booster_params.get("tree_method") == "hist" else xgb.DMatrix
    dtrain = matrix_type(train_matrix, label=train_labels, nthread=nthread)
    evals = []
    if cluster.any(bool(validation_labels.size)):
        evals.append((xgb.DMatrix(validation_matrix, label=validation_labels, nthread=nthread), "validation"))
    log.info(
        "training on %d rows x %d columns (validation %d rows); params %s",
        sum(rows_per_host),
        width,
        validation_labels.size,
        json.dumps(booster_params, sort_keys=True),
    )
    if cluster.distributed:
        log.info(
            "host %s (rank %d of %d) trains on %d rows",
            cluster.current,
            cluster.rank,
            len(cluster.hosts),
            train_labels.size,
        )

    checkpoints = Checkpoints(Path(settings["checkpoint_dir"]))
    booster, resumed_from, skipped = newest_checkpoint(checkpoints, cluster)
    if booster is not None:
        if resumed_from > num_round:
            booster, resumed_from = booster[:num_round], num_round
        log.info("resuming from checkpoint-%d.json (%d of %d rounds done)", resumed_from, resumed_from, num_round)
    if cluster.any(stop.requested):
        log.warning("SIGTERM received before training started; exiting")
        return EXIT_ON_SIGTERM

    history = MetricHistory.resumed(booster, resumed_from, os.environ.get("TRAINING_JOB_NAME"))
    progress = Progress(checkpoints, interval, stop, history, cluster)
    callbacks: list[xgb.callback.TrainingCallback] = [progress]
    if subsample < 1.0:
        callbacks.insert(0, RowSubsample(dtrain, row_keys(train_labels, train_matrix), subsample, seed))
    remaining = num_round - resumed_from
    started = time.monotonic()
    if remaining > 0:
        booster = xgb.train(
            booster_params,
            dtrain,
            num_boost_round=remaining,
            evals=evals,
            xgb_model=booster,
            callbacks=callbacks,
            verbose_eval=False,
        )
    seconds = time.monotonic() - started
    assert booster is not None
    rounds = booster.num_boosted_rounds()
    if progress.stopping and rounds < num_round:
        return EXIT_ON_SIGTERM
    if remaining > 0 and progress.last_logged != rounds:
        progress.log_round(rounds, progress.evals_log)
    history.attempts[-1].update(last_round=rounds, ended="completed")
    history.attach(booster)
    if not cluster.is_master:  # the other hosts hold the same trees; rank 0 saves them
        log.info("host %s done: %d rounds; rank 0 writes the model", cluster.current, rounds)
        return 0
    checkpoints.write(booster)

    model_dir = Path(settings["model_dir"])
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.set_attr(**{HISTORY_ATTRIBUTE: None})  # the served model is the trees alone
    booster.save_model(str(model_dir / MODEL_FILE))
    shutil.copyfile(preprocessor_path, model_dir / PREPROCESSOR_FILE)
    trained = rounds - resumed_from
    train_rows = sum(rows_per_host)
    # Every boosting round passes over every row: the figure is rows x rounds per second, and says so.
    row_rounds_per_second = log_throughput(
        log, "training", "row_rounds", train_rows * trained, seconds, rows=train_rows, rounds=rounds
    )
    write_json(
        Path(settings["output_data_dir"]) / "training_summary.json",
        {
            "rounds_completed": rounds,
            "resumed_from_round": resumed_from,
            "row_rounds_per_second": row_rounds_per_second,
            "training_seconds": seconds,
            "checkpoints_skipped": skipped,
            "train_rows": int(train_rows),
            "validation_rows": int(validation_labels.size),
            "validation_metrics": progress.last_metrics,
            "hosts": cluster.hosts,
            "train_rows_per_host": rows_per_host,
        },
    )
    write_json(Path(settings["output_data_dir"]) / HISTORY_FILE, history.as_json())
    return 0


def main(argv: list[str] | None = None) -> int:
    stop = StopRequest()
    stop.install()
    try:
        settings, params = parse_arguments(sys.argv[1:] if argv is None else argv)
        return train(settings, params, stop)
    except JobInputError as exc:
        log.error("training failed: %s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
