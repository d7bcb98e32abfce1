"""SageMaker training and processing jobs that really run, under the script-mode contract.

moto records CreateTrainingJob / CreateProcessingJob and reports them `Completed` at once. Here each
job runs as a subprocess in a sandbox under `ctx.workdir/jobs/<job>/`, which stands in for the
container's `/opt/ml/`: every `/opt/ml/...` path in the request (hyperparameters, entrypoint,
arguments, environment, local paths) is mapped into the sandbox, and nothing else is rewritten.

Lifecycle (the moto job object is updated in place, so Describe* reports it live):

- training: InProgress/Starting -> Downloading -> Training -> Uploading -> Completed, or Failed (with
  the script's error as FailureReason), or Stopping -> Stopped (StopTrainingJob, MaxRuntimeExceeded);
- processing: InProgress -> Completed | Failed | Stopping -> Stopped.

A `SageMaker Training Job State Change` / `SageMaker Processing Job State Change` event (detail = the
Describe* output, timestamps in epoch ms, Tags as a map) goes onto the default bus at creation, at
every primary status change and when a spot job is interrupted.

Timing model (documented, not measured): TrainingTimeInSeconds is the wall time from the start of
the Training phase to the end of the job; BillableTimeInSeconds equals it on demand and is 30 % of it
(at least 1 s) for managed spot, a flat stand-in for the typical spot discount.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline_local.context import LocalCloudContext

from . import cluster, image_envs, utilisation
from ._aws import (
    LOG,
    LogStream,
    client,
    download_manifest,
    download_s3,
    event_detail,
    fetch_object,
    put_event,
    split_s3_uri,
    upload_file,
    upload_tree,
)

TRAINING_EVENT = "SageMaker Training Job State Change"
PROCESSING_EVENT = "SageMaker Processing Job State Change"
SPOT_BILLABLE_FRACTION = 0.3
ISOLATED_ENDPOINT = "http://127.0.0.1:9"  # the discard port: connection refused, like a container without network
STOP_GRACE_SECONDS = 120  # SageMaker sends SIGTERM and kills the container 120 s later
CAPACITY_ERROR = (
    "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."
)
_OPT_ML = re.compile(r"/opt/ml(?![\w.-])")
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")


def _now() -> datetime:
    return datetime.now(UTC)


def map_opt_ml(value: str, sandbox: Path) -> str:
    """The one rewrite the local cloud does: `/opt/ml/...` -> the job's sandbox."""
    return _OPT_ML.sub(lambda _: str(sandbox), value)


def _decode_hyperparameter(raw: str) -> Any:
    """Values are JSON-encoded by the SageMaker SDK (`"\\"train.py\\""`, `"5"`); plain strings pass through."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def _arg_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _error_line(tail: deque[str]) -> str:
    lines = [line.strip() for line in tail if line.strip()]
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return line
    return lines[-1] if lines else ""


def _extract_tar(archive: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")


def _tar_dir(src: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(src.rglob("*")):
            tar.add(path, arcname=path.relative_to(src).as_posix(), recursive=False)


class JobFailed(Exception):
    """The job cannot run; the message becomes its FailureReason."""


@dataclass
class _Host:
    """One instance of a job: its own sandbox (its `/opt/ml`), process, log stream and checkpoint sync."""

    name: str  # algo-1, algo-2, ...
    sandbox: Path
    address: str = "127.0.0.1"  # the host's address on the job's container network (see cluster.py)
    process: subprocess.Popen[bytes] | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=60))
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    logs: LogStream | None = None
    checkpoint_dir: Path | None = None
    checkpoint_sync: _CheckpointSync | None = None
    cpus: set[int] | None = None  # the CPUs this host's process may use (a multi-instance job's share)


@dataclass
class _Job:
    kind: str  # "training" | "processing"
    name: str
    fake: Any  # moto's FakeTrainingJob / FakeProcessingJob, updated in place
    sandbox: Path  # the first host's (algo-1's) sandbox
    environment: dict[str, str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop_reason: str | None = None  # Stopped | MaxRuntimeExceeded | Interrupted
    spot_outcome: str = "max_wait_exceeded"  # what an interruption ends in: resume | max_wait_exceeded | capacity_error
    # AlgorithmSpecification.MetricDefinitions: name -> regex over the job's log, and the last value seen
    metric_patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    image_bin: str = ""  # the `bin` of the image's environment, first on the job's PATH
    submitted_at: float = field(default_factory=time.time)
    host_lost: bool = False  # the interruption came without notice: SIGKILL, nothing saved on the way out
    isolated: bool = False  # EnableNetworkIsolation: the container has no network (not even to S3)
    hosts: list[_Host] = field(default_factory=list)  # in SageMaker's order (lexicographic names)
    failed_host: _Host | None = None  # the first host whose script failed (the job fails with it)

    def __post_init__(self) -> None:
        if not self.hosts:
            self.hosts = [_Host("algo-1", self.sandbox)]

    @property
    def host_names(self) -> list[str]:
        return [host.name for host in self.hosts]

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The first host's running process (every host's: `hosts`)."""
        return self.hosts[0].process

    @property
    def tail(self) -> deque[str]:
        """The last lines of the failed host's log, else the first host's."""
        return (self.failed_host or self.hosts[0]).tail

    @property
    def role_arn(self) -> str | None:
        """The job's RoleArn: SageMaker stages its inputs, outputs and checkpoints with this role."""
        return getattr(self.fake, "role_arn", None)


@dataclass
class PlannedInterruption:
    """Reclaim the spot capacity of a training job once its log shows it got far enough.

    Tests and benches say *where* in training an interruption lands (a log line such as `round=120`),
    not how many seconds after the start: on a busy machine a job can finish before a timed
    interruption, and the interruption the test claims never happens.

    `notice=False` loses the host without notice (see `JobRunner.interrupt_training`): the job is
    killed the moment its log shows the planned line, so nothing it would write next is saved.
    """

    name_suffix: str  # the job whose name ends with this (e.g. `-train-2`, the run's second job)
    log_pattern: re.Pattern[str]  # a line of the job's log; group 1, if any, is compared with `at_least`
    at_least: float = 0.0
    submitted_after: float = field(default_factory=time.time)  # only jobs created after the plan
    notice_seconds: float = 2.0
    outcome: str = "max_wait_exceeded"
    notice: bool = True
    fired: threading.Event = field(default_factory=threading.Event)

    def due(self, job: _Job, line: str) -> bool:
        if self.fired.is_set() or job.submitted_at < self.submitted_after or not job.name.endswith(self.name_suffix):
            return False
        match = self.log_pattern.search(line)
        if not match:
            return False
        with contextlib.suppress(IndexError, ValueError):
            return float(match.group(1)) >= self.at_least
        return True


class JobRunner:
    """Runs jobs in background threads, at most `max_concurrent` subprocesses at a time."""

    def __init__(self, ctx: LocalCloudContext, max_concurrent: int = 2) -> None:
        self.ctx = ctx
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="sagemaker-job")
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._lock = threading.Lock()
        self.interruption_hooks: list[Callable[[str, int], None]] = []
        self.planned_interruptions: list[PlannedInterruption] = []
        self._job_number = 0

    # ---- submission -------------------------------------------------------------------------

    def submit_training(
        self, fake: Any, environment: dict[str, str] | None, metric_definitions: list[dict[str, str]] | None = None
    ) -> None:
        now = _now()
        fake.training_job_status = "InProgress"
        fake.secondary_status = "Starting"
        fake.training_start_time = None
        fake.training_end_time = None
        fake.failure_reason = None
        fake.final_metric_data_list = None
        fake.environment = environment or None
        fake.last_modified_time = now
        fake.secondary_status_transitions = [
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Launching requested ML instances"}
        ]
        # moto replaces the request's MetricDefinitions with a fake one: restore what was asked for
        algorithm = fake.algorithm_specification or {}
        algorithm.pop("MetricDefinitions", None)
        if metric_definitions:
            algorithm["MetricDefinitions"] = metric_definitions
        count = int((fake.resource_config or {}).get("InstanceCount") or 1)
        job = self._new_job("training", fake.training_job_name, fake, environment, count)
        job.isolated = bool(getattr(fake, "enable_network_isolation", False))
        for definition in metric_definitions or []:
            try:
                job.metric_patterns[definition["Name"]] = re.compile(definition["Regex"])
            except (KeyError, re.error):
                LOG.warning("training job %s: ignoring metric definition %r", job.name, definition)
        self._submit(job)

    def submit_processing(
        self, fake: Any, environment: dict[str, str] | None, resources: dict[str, Any] | None
    ) -> None:
        fake.processing_job_status = "InProgress"
        fake.processing_start_time = None
        fake.processing_end_time = None
        fake.failure_reason = None
        fake.exit_message = None
        fake.environment = environment or None
        fake.processing_resources = resources
        fake.last_modified_time = _now()
        name = fake.processing_job_name
        count = int(((resources or {}).get("ClusterConfig") or {}).get("InstanceCount") or 1)
        job = self._new_job("processing", name, fake, environment, count)
        job.isolated = bool((getattr(fake, "network_config", None) or {}).get("EnableNetworkIsolation"))
        self._submit(job)

    def _new_job(self, kind: str, name: str, fake: Any, environment: dict[str, str] | None, count: int) -> _Job:
        """A job on `count` hosts: algo-1's sandbox is jobs/<name>/, algo-k's jobs/<name>@algo-k/."""
        with self._lock:
            self._job_number += 1
            number = self._job_number
        names = cluster.host_names(count)
        addresses = cluster.addresses(self.ctx, number, names)
        hosts = [
            _Host(host, self._sandbox(name if host == "algo-1" else f"{name}@{host}"), addresses[host])
            for host in names
        ]
        if count > 1:
            for host, cpus in zip(hosts, cluster.cpu_shares(count), strict=True):
                host.cpus = cpus
        first = next(host for host in hosts if host.name == "algo-1")
        return _Job(kind, name, fake, first.sandbox, environment or {}, hosts=hosts)

    def _sandbox(self, name: str) -> Path:
        sandbox = self.ctx.workdir / "jobs" / name
        if sandbox.exists():
            shutil.rmtree(sandbox)
        sandbox.mkdir(parents=True)
        return sandbox

    def _submit(self, job: _Job) -> None:
        with self._lock:
            self._jobs[(job.kind, job.name)] = job
        self._emit(job)
        run = self._run_training if job.kind == "training" else self._run_processing
        try:
            self._pool.submit(self._guarded, job, run)
        except RuntimeError:  # the cloud stopped while the job was being created: it never runs
            LOG.info("%s job %s created while the local cloud stopped; not run", job.kind, job.name)

    def _guarded(self, job: _Job, run: Callable[[_Job], None]) -> None:
        try:
            run(job)
        except Exception as exc:  # never leave a job InProgress because the runner broke
            if self.ctx.stop_event.is_set():  # the cloud is shutting down under a running job
                LOG.info("job %s interrupted by the local cloud stopping", job.name)
                return
            LOG.exception("job %s crashed the local runner", job.name)
            self._finish(job, "Failed", f"InternalServerError: local runner error: {exc}"[:1024])
        finally:
            job.done.set()

    # ---- control ----------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> _Job | None:
        return self._jobs.get((kind, name))

    def wait(self, kind: str, name: str, timeout: float | None = None) -> bool:
        job = self.get(kind, name)
        return job.done.wait(timeout) if job else False

    def stop(self, kind: str, name: str) -> None:
        """StopTrainingJob / StopProcessingJob: Stopping now, SIGTERM, SIGKILL after the grace period."""
        job = self.get(kind, name)
        if job is None or job.done.is_set():
            return
        with job.lock:
            if job.stop_reason:
                return
            job.stop_reason = "Stopped"
            self._set_status(job, "Stopping")
            if kind == "training":
                self._transition(job, "Stopping", "Stopping the training job")
        self._emit(job)
        self._signal(job, signal.SIGTERM)
        self._kill_later(job, self.ctx.scaled(STOP_GRACE_SECONDS))

    def interrupt_training(
        self, name: str, notice_seconds: float = 2.0, outcome: str = "max_wait_exceeded", notice: bool = True
    ) -> None:
        """Reclaim a spot training job's capacity: SIGTERM now, SIGKILL after `notice_seconds`.

        Without notice (`notice=False`, or `notice_seconds` <= 0) the host is lost: EC2 gives its
        two-minute notice only on a best-effort basis. The job gets no SIGTERM and is SIGKILLed at
        once; its checkpoints reach S3 only as far as the continuous CheckpointConfig sync had
        uploaded them (the sync catches up first, as SageMaker's uploads files as they appear), and
        nothing is uploaded from the lost host afterwards (no final sync, no partial model).

        `outcome` says what happens after the interruption:
        - `resume`: capacity comes back; the job restarts in place (SecondaryStatus Interrupted ->
          Starting -> Downloading, checkpoints restored from S3) and trains on, as managed spot does;
        - `max_wait_exceeded`: capacity does not come back within MaxWaitTimeInSeconds; the job ends
          Stopped / MaxWaitTimeExceeded (the wait is not simulated in real time);
        - `capacity_error`: the job ends Failed with a `CapacityError: ...` FailureReason.
        With notice, checkpoints written up to the kill are uploaded to CheckpointConfig.S3Uri.
        On a restart (`resume`) the new instance starts with an empty checkpoint directory and gets
        what S3 holds.
        """
        if outcome not in ("resume", "max_wait_exceeded", "capacity_error"):
            raise ValueError(f"unknown spot interruption outcome {outcome!r}")
        job = self.get("training", name)
        if job is None or job.done.is_set():
            raise ValueError(f"training job {name} is not running")
        host_lost = not notice or notice_seconds <= 0
        with job.lock:
            job.stop_reason = "Interrupted"
            job.spot_outcome = outcome
            job.host_lost = host_lost
            syncs = [host.checkpoint_sync for host in job.hosts if host.checkpoint_sync]
        for hook in list(self.interruption_hooks):
            hook(name, 0 if host_lost else int(notice_seconds))
        if host_lost:
            # Freeze the host at the moment it is lost: the catch-up sync below stands in for SageMaker's
            # continuous upload of what was already written, and must not let training run on meanwhile
            # (a fast job wrote and logged further checkpoints during the sync that were then lost).
            # Spot capacity is reclaimed for the whole job: every host of it is lost at once.
            self._signal(job, signal.SIGSTOP)
            for sync in syncs:
                try:
                    sync.run()
                except Exception:  # the host is lost either way
                    LOG.exception("checkpoint sync of %s before its host was lost failed", name)
            self._signal(job, signal.SIGKILL)
            return
        self._signal(job, signal.SIGTERM)
        self._kill_later(job, notice_seconds)

    def plan_interruption(self, plan: PlannedInterruption) -> PlannedInterruption:
        """Carry out `plan` on the first matching training job when its log reaches the planned line."""
        with self._lock:
            self.planned_interruptions.append(plan)
        return plan

    def _carry_out_planned(self, job: _Job, line: str) -> None:
        if job.kind != "training" or job.stop_reason:  # an interruption already under way: the next waits
            return
        with self._lock:
            plan = next((p for p in self.planned_interruptions if p.due(job, line)), None)
            if plan is None:
                return
            self.planned_interruptions.remove(plan)
        if not any(h.process and h.process.poll() is None for h in job.hosts):  # read after the scripts ended
            LOG.warning("planned interruption of %s did not land: the job's script had already exited", job.name)
            return
        try:
            self.interrupt_training(job.name, plan.notice_seconds, plan.outcome, plan.notice)
        except ValueError:  # the job ended meanwhile
            LOG.warning("planned interruption of %s did not land: the job had ended", job.name)
            return
        plan.fired.set()  # set once the interruption is under way, never for one that did not happen

    def shutdown(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if not job.done.is_set():
                job.stop_reason = job.stop_reason or "Stopped"
                self._signal(job, signal.SIGKILL)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _signal(self, job: _Job, sig: signal.Signals, hosts: list[_Host] | None = None) -> None:
        """Signal every host's process (or `hosts`'): each host is its own process group (start_new_session)."""
        with job.lock:
            for host in job.hosts if hosts is None else hosts:
                proc = host.process
                if proc is None or proc.poll() is not None:
                    continue
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)

    def _kill_later(self, job: _Job, delay: float) -> None:
        for host in job.hosts:
            proc = host.process
            if proc is None:
                continue

            def kill(proc: subprocess.Popen[bytes] = proc) -> None:
                try:
                    proc.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)

            threading.Thread(target=kill, name=f"kill-{job.name}-{host.name}", daemon=True).start()

    # ---- status bookkeeping -----------------------------------------------------------------

    def _set_status(self, job: _Job, status: str) -> None:
        fake = job.fake
        if job.kind == "training":
            fake.training_job_status = status
        else:
            fake.processing_job_status = status
        fake.last_modified_time = _now()

    def _transition(self, job: _Job, status: str, message: str) -> None:
        fake = job.fake
        now = _now()
        transitions = fake.secondary_status_transitions
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now
        transitions.append({"Status": status, "StartTime": now, "StatusMessage": message})
        fake.secondary_status = status
        fake.last_modified_time = now

    def _emit(self, job: _Job) -> None:
        describe = job.fake.response_object
        detail_type = TRAINING_EVENT if job.kind == "training" else PROCESSING_EVENT
        put_event(self.ctx, detail_type, job.fake.arn, event_detail(describe))

    def _finish(self, job: _Job, status: str, failure_reason: str | None = None, secondary: str | None = None) -> None:
        fake = job.fake
        now = _now()
        fake.failure_reason = failure_reason
        if job.kind == "training":
            self._transition(
                job, secondary or status, failure_reason or _FINAL_MESSAGES.get(secondary or status, status)
            )
            transitions = fake.secondary_status_transitions
            transitions[-1]["EndTime"] = now
            fake.training_end_time = now
            started = fake.training_start_time or now
            seconds = max(1, math.ceil((now - started).total_seconds()))
            fake.training_time_in_seconds = seconds
            self._publish_metrics(job, now)
            spot = bool(fake.enable_managed_spot_training)
            fake.billable_time_in_seconds = max(1, math.ceil(seconds * SPOT_BILLABLE_FRACTION)) if spot else seconds
        else:
            fake.processing_end_time = now
            # /opt/ml/output/message -> ExitMessage (first 1 KB), from the host that failed
            message = (job.failed_host or job.hosts[0]).sandbox / "output" / "message"
            if message.is_file():
                fake.exit_message = message.read_bytes()[:1024].decode("utf-8", "replace")
        self._set_status(job, status)
        self._emit(job)

    @staticmethod
    def _match_metrics(job: _Job, line: str) -> None:
        for name, pattern in job.metric_patterns.items():
            match = pattern.search(line)
            if match:
                with contextlib.suppress(ValueError, IndexError):
                    job.metrics[name] = float(match.group(1))

    def _publish_metrics(self, job: _Job, now: datetime) -> None:
        """As SageMaker does: FinalMetricDataList, and the values under /aws/sagemaker/TrainingJobs."""
        if not job.metrics:
            return
        job.fake.final_metric_data_list = [
            {"MetricName": name, "Value": value, "Timestamp": now} for name, value in sorted(job.metrics.items())
        ]
        try:
            client(self.ctx, "cloudwatch").put_metric_data(
                Namespace="/aws/sagemaker/TrainingJobs",
                MetricData=[
                    {
                        "MetricName": name,
                        "Value": value,
                        "Timestamp": now,
                        "Dimensions": [{"Name": "Host", "Value": f"{job.name}/algo-1"}],
                    }
                    for name, value in sorted(job.metrics.items())
                ],
            )
        except Exception:
            LOG.exception("could not publish training metrics of %s", job.name)

    # ---- training ---------------------------------------------------------------------------

    def _run_training(self, job: _Job) -> None:
        fake = job.fake
        if job.stop_reason:
            self._finish(job, "Stopped", secondary="Stopped")
            return
        started_at = int(time.time())
        for host in job.hosts:  # one stream per host, named as SageMaker names them
            host.logs = LogStream(self.ctx, "/aws/sagemaker/TrainingJobs", f"{job.name}/{host.name}-{started_at}")
        checkpoint = fake.checkpoint_config or None
        try:
            self._transition(job, "Downloading", "Downloading input data")
            self._prepare_training(job)
            if checkpoint:
                for host in job.hosts:
                    host.checkpoint_dir = Path(
                        map_opt_ml(checkpoint.get("LocalPath") or "/opt/ml/checkpoints", host.sandbox)
                    )
                    download_s3(self.ctx, checkpoint["S3Uri"], host.checkpoint_dir, job.role_arn)
        except JobFailed as exc:
            self._finish(job, "Failed", str(exc)[:1024], secondary="Failed")
            return
        fake.training_start_time = _now()
        while True:
            self._transition(job, "Training", "Training image download completed. Training in progress.")
            for host in job.hosts:  # every host syncs its LocalPath to the same S3Uri, as SageMaker does
                host.checkpoint_sync = (
                    _CheckpointSync(self.ctx, host.checkpoint_dir, checkpoint["S3Uri"], job.role_arn)
                    if checkpoint and host.checkpoint_dir
                    else None
                )
            returncode = self._execute(job)
            for host in job.hosts:
                sync, host.checkpoint_sync = host.checkpoint_sync, None
                if sync and not job.host_lost:  # a lost host uploads nothing more
                    sync.run()
            if job.stop_reason == "Interrupted":
                self._transition(job, "Interrupted", "Training job interrupted: managed spot capacity was reclaimed")
                self._emit(job)
                if job.spot_outcome == "resume":
                    with job.lock:
                        job.stop_reason = None
                        job.host_lost = False
                    self._transition(job, "Starting", "Launching requested ML instances after spot interruption")
                    self._transition(job, "Downloading", "Downloading input data")
                    self._readdress(job)  # new instances, new addresses (the old ones may still hold ports)
                    for host in job.hosts:  # the whole cluster is replaced; every host restores from S3
                        self._fresh_instance(host.sandbox, host.checkpoint_dir)
                        if checkpoint and host.checkpoint_dir:
                            download_s3(self.ctx, checkpoint["S3Uri"], host.checkpoint_dir, job.role_arn)
                    continue
                if not job.host_lost:
                    self._upload_model(job, partial=True)
                if job.spot_outcome == "capacity_error":
                    self._finish(job, "Failed", CAPACITY_ERROR, secondary="Failed")
                else:
                    self._finish(job, "Stopped", secondary="MaxWaitTimeExceeded")
                return
            break
        if job.stop_reason in ("Stopped", "MaxRuntimeExceeded"):
            self._upload_model(job, partial=True)
            self._finish(job, "Stopped", secondary=job.stop_reason)
            return
        if returncode != 0:
            self._finish(job, "Failed", self._training_failure(job, returncode), secondary="Failed")
            return
        self._transition(job, "Uploading", "Uploading generated training model")
        self._upload_model(job, partial=False)
        self._finish(job, "Completed", secondary="Completed")

    def _readdress(self, job: _Job) -> None:
        with self._lock:
            self._job_number += 1
            number = self._job_number
        addresses = cluster.addresses(self.ctx, number, job.host_names)
        names = cluster.network_env(self.ctx, addresses)
        for host in job.hosts:
            host.address = addresses[host.name]
            host.env.update(names)

    @staticmethod
    def _fresh_instance(sandbox: Path, checkpoint_dir: Path | None) -> None:
        """A restarted spot job runs on a new instance: what the last one wrote locally is gone."""
        for directory in (checkpoint_dir, sandbox / "model", sandbox / "output" / "data"):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir(parents=True, exist_ok=True)

    def _prepare_training(self, job: _Job) -> None:
        """Every host's sandbox, channels (sharded as asked), config files, environment and command."""
        fake = job.fake
        python = self._image_python(job, (fake.algorithm_specification or {}).get("TrainingImage", ""))
        self._check_kms_keys(job)
        raw = dict(fake.hyper_parameters or {})
        decoded = {k: _decode_hyperparameter(v) for k, v in raw.items()}
        program = decoded.get("sagemaker_program")
        submit = decoded.get("sagemaker_submit_directory")
        if not program or not submit:
            raise JobFailed(
                "ClientError: the local cloud runs script mode only: hyperparameters sagemaker_program and "
                "sagemaker_submit_directory are required"
            )
        names = job.host_names
        instance_type = str((fake.resource_config or {}).get("InstanceType") or "local")
        network = cluster.network_env(self.ctx, {host.name: host.address for host in job.hosts})
        for host in job.hosts:
            sandbox = host.sandbox
            code_dir = sandbox / "code"
            channels: list[str] = []
            input_config: dict[str, Any] = {}
            env: dict[str, str] = {}
            for channel in fake.input_data_config or []:
                name = channel["ChannelName"]
                source = channel.get("DataSource", {}).get("S3DataSource")
                if not source:
                    raise JobFailed(f"ClientError: channel {name}: only S3DataSource is supported locally")
                if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                    raise JobFailed(f"ClientError: channel {name}: only S3DataType S3Prefix is supported locally")
                distribution = source.get("S3DataDistributionType", "FullyReplicated")
                dest = sandbox / "input" / "data" / name
                if distribution == "ShardedByS3Key" and len(names) > 1:
                    found, _ = cluster.stage_prefix(
                        self.ctx, source["S3Uri"], dest, job.role_arn, names, host.name, sharded=True
                    )
                else:
                    found = len(download_s3(self.ctx, source["S3Uri"], dest, job.role_arn))
                if not found:
                    raise JobFailed(
                        f'ClientError: No S3 objects found under S3 URL "{source["S3Uri"]}" given in input data source.'
                    )
                dest.mkdir(parents=True, exist_ok=True)  # a host whose shard is empty still has the channel
                channels.append(name)
                env[f"SM_CHANNEL_{name.upper()}"] = str(dest)
                input_config[name] = {
                    "ContentType": channel.get("ContentType"),
                    "TrainingInputMode": channel.get("InputMode")
                    or fake.algorithm_specification.get("TrainingInputMode", "File"),
                    "S3DistributionType": distribution,
                    "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                }
                input_config[name] = {k: v for k, v in input_config[name].items() if v is not None}

            self._install_code(job, str(submit), code_dir, sandbox)
            if not (code_dir / str(program)).is_file():
                raise JobFailed(f"ClientError: sagemaker_program {program} is not in {submit}")

            user_hps = {
                k: (map_opt_ml(v, sandbox) if isinstance(v, str) else v)
                for k, v in decoded.items()
                if not k.startswith("sagemaker_")
            }
            model_dir, output_data = sandbox / "model", sandbox / "output" / "data"
            model_dir.mkdir(parents=True, exist_ok=True)
            output_data.mkdir(parents=True, exist_ok=True)
            config_dir = sandbox / "input" / "config"
            config_dir.mkdir(parents=True, exist_ok=True)
            resource = cluster.training_resource_config(host.name, names, instance_type)
            (config_dir / "hyperparameters.json").write_text(json.dumps(raw))
            (config_dir / "inputdataconfig.json").write_text(json.dumps(input_config))
            (config_dir / "resourceconfig.json").write_text(json.dumps(resource))

            env.update(
                {
                    "SM_CHANNELS": json.dumps(sorted(channels)),
                    "SM_MODEL_DIR": str(model_dir),
                    "SM_OUTPUT_DIR": str(sandbox / "output"),
                    "SM_OUTPUT_DATA_DIR": str(output_data),
                    "SM_OUTPUT_INTERMEDIATE_DIR": str(sandbox / "output" / "intermediate"),
                    "SM_INPUT_DIR": str(sandbox / "input"),
                    "SM_INPUT_CONFIG_DIR": str(config_dir),
                    "SM_INPUT_DATA_CONFIG": json.dumps(input_config),
                    "SM_HPS": json.dumps(user_hps),
                    **cluster.training_env(host.name, names, instance_type),
                    "SM_NUM_CPUS": str(len(host.cpus) if host.cpus else os.cpu_count() or 1),
                    "SM_NUM_GPUS": "0",
                    "SM_RESOURCE_CONFIG": json.dumps(resource),
                    "SM_USER_ENTRY_POINT": str(program),
                    "SM_MODULE_NAME": Path(str(program)).stem,
                    "SM_MODULE_DIR": str(submit),
                    "SM_LOG_LEVEL": "20",
                    "SM_TRAINING_ENV": json.dumps(
                        {
                            "job_name": job.name,
                            "hyperparameters": user_hps,
                            "channel_input_dirs": {c: env[f"SM_CHANNEL_{c.upper()}"] for c in channels},
                            "model_dir": str(model_dir),
                            "output_data_dir": str(output_data),
                            **cluster.training_env_summary(host.name, names, instance_type),
                            "user_entry_point": str(program),
                        }
                    ),
                }
            )
            for key, value in user_hps.items():
                env[f"SM_HP_{key.upper()}"] = _arg_value(value)
            cmd = [python, str(program)]
            for key, value in user_hps.items():
                cmd += [f"--{key}", _arg_value(value)]
            host.cmd, host.cwd = cmd, code_dir
            host.env = self._process_env(job, {**network, **env}, sandbox)

    def _install_code(self, job: _Job, submit: str, code_dir: Path, sandbox: Path | None = None) -> None:
        """sagemaker_submit_directory into the code dir, as the toolkit's `_files.download_and_extract` does.

        An `s3://` URI is fetched by the toolkit inside the container, which under network isolation
        cannot reach S3; a local path (the `code` channel's /opt/ml/input/data/code/sourcedir.tar.gz)
        is a directory to copy or a tarball to extract.
        """
        sandbox = sandbox or job.sandbox
        if submit.startswith("s3://"):
            if job.isolated:
                bucket, key = split_s3_uri(submit)
                raise JobFailed(
                    "AlgorithmError: framework error: botocore.exceptions.EndpointConnectionError: Could not "
                    f'connect to the endpoint URL: "https://{bucket}.s3.{self.ctx.region}.amazonaws.com/{key}" '
                    "(EnableNetworkIsolation: the container has no network; pass the code as an input channel)"
                )
            tarball = sandbox / "sourcedir.tar.gz"
            try:
                bucket, key = split_s3_uri(submit)
                fetch_object(client(self.ctx, "s3"), bucket, key, tarball)
                _extract_tar(tarball, code_dir)
            except Exception as exc:
                raise JobFailed(f"ClientError: could not download sagemaker_submit_directory {submit}: {exc}") from exc
            return
        local = Path(map_opt_ml(submit, sandbox))
        try:
            if local.is_dir():
                shutil.copytree(local, code_dir, dirs_exist_ok=True)
            elif tarfile.is_tarfile(local):
                _extract_tar(local, code_dir)
            else:
                code_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(local, code_dir)
        except (OSError, tarfile.TarError) as exc:
            raise JobFailed(f"AlgorithmError: framework error: sagemaker_submit_directory {submit}: {exc}") from exc

    def _training_failure(self, job: _Job, returncode: int) -> str:
        """The failed host's /opt/ml/output/failure, else the toolkit's ExecuteUserScriptError from its log."""
        host = job.failed_host or job.hosts[0]
        failure_file = host.sandbox / "output" / "failure"
        if failure_file.is_file() and failure_file.read_text().strip():
            reason = failure_file.read_text().strip()
        else:
            shown = " ".join(["python3", *host.cmd[1:]])
            reason = (
                f"AlgorithmError: ExecuteUserScriptError:\nExitCode {returncode}\n"
                f'ErrorMessage "{_error_line(host.tail)}"\nCommand "{shown}"'
            )
        return reason[:1024]

    def _upload_model(self, job: _Job, partial: bool) -> None:
        """model dir -> model.tar.gz, output/data -> output.tar.gz (on stop: only if the script saved something).

        Every host's /opt/ml/model and /opt/ml/output/data go to the same artifact; on AWS files of the
        same name from different hosts race (distributed scripts save from one host only). Locally the
        first host's file wins.
        """
        fake, sandbox = job.fake, job.sandbox
        artifact = fake.model_artifacts["S3ModelArtifacts"]
        model_dir = self._merged(job, Path("model"), sandbox / ".merged-model")
        output_data = self._merged(job, Path("output") / "data", sandbox / ".merged-output")
        if not (partial and not any(model_dir.glob("*"))):
            archive = sandbox / "model.tar.gz"
            _tar_dir(model_dir, archive)
            upload_file(self.ctx, archive, artifact, job.role_arn)
        if output_data.is_dir() and any(output_data.iterdir()):
            archive = sandbox / "output.tar.gz"
            _tar_dir(output_data, archive)
            upload_file(self.ctx, archive, artifact.rsplit("/", 1)[0] + "/output.tar.gz", job.role_arn)

    @staticmethod
    def _merged(job: _Job, relative: Path, staging: Path) -> Path:
        """The union of every host's `relative` directory (the first host's files win); one host: its own."""
        if len(job.hosts) == 1:
            return job.sandbox / relative
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for host in reversed(job.hosts):
            source = host.sandbox / relative
            if source.is_dir():
                shutil.copytree(source, staging, dirs_exist_ok=True)
        return staging

    # ---- processing -------------------------------------------------------------------------

    def _run_processing(self, job: _Job) -> None:
        fake = job.fake
        if job.stop_reason:
            self._finish(job, "Stopped")
            return
        started_at = int(time.time())
        for host in job.hosts:
            host.logs = LogStream(self.ctx, "/aws/sagemaker/ProcessingJobs", f"{job.name}/{host.name}-{started_at}")
        try:
            self._prepare_processing(job)
        except JobFailed as exc:
            self._finish(job, "Failed", str(exc)[:1024])
            return
        fake.processing_start_time = _now()
        returncode = self._execute(job)
        if job.stop_reason:
            self._finish(job, "Stopped")
            return
        if returncode != 0:
            # A processing container runs its entrypoint directly (no toolkit writes a failure file):
            # SageMaker's reason is generic; the container's own words go to ExitMessage (`_finish`).
            self._finish(job, "Failed", PROCESSING_FAILURE)
            return
        try:
            for output in (fake.processing_output_config or {}).get("Outputs", []):
                s3_output = output.get("S3Output")
                if s3_output:
                    # Every host uploads its LocalPath under the same S3Uri (same-named files overwrite,
                    # so sharded jobs name their files per host); the first host's upload lands last.
                    for host in reversed(job.hosts):
                        upload_tree(
                            self.ctx,
                            Path(map_opt_ml(s3_output["LocalPath"], host.sandbox)),
                            s3_output["S3Uri"],
                            job.role_arn,
                        )
        except Exception as exc:
            self._finish(job, "Failed", f"ClientError: could not upload processing outputs: {exc}"[:1024])
            return
        self._finish(job, "Completed")

    def _prepare_processing(self, job: _Job) -> None:
        fake = job.fake
        names = job.host_names
        for host in job.hosts:
            sandbox = host.sandbox
            for item in fake.processing_inputs or []:
                s3_input = item.get("S3Input")
                if not s3_input:
                    raise JobFailed(f"ClientError: input {item.get('InputName')}: only S3Input is supported locally")
                data_type = s3_input.get("S3DataType", "S3Prefix")
                if data_type not in ("S3Prefix", "ManifestFile"):
                    raise JobFailed(
                        f"ClientError: input {item.get('InputName')}: S3DataType {data_type} is not supported locally"
                    )
                dest = Path(map_opt_ml(s3_input["LocalPath"], sandbox))
                sharded = s3_input.get("S3DataDistributionType") == "ShardedByS3Key" and len(names) > 1
                if sharded:
                    stage = cluster.stage_manifest if data_type == "ManifestFile" else cluster.stage_prefix
                    found, _ = stage(self.ctx, s3_input["S3Uri"], dest, job.role_arn, names, host.name, True)
                    dest.mkdir(parents=True, exist_ok=True)
                else:
                    download = download_manifest if data_type == "ManifestFile" else download_s3
                    found = len(download(self.ctx, s3_input["S3Uri"], dest, job.role_arn))
                if not found:
                    raise JobFailed(
                        f'ClientError: No S3 objects found under S3 URL "{s3_input["S3Uri"]}" given in input data '
                        "source."
                    )
            for output in (fake.processing_output_config or {}).get("Outputs", []):
                if output.get("S3Output"):
                    Path(map_opt_ml(output["S3Output"]["LocalPath"], sandbox)).mkdir(parents=True, exist_ok=True)
            config_dir = sandbox / "config"
            config_dir.mkdir(parents=True, exist_ok=True)
            resource = cluster.processing_resource_config(host.name, names)
            (config_dir / "resourceconfig.json").write_text(json.dumps(resource))
        app = fake.app_specification or {}
        python = self._image_python(job, app.get("ImageUri", ""))
        self._check_kms_keys(job)
        entrypoint = list(app.get("ContainerEntrypoint") or [])
        if not entrypoint:
            raise JobFailed(
                "ClientError: the local cloud needs AppSpecification.ContainerEntrypoint to run a processing job"
            )
        if entrypoint[0] in ("python3", "python"):
            entrypoint[0] = python
        network = cluster.network_env(self.ctx, {host.name: host.address for host in job.hosts})
        for host in job.hosts:
            arguments = entrypoint + list(app.get("ContainerArguments") or [])
            host.cmd = [map_opt_ml(part, host.sandbox) for part in arguments]
            host.cwd = host.sandbox
            host.env = self._process_env(job, dict(network), host.sandbox)

    # ---- running the process ----------------------------------------------------------------

    def _check_kms_keys(self, job: _Job) -> None:
        """Every KMS key the request names must exist in the job's account and region (moto's KMS)."""
        fake = job.fake
        if job.kind == "training":
            named = {
                "OutputDataConfig.KmsKeyId": (fake.output_data_config or {}).get("KmsKeyId"),
                "ResourceConfig.VolumeKmsKeyId": (fake.resource_config or {}).get("VolumeKmsKeyId"),
            }
        else:
            cluster = ((getattr(fake, "processing_resources", None) or {}).get("ClusterConfig")) or {}
            named = {
                "ProcessingOutputConfig.KmsKeyId": (fake.processing_output_config or {}).get("KmsKeyId"),
                "ProcessingResources.ClusterConfig.VolumeKmsKeyId": cluster.get("VolumeKmsKeyId"),
            }
        _, _, _, region, account, _ = fake.arn.split(":", 5)
        for field_name, key in named.items():
            if key and not _kms_key_exists(str(key), account, region):
                raise JobFailed(f"ClientError: {field_name} {key} is not a KMS key in {account}/{region}")

    def _image_python(self, job: _Job, image_uri: str) -> str:
        """The interpreter of the job's image environment; an image AWS could not pull fails the job."""
        try:
            python = image_envs.python_for_image(image_uri)
        except image_envs.UnknownImage as exc:
            LOG.warning("%s job %s: %s", job.kind, job.name, exc)
            raise JobFailed(_PULL_FAILURES[job.kind].format(image=image_uri)) from exc
        except image_envs.ImageEnvMissing as exc:
            raise JobFailed(f"InternalServerError: {exc}") from exc
        job.image_bin = str(Path(python).parent)
        return python

    def _process_env(self, job: _Job, extra: dict[str, str], sandbox: Path | None = None) -> dict[str, str]:
        # The job sees its image's environment only: never the local cloud's venv or its PYTHONPATH
        # (the one PYTHONPATH entry a job gets is the container-network shim, cluster.network_env).
        sandbox = sandbox or job.sandbox
        scrubbed = ("AWS_", "SM_", "MOTO_", "PYTHON", "VIRTUAL_ENV", "CONDA_", "PIP_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(scrubbed)}
        if job.image_bin:
            venv_bin = Path(sys.prefix) / "bin"
            path = [p for p in env.get("PATH", "").split(os.pathsep) if p and Path(p) != venv_bin]
            env["PATH"] = os.pathsep.join([job.image_bin, *path])
            env["VIRTUAL_ENV"] = str(Path(job.image_bin).parent)
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "AWS_ENDPOINT_URL": self.ctx.endpoint_url,
                "AWS_REGION": self.ctx.region,
                "AWS_DEFAULT_REGION": self.ctx.region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "TRAINING_JOB_NAME" if job.kind == "training" else "PROCESSING_JOB_NAME": job.name,
            }
        )
        if job.isolated:  # no network: AWS calls from the job fail at once, as they cannot leave the container
            env["AWS_ENDPOINT_URL"] = ISOLATED_ENDPOINT
        env.update(extra)
        env.update({k: map_opt_ml(str(v), sandbox) for k, v in job.environment.items()})
        return env

    def _execute(self, job: _Job) -> int:
        """Run every host's command (`host.cmd`, `host.env`, `host.cwd`) until all have exited.

        The job's result is its first failed host's exit code: when one host fails, SageMaker ends the
        job and releases the other instances, so their processes are killed at once (nothing of theirs
        is saved on the way out). Returns 0 when every host exited 0.
        """
        max_runtime = (job.fake.stopping_condition or {}).get("MaxRuntimeInSeconds")
        started = time.monotonic()
        job.failed_host = None
        with contextlib.ExitStack() as stack:
            readers: list[threading.Thread] = []
            usages: list[Any] = []
            with job.lock:
                if job.stop_reason:
                    return -signal.SIGTERM
                for host in job.hosts:
                    log_file = stack.enter_context(open(host.sandbox / "job.log", "ab"))
                    host.process = subprocess.Popen(
                        host.cmd,
                        cwd=host.cwd or host.sandbox,
                        env=host.env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                    if host.cpus:  # its instance's cores (cluster.cpu_shares); threads it starts inherit them
                        with contextlib.suppress(OSError):
                            os.sched_setaffinity(host.process.pid, host.cpus)
                    reader = threading.Thread(
                        target=self._pump, args=(job, host, log_file), name=f"log-{job.name}-{host.name}", daemon=True
                    )
                    readers.append(reader)
            for host in job.hosts:
                assert host.process is not None
                # CPU/memory/disk into CloudWatch, as SageMaker does: each host its own (Host=<job>/algo-<n>)
                usages.append(utilisation.watch(self.ctx, job, host.process.pid, host))
            for reader in readers:
                reader.start()
            last_tick = time.monotonic()
            while True:
                running = [host for host in job.hosts if host.process and host.process.poll() is None]
                failed = next(
                    (host for host in job.hosts if host.process and host.process.returncode not in (None, 0)), None
                )
                if failed and job.failed_host is None and not job.stop_reason:
                    job.failed_host = failed
                    if running:
                        LOG.info("%s job %s: %s failed; stopping the other hosts", job.kind, job.name, failed.name)
                        self._signal(job, signal.SIGKILL, running)
                if not running:
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    running[0].process.wait(timeout=0.2)  # type: ignore[union-attr]
                if max_runtime and not job.stop_reason and time.monotonic() - started > max_runtime:
                    with job.lock:
                        job.stop_reason = "MaxRuntimeExceeded"
                    self._signal(job, signal.SIGTERM)
                    self._kill_later(job, self.ctx.scaled(STOP_GRACE_SECONDS))
                if time.monotonic() - last_tick >= 1.0:
                    last_tick = time.monotonic()
                    for host in job.hosts:
                        if host.logs:
                            host.logs.flush()
                        if host.checkpoint_sync:
                            host.checkpoint_sync.run()
            for reader in readers:
                reader.join(timeout=5)
            for usage in usages:
                usage.stop()
        codes = []
        with job.lock:
            for host in job.hosts:
                codes.append(host.process.returncode if host.process else 0)
                host.process = None
        for host in job.hosts:
            if host.logs:
                host.logs.flush()
        if job.failed_host is not None:
            return codes[job.hosts.index(job.failed_host)]
        return next((code for code in codes if code != 0), 0)

    def _pump(self, job: _Job, host: _Host, log_file: Any) -> None:
        """A host's output: into its job.log and log stream, metric definitions, planned interruptions."""
        proc = host.process
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            log_file.write(raw)
            log_file.flush()
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            host.tail.append(line)
            self._match_metrics(job, line)
            self._carry_out_planned(job, line)
            if host.logs:
                host.logs.add(line)


def _kms_key_exists(key: str, account: str, region: str) -> bool:
    """A key id, key ARN, alias name or alias ARN that moto's KMS knows in this account and region."""
    from moto.kms.models import kms_backends

    if key.startswith("arn:"):
        parts = key.split(":", 5)
        if len(parts) != 6 or parts[3] != region or parts[4] != account:
            return False
    try:
        kms_backends[account][region].describe_key(key)
    except Exception:  # moto raises KeyError / NotFoundException for an unknown key or alias
        return False
    return True


# What SageMaker reports when it cannot pull the image (aws/sagemaker-python-sdk issues #57, #1968; a processing
# job's reason quotes Docker's registry error).
# What DescribeProcessingJob says of a container that exited non-zero (e.g. aws/amazon-sagemaker-examples#1604,
# aws/sagemaker-python-sdk#1378: "Failed. Reason: AlgorithmError"); the details are in the job's log.
PROCESSING_FAILURE = "AlgorithmError: See job logs for more information"

_PULL_FAILURES = {
    "training": "ClientError: Cannot pull algorithm container. Either the image does not exist or its permissions "
    "are incorrect. (image {image})",
    "processing": "ClientError: API error (404): manifest for {image} not found: manifest unknown: "
    "Requested image not found",
}

_FINAL_MESSAGES = {
    "Completed": "Training job completed",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: MaxRuntimeInSeconds exceeded",
    "MaxWaitTimeExceeded": "Training job stopped: spot capacity did not return within MaxWaitTimeInSeconds",
    "Failed": "Training job failed",
}


class _CheckpointSync:
    """CheckpointConfig.LocalPath -> S3Uri, uploading new or changed files (SageMaker syncs continuously)."""

    def __init__(self, ctx: LocalCloudContext, local: Path, uri: str, role_arn: str | None = None) -> None:
        self.ctx, self.local, self.uri, self.role_arn = ctx, local, uri.rstrip("/"), role_arn
        self._seen: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()  # the job's poll loop and a host loss may sync at the same time

    def run(self) -> None:
        with self._lock:
            self._run()

    def _run(self) -> None:
        if not self.local.is_dir():
            return
        for path in self.local.rglob("*"):
            if not path.is_file():
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            rel = path.relative_to(self.local).as_posix()
            signature = (stat.st_mtime_ns, stat.st_size)
            if self._seen.get(rel) == signature:
                continue
            try:
                data = path.read_bytes()
                bucket, key = split_s3_uri(f"{self.uri}/{rel}")
                client(self.ctx, "s3", self.role_arn).upload_fileobj(io.BytesIO(data), bucket, key)
                self._seen[rel] = signature
            except FileNotFoundError:
                continue


# ---- moto patches -------------------------------------------------------------------------------

_RUNNER: JobRunner | None = None


def runner() -> JobRunner:
    if _RUNNER is None:
        raise RuntimeError("driftline_local.sagemaker is not installed")
    return _RUNNER


def interrupt_training_job(name: str, notice_seconds: float = 2.0, outcome: str = "max_wait_exceeded") -> None:
    """Spot interruption of a running training job (see `JobRunner.interrupt_training`)."""
    runner().interrupt_training(name, notice_seconds, outcome)


def plan_training_interruption(plan: PlannedInterruption) -> PlannedInterruption:
    """Spot interruption of a training job at a point of its training (see `PlannedInterruption`)."""
    return runner().plan_interruption(plan)


def install(ctx: LocalCloudContext) -> JobRunner:
    global _RUNNER
    from moto.core.responses import EmptyResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    if _RUNNER is not None:
        _RUNNER.shutdown()
    job_runner = _RUNNER = JobRunner(ctx)
    original_create_training = getattr(
        SageMakerResponse.create_training_job, "__wrapped__", SageMakerResponse.create_training_job
    )
    original_create_processing = getattr(
        SageMakerResponse.create_processing_job, "__wrapped__", SageMakerResponse.create_processing_job
    )

    def refuse_taken_name(jobs: dict[str, Any], name: str, message: str) -> None:
        """AWS's ValidationException for a job name already taken: `message`, then the existing job's ARN."""
        existing = jobs.get(name)
        if existing is not None:
            raise ValidationError(message=f"{message} ({existing.arn})")

    def stop_job(kind: str, name: str, status: str) -> Any:
        """Stop the `kind` job `name` if its `status` is InProgress; AWS's ValidationException otherwise."""
        if status != "InProgress":
            raise ValidationError(message=f"The request was rejected because the {kind} job is in status {status}.")
        job_runner.stop(kind, name)
        return EmptyResult()

    def create_training_job(self: Any) -> Any:
        name = self._get_param("TrainingJobName")
        refuse_taken_name(
            self.sagemaker_backend.training_jobs,
            name,
            "Training job names must be unique within an AWS account and region, and a training job with this "
            "name already exists",
        )
        requested = self._get_param("AlgorithmSpecification") or {}
        metric_definitions = [dict(d) for d in requested.get("MetricDefinitions") or []]
        result = original_create_training(self)
        job_runner.submit_training(
            self.sagemaker_backend.training_jobs[name], self._get_param("Environment"), metric_definitions
        )
        return result

    def create_processing_job(self: Any) -> Any:
        name = self._get_param("ProcessingJobName")
        refuse_taken_name(
            self.sagemaker_backend.processing_jobs,
            name,
            "Job name must be unique within an AWS account and region, and a job with this name already exists",
        )
        result = original_create_processing(self)
        job_runner.submit_processing(
            self.sagemaker_backend.processing_jobs[name],
            self._get_param("Environment"),
            self._get_param("ProcessingResources"),
        )
        return result

    def stop_training_job(self: Any) -> Any:
        name = self._get_param("TrainingJobName")
        describe = self.sagemaker_backend.describe_training_job(name)  # ValidationException if unknown
        return stop_job("training", name, describe["TrainingJobStatus"])

    def stop_processing_job(self: Any) -> Any:
        name = self._get_param("ProcessingJobName")
        describe = self.sagemaker_backend.describe_processing_job(name)
        return stop_job("processing", name, describe["ProcessingJobStatus"])

    create_training_job.__wrapped__ = original_create_training  # type: ignore[attr-defined]
    create_processing_job.__wrapped__ = original_create_processing  # type: ignore[attr-defined]
    SageMakerResponse.create_training_job = create_training_job  # type: ignore[method-assign]
    SageMakerResponse.create_processing_job = create_processing_job  # type: ignore[method-assign]
    SageMakerResponse.stop_training_job = stop_training_job  # type: ignore[attr-defined]
    SageMakerResponse.stop_processing_job = stop_processing_job  # type: ignore[method-assign]

    def on_stop() -> None:
        ctx.stop_event.wait()
        job_runner.shutdown()

    threading.Thread(target=on_stop, name="sagemaker-jobs-shutdown", daemon=True).start()
    return job_runner
