"""Local upload-to-InService time, cold and warm, what is spent outside the SageMaker jobs (named), the local
cloud's memory, and drift-to-retraining latency.

Run: `.venv/bin/python bench/loop.py [--quick] [--json PATH]` (sizes 6k, 41k and 165k rows; `--quick`: 6k
and 41k). For each size and each of two starts, a fresh local cloud (time scale 30) runs in its own
process, as `driftline local up` does, and this process acts as the user: it generates the sample data,
onboards the model, uploads two files and follows the run to a served endpoint.

- cold: no function has an execution environment when the data arrives (none started ahead, as an hourly
  pipeline finds them: Lambda reclaims environments idle for about 10 minutes);
- warm: every function's environment was started ahead and stays (an idle lifetime longer than the run),
  as for a pipeline whose functions are in use.

Upload -> InService is cut into named parts from timestamps the cloud records, as on AWS: the SageMaker
jobs (creation -> end), the configured quiet window, the endpoint's provisioning (creation -> InService),
the Lambda invocations (START -> END in their CloudWatch Logs, all functions, also those an event
started) and their init phases (Init Duration), event delivery (upload -> the first handler's START;
training job end -> its state-change handler's START), `.sync` polls (a job's end -> its task's
TaskSucceeded), the state machine's own Wait-state polls, and what remains: Step Functions transitions and
the API calls of its tasks (the time between these, read from the execution histories).

The local cloud's memory is the sum of the proportional set sizes (PSS) of its process tree (server, Lambda
environments and their zygote, jobs, model servers and their serving-stack zygote) sampled every 0.25 s
during the run; the peak is reported (aim: <= 1 GiB for a cold run, the cloud as it runs by default). PSS
counts a page shared by n processes 1/n in each, so the sum is what the machine holds; the summed RSS, which
counts the zygotes' shared imports once per process, is reported beside it. Each run also records the
machine's other work (CPU time of everything but the cloud and this bench, from /proc, and the load average):
on a busy machine the jobs slow down more than the rest, so the share reads lower, and the aim is not judged.
A warm run also imports the model-serving stack when the cloud starts (`serving_stacks_ahead`), as its
functions' environments are; a cold one imports it for its first endpoint.

After the 41k warm run (6k with `--rows 6000` alone), traffic from a shifted population starts and the
bench measures how long until the drift retrain starts, against the monitoring interval (aim: within two
intervals). The bench refuses to report if a run did not reach InService, a cold run found a warm
environment, a warm run had a cold start, or the drift retrain did not start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from figures import Figures, add_json_argument, refuse

TIME_SCALE = 30  # driftline_local.demo.TIME_SCALE
MONITOR_SCHEDULE = "rate(5 minutes)"  # DEMO_CONFIG's
MIN_RECORDS = 300  # DEMO_CONFIG's
SIZES = {"6k": 6_000, "41k": 41_188, "165k": 164_752}  # 41,188: the real bank-marketing data set's size
WARM_IDLE_SECONDS = 86_400.0  # cloud seconds: a warm run's environments outlive it
MEMORY_AIM_MIB = 1024.0
QUIET_OTHERS_CPUS = 0.25  # other work on the machine during a run, in CPUs, below which its timings are judged
SHARE_AIM = 0.10
# the parts of upload -> InService that are the local cloud's orchestration, not SageMaker's or the functions' work
LOCAL_CLOUD_LATENCY = (
    "event delivery",
    ".sync polls",
    "state machine Wait polls",
    "Step Functions transitions and task API calls",
)
DUMP = os.environ.get("DRIFTLINE_BENCH_LOOP_DUMP")  # a JSON line per run: the timeline's raw material


# --- the local cloud, in its own process ---------------------------------------------------------------
def serve(start: str, port: int, workdir: str) -> None:
    """Child process: a local cloud with the stack deployed; prints READY, serves until stdin closes.

    Deploys as `driftline local up` does (`cli.deploy_local_stack`, which resolves the image URIs in a
    short-lived child so the SageMaker SDK does not stay resident in the cloud's process)."""
    from driftline_local.cli import deploy_local_stack
    from driftline_local.cloud import LocalCloud
    from driftline_local.context import REPO_ROOT
    from driftline_local.lambda_runtime import active_runtime

    warm = start == "warm"
    cloud = LocalCloud(
        port=port,
        workdir=workdir,
        time_scale=TIME_SCALE,
        lambda_initialize_ahead=warm,
        lambda_idle_seconds=WARM_IDLE_SECONDS if warm else None,
        serving_stacks_ahead=warm,
    )
    with cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        if warm:
            active_runtime().wait_until_initialized()
        print(f"READY {cloud.endpoint_url}", flush=True)
        sys.stdin.read()


@dataclass
class MemorySampler:
    """Peak summed RSS of a process tree, sampled in the background."""

    root: int
    interval: float = 0.25
    peak_mib: float = 0.0
    peak_parts: dict[str, float] = field(default_factory=dict)
    first_parts: dict[str, float] = field(default_factory=dict)  # when the run began
    peak_pss_mib: float = 0.0  # proportional set size: a page shared by n processes counts 1/n in each
    peak_pss_parts: dict[str, float] = field(default_factory=dict)
    peak_pss_processes: dict[str, int] = field(default_factory=dict)  # how many of each kind at that peak
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _cpu_ticks: dict[int, int] = field(default_factory=dict)  # pid -> utime + stime last seen (clock ticks)
    _cpu_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            parts, pss_parts, processes = self.sample()
            pss = sum(pss_parts.values())
            self.samples += 1
            self.first_parts = self.first_parts or parts
            total = sum(parts.values())
            if total > self.peak_mib:
                self.peak_mib, self.peak_parts = total, parts
            if pss > self.peak_pss_mib:
                self.peak_pss_mib, self.peak_pss_parts, self.peak_pss_processes = pss, pss_parts, processes
            self._stop.wait(self.interval)

    def sample(self) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
        """RSS and PSS in MiB per kind of process, and how many processes of each kind."""
        parents: dict[int, int] = {}
        ticks: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    parents[int(entry)] = int(fields[1])
                    ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime
                except (OSError, ValueError, IndexError):
                    continue
        tree, grew = {self.root}, True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        with self._cpu_lock:
            for pid in tree:
                if pid in ticks:
                    self._cpu_ticks[pid] = max(self._cpu_ticks.get(pid, 0), ticks[pid])
        parts: dict[str, float] = {}
        pss: dict[str, float] = {}
        processes: dict[str, int] = {}
        for pid in tree:
            kind = "server" if pid == self.root else _kind(pid)
            processes[kind] = processes.get(kind, 0) + 1
            parts[kind] = parts.get(kind, 0.0) + _status_mib(pid, "/proc/{}/status", "VmRSS:")
            pss[kind] = pss.get(kind, 0.0) + _status_mib(pid, "/proc/{}/smaps_rollup", "Pss:")
        return parts, pss, processes

    def cpu_mark(self) -> tuple[float, float, float, float]:
        """(CPU seconds the whole machine was busy, of the cloud's tree as last seen, of this process; wall time)."""
        self.sample()
        with open("/proc/stat") as f:
            cpu = [int(v) for v in f.readline().split()[1:]]
        idle = cpu[3] + cpu[4]  # idle + iowait
        hz = os.sysconf("SC_CLK_TCK")
        with self._cpu_lock:
            tree = sum(self._cpu_ticks.values())
        own = os.times()
        return (sum(cpu[:8]) - idle) / hz, tree / hz, own.user + own.system, time.monotonic()


def _others_cpus(before: tuple[float, float, float, float], after: tuple[float, float, float, float]) -> float:
    """CPUs' worth of work other than the local cloud and this bench during the window (0: a quiet machine)."""
    busy, tree, own, wall = (a - b for a, b in zip(after, before, strict=True))
    return max(0.0, (busy - tree - own) / wall) if wall > 0 else 0.0


def _status_mib(pid: int, path: str, field: str) -> float:
    try:
        with open(path.format(pid)) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _kind(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if "_lambda_worker.py" in command:
        return "Lambda environments"
    if "_serving_stack" in command or "_inference_worker" in command:
        return "endpoints"
    return "jobs"


@contextmanager
def local_cloud(start: str) -> Iterator[tuple[str, MemorySampler]]:
    from driftline_local.cloud import free_port

    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", start, "--port", str(free_port()), "--workdir", workdir],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdin is not None
        try:
            line = proc.stdout.readline()
            if not line.startswith("READY "):
                refuse(f"the local cloud did not start ({line!r})")
            sampler = MemorySampler(proc.pid)
            try:
                yield line.split()[1], sampler
            finally:
                sampler.stop()
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()


# --- one run ----------------------------------------------------------------------------------------
@dataclass
class Run:
    size: str
    start: str
    total: float  # upload -> InService
    parts: dict[str, float]
    memory_mib: float
    memory_parts: dict[str, float]
    memory_pss_mib: float
    memory_pss_parts: dict[str, float]
    load: tuple[float, float]  # the machine's 1-minute load average when the run began and ended
    others_cpus: float  # CPUs' worth of other work on the machine during upload -> InService
    cold_starts: int
    invocations: int
    jobs: dict[str, float]
    memory_pss_processes: dict[str, int] = field(default_factory=dict)  # at the PSS peak
    function_seconds: dict[str, float] = field(default_factory=dict)  # each function's invocations, summed

    @property
    def outside(self) -> float:
        return self.total - self.parts["SageMaker jobs"] - self.parts["quiet window (config)"]

    @property
    def share(self) -> float:
        return self.outside / (self.total - self.parts["quiet window (config)"])


def run_once(size: str, rows: int, start: str, drift_rps: float | None) -> tuple[Run, tuple[float, float] | None]:
    from driftline_local.demo import DEMO_CONFIG, ENDPOINT, MODEL
    from driftline_local.loop import Clients, Stack, onboard_model, upload_frames, wait_for_run
    from driftline_local.sample_data import generate_bank_marketing

    data = generate_bank_marketing(rows, seed=7)
    frames = [data.iloc[: rows // 2], data.iloc[rows // 2 :]]
    with local_cloud(start) as (endpoint_url, memory):
        load_before = os.getloadavg()[0]
        clients = Clients(endpoint_url)
        stack = Stack.describe(clients)
        onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="true"), MODEL)
        cpu_before = memory.cpu_mark()
        since = upload_frames(clients, stack, MODEL, frames)
        del data, frames
        result = wait_for_run(clients, stack, MODEL, since, progress=None)
        cpu_after, load_after = memory.cpu_mark(), os.getloadavg()[0]
        endpoint = clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
        if result.status != "SUCCEEDED" or endpoint["EndpointStatus"] != "InService":
            refuse(
                f"{size} {start}: the run ended {result.status} ({result.error}), endpoint "
                f"{endpoint['EndpointStatus']}: no upload -> InService to report"
            )
        in_service = endpoint["LastModifiedTime"].timestamp()  # a first deployment: nothing updates it later
        timeline = Timeline(clients, stack, result.execution_arn, since, in_service)
        parts = timeline.parts()
        if DUMP:
            with open(DUMP, "a") as f:
                f.write(
                    json.dumps(
                        {
                            "run": f"{size} {start}",
                            "since": since,
                            "until": in_service,
                            "intervals": timeline.intervals,
                            "memory_first": memory.first_parts,
                            "memory_peak": memory.peak_parts,
                            "histories": {
                                arn: [
                                    {
                                        "type": e["type"],
                                        "t": _ts(e["timestamp"]),
                                        "name": (
                                            e.get("stateEnteredEventDetails") or e.get("stateExitedEventDetails") or {}
                                        ).get("name"),
                                    }
                                    for e in events
                                ]
                                for arn, events in timeline.histories.items()
                            },
                        }
                    )
                    + "\n"
                )
        drift = drift_to_retraining(clients, stack, drift_rps) if drift_rps else None
        memory.stop()
    run = Run(
        size,
        start,
        in_service - since,
        parts,
        memory.peak_mib,
        memory.peak_parts,
        memory.peak_pss_mib,
        memory.peak_pss_parts,
        (load_before, load_after),
        _others_cpus(cpu_before, cpu_after),
        timeline.cold_starts,
        timeline.invocations,
        timeline.jobs,
        memory.peak_pss_processes,
        timeline.function_seconds,
    )
    report([run], None, Figures("loop"))  # the details, before any check
    if start == "cold" and len(timeline.first_cold) < timeline.functions:
        refuse(f"{size} cold: only {len(timeline.first_cold)} of {timeline.functions} functions started cold")
    if start == "warm" and timeline.first_cold:
        # a second concurrent request may start a second environment, as on Lambda; a first one may not
        refuse(f"{size} warm: the first invocation of {', '.join(timeline.first_cold)} waited for an init phase")
    if memory.samples < 3:
        refuse(f"{size} {start}: memory sampled {memory.samples} times")
    return run, drift


# --- naming the time outside the jobs ---------------------------------------------------------------
def _ts(value: datetime | float) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class Timeline:
    """Upload -> InService cut into named parts, each from timestamps the local cloud records as AWS does."""

    # the first category that claims a moment gets it
    ORDER = (
        "SageMaker jobs",
        "endpoint provisioning",
        "quiet window (config)",
        "Lambda init (cold start)",
        "Lambda invocations",
        "event delivery",
        ".sync polls",
        "state machine Wait polls",
    )

    def __init__(self, clients: Any, stack: Any, pipeline_arn: str, since: float, until: float) -> None:
        self.since, self.until = since, until
        self.intervals: list[tuple[float, float, str]] = []
        self.jobs: dict[str, float] = {}
        self.cold_starts = self.invocations = self.functions = 0
        self.function_seconds: dict[str, float] = {}  # START -> END per function, summed (they may overlap)
        self.first_cold: list[str] = []  # functions whose first invocation in the run waited for an init phase
        sfn = clients("stepfunctions")
        arns = [pipeline_arn] + [
            e["executionArn"]
            for e in sfn.list_executions(stateMachineArn=stack.canary_rollout_arn)["executions"]
            if e["name"] == pipeline_arn.rsplit(":", 1)[-1]
        ]
        self.histories = {arn: sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"] for arn in arns}
        job_ends = self._jobs(clients)
        starts = self._lambdas(clients)
        self._histories(job_ends)
        self._endpoint(clients)
        # events: the upload -> the first handler; a training job's end -> its state-change handler
        first_start = min(
            (t for name, t in starts if "OnDataUploaded" in name or "on-data" in name.lower()), default=None
        )
        if first_start:
            self.intervals.append((since, first_start, "event delivery"))
        for job, ended in job_ends.items():
            if "-train-" in job:
                after = [t for name, t in starts if "TrainingState" in name and t >= ended]
                if after:
                    self.intervals.append((ended, min(after), "event delivery"))

    def _jobs(self, clients: Any) -> dict[str, float]:
        sagemaker = clients("sagemaker")
        ends: dict[str, float] = {}
        run_id = next(iter(self.histories)).rsplit(":", 1)[-1]
        for job in sagemaker.list_processing_jobs(NameContains=run_id)["ProcessingJobSummaries"]:
            d = sagemaker.describe_processing_job(ProcessingJobName=job["ProcessingJobName"])
            if d.get("ProcessingEndTime"):
                ends[d["ProcessingJobName"]] = _ts(d["ProcessingEndTime"])
                self.intervals.append((_ts(d["CreationTime"]), _ts(d["ProcessingEndTime"]), "SageMaker jobs"))
        for job in sagemaker.list_training_jobs(NameContains=run_id)["TrainingJobSummaries"]:
            d = sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
            if d.get("TrainingEndTime"):
                ends[d["TrainingJobName"]] = _ts(d["TrainingEndTime"])
                self.intervals.append((_ts(d["CreationTime"]), _ts(d["TrainingEndTime"]), "SageMaker jobs"))
        self.jobs = {name: end - start for (start, end, _), name in zip(self.intervals, ends, strict=True)}
        return ends

    def _lambdas(self, clients: Any) -> list[tuple[str, float]]:
        """Every invocation in [since, until] from the functions' CloudWatch Logs; (function, START time)."""
        logs = clients("logs")
        starts: list[tuple[str, float]] = []
        groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
        for group in groups:
            name = group["logGroupName"].rsplit("/", 1)[-1]
            events = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
            began: dict[str, float] = {}
            used = False
            first: tuple[float, bool] | None = None
            for event in events:
                message, at = event["message"], event["timestamp"] / 1000
                if message.startswith("START RequestId: "):
                    began[message.split()[2]] = at
                elif message.startswith("REPORT RequestId: "):
                    request = message.split()[2]
                    start = began.pop(request, None)
                    if start is None or start < self.since - 1 or start > self.until:
                        continue
                    used = True
                    self.invocations += 1
                    starts.append((name, start))
                    self.intervals.append((start, at, "Lambda invocations"))
                    self.function_seconds[name] = self.function_seconds.get(name, 0.0) + at - start
                    cold = "Init Duration: " in message
                    if first is None or start < first[0]:
                        first = (start, cold)
                    if cold:
                        self.cold_starts += 1
                        init = float(message.split("Init Duration: ")[1].split()[0]) / 1000
                        self.intervals.append((start - init, start, "Lambda init (cold start)"))
            self.functions += used
            if first and first[1]:
                self.first_cold.append(name)
        return starts

    def _histories(self, job_ends: dict[str, float]) -> None:
        for events in self.histories.values():
            entered: dict[str, tuple[float, str]] = {}
            for event in events:
                at = _ts(event["timestamp"])
                if event["type"] == "WaitStateEntered":
                    entered[event["stateEnteredEventDetails"]["name"]] = (at, "wait")
                elif event["type"] == "WaitStateExited":
                    name = event["stateExitedEventDetails"]["name"]
                    began = entered.pop(name, None)
                    if began:
                        quiet = "settle" in name or "quiet window" in name
                        self.intervals.append(
                            (began[0], at, "quiet window (config)" if quiet else "state machine Wait polls")
                        )
                elif event["type"] == "TaskSucceeded":
                    output = json.loads(event.get("taskSucceededEventDetails", {}).get("output") or "{}")
                    job = output.get("ProcessingJobName") or output.get("TrainingJobName")
                    if job in job_ends and event["taskSucceededEventDetails"].get("resourceType") == "sagemaker":
                        self.intervals.append((job_ends[job], at, ".sync polls"))

    def _endpoint(self, clients: Any) -> None:
        from driftline_local.demo import ENDPOINT

        endpoint = clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
        self.intervals.append(
            (_ts(endpoint["CreationTime"]), _ts(endpoint["LastModifiedTime"]), "endpoint provisioning")
        )

    def parts(self) -> dict[str, float]:
        """Seconds of [since, until] per category (each moment counted once, by ORDER); the rest is
        Step Functions transitions and its tasks' API calls."""
        moments = sorted(
            {self.since, self.until}
            | {min(max(t, self.since), self.until) for s, e, _ in self.intervals for t in (s, e)}
        )
        totals = dict.fromkeys(self.ORDER, 0.0)
        totals["Step Functions transitions and task API calls"] = 0.0
        rank = {name: i for i, name in enumerate(self.ORDER)}
        for left, right in zip(moments, moments[1:], strict=False):
            middle = (left + right) / 2
            claims = [c for s, e, c in self.intervals if s <= middle < e]
            category = min(claims, key=rank.__getitem__) if claims else "Step Functions transitions and task API calls"
            totals[category] += right - left
        return totals


# --- drift ------------------------------------------------------------------------------------------
def drift_to_retraining(clients: Any, stack: Any, per_second: float, timeout: float = 300) -> tuple[float, float]:
    """Seconds from the first shifted request to the start of the drift retraining run, and the
    rate the endpoint actually served meanwhile.

    Schedules run at the time scale, traffic in real time: below min_records requests per interval no
    monitor can judge a window in time, whatever the pipeline does, so the rate is a parameter."""
    from driftline_local.demo import DEMO_CONFIG, ENDPOINT, MODEL
    from driftline_local.loop import Traffic, onboard_model, upload_frames
    from driftline_local.sample_data import generate_bank_marketing

    onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="false"), MODEL)
    upload_frames(clients, stack, MODEL, [generate_bank_marketing(4000, seed=8, shift=1.0)], prefix="shifted")
    rows = generate_bank_marketing(300, seed=10, shift=1.0).drop(columns=["y", "duration"])
    sfn = clients("stepfunctions")
    with Traffic(clients, ENDPOINT, rows, per_second=per_second) as traffic:
        started = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for execution in sfn.list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]:
                if "-drift-" in execution["name"]:
                    latency = execution["startDate"].timestamp() - started
                    served = sum(traffic.log.served_by(started, started + latency).values())
                    return latency, served / latency
            time.sleep(0.5)
    refuse(f"no drift retrain started within {timeout:.0f}s of shifted traffic")


# --- report -----------------------------------------------------------------------------------------
def _per_process(mib: float, processes: int) -> str:
    """How many processes of a kind held a part of the peak (the Lambda part depends mostly on how many
    environments are still inside their idle lifetime then)."""
    return f" in {processes} processes, {mib / processes:.1f} each" if processes > 1 else ""


def report(runs: list[Run], drift: tuple[float, float] | None, figures: Figures) -> None:
    for run in runs:
        label = f"{run.start}, {run.size} rows"
        print(
            f"\n{label}: upload -> endpoint InService {run.total:6.1f} s  "
            f"({run.invocations} Lambda invocations, {run.cold_starts} cold)"
        )
        for name, seconds in run.parts.items():
            print(f"  {name:48} {seconds:6.2f} s")
            if name == "Lambda invocations":  # each function's START -> END, summed (overlaps counted in each)
                for function, spent in sorted(run.function_seconds.items(), key=lambda item: -item[1]):
                    print(f"      {function:44} {spent:6.3f} s")
        print(f"  outside the jobs, quiet window excluded          {run.outside:6.2f} s  ({run.share:.1%})")
        parts = ", ".join(f"{k} {v:.0f}" for k, v in sorted(run.memory_parts.items()))
        print(f"  local cloud peak resident memory                 {run.memory_mib:6.0f} MiB ({parts})")
        pss_parts = ", ".join(
            f"{k} {v:.0f}" + _per_process(v, run.memory_pss_processes.get(k, 0))
            for k, v in sorted(run.memory_pss_parts.items())
        )
        print(f"  local cloud peak proportional set size           {run.memory_pss_mib:6.0f} MiB ({pss_parts})")
        load = (
            f"other work {run.others_cpus:.1f} CPUs of {os.cpu_count()}, load average {run.load[0]:.1f} -> "
            f"{run.load[1]:.1f}"
        )
        print(f"  machine                                          {load}")
        aim = "<= 10 %" if run.start == "warm" else None
        # on a machine busy with other work the CPU-bound jobs slow down more than the rest, so the share reads
        # lower than it is: the aim is only judged on a quiet machine
        quiet = run.others_cpus <= QUIET_OTHERS_CPUS
        figures.add(
            f"upload -> InService outside the jobs, {label}",
            100 * run.share,
            "%",
            aim=aim,
            holds=run.share <= SHARE_AIM if aim and quiet else None,
            note=f"{run.outside:.1f} s of {run.total - run.parts['quiet window (config)']:.1f} s ({load}"
            + ("" if quiet else "; NOT JUDGED: the machine was busy with other work, which shrinks the share")
            + "); "
            + "; ".join(
                f"{k} {v:.2f} s"
                for k, v in run.parts.items()
                if k != "SageMaker jobs" and k != "quiet window (config)" and v >= 0.005
            ),
        )
        local = sum(run.parts[k] for k in LOCAL_CLOUD_LATENCY)
        figures.add(
            f"upload -> InService in the local cloud's own orchestration, {label}",
            100 * local / (run.total - run.parts["quiet window (config)"]),
            "%",
            note=f"{local:.2f} s: " + ", ".join(LOCAL_CLOUD_LATENCY) + " (the rest outside the jobs is endpoint "
            "provisioning and the functions' own init and work)",
        )
        figures.add(
            f"upload -> InService, {label}",
            run.total,
            "s",
            note=f"jobs {run.parts['SageMaker jobs']:.1f} s, quiet window "
            f"{run.parts['quiet window (config)']:.1f} s, {run.cold_starts} cold starts"
            + (
                ""
                if run.start == "cold" or not run.cold_starts
                else " (an environment beyond the first for a function that got concurrent events, as Lambda "
                "starts one per concurrent invocation; no function's first invocation waited for an init)"
            ),
        )
        # the aim is for the cloud as it runs by default (environments released after their idle lifetime);
        # a warm run keeps every function's environment on purpose. It is judged on the summed PSS, what the
        # machine holds: a page shared by n processes (the zygotes' imports) counts 1/n in each, where the
        # summed RSS counts it n times.
        cold = run.start == "cold"
        figures.add(
            f"local cloud peak memory (summed PSS), {label}",
            run.memory_pss_mib,
            "MiB",
            aim="<= 1 GiB" if cold else None,
            holds=run.memory_pss_mib <= MEMORY_AIM_MIB if cold else None,
            note=f"peak of the summed proportional set size over the cloud's process tree ({pss_parts})"
            + ("" if cold else "; every function's environment kept alive on purpose (warm)"),
        )
        figures.add(
            f"local cloud peak resident memory (summed RSS), {label}",
            run.memory_mib,
            "MiB",
            note=f"peak of the summed RSS ({parts}); pages shared copy-on-write with a zygote count once per process",
        )
    if drift:
        latency, served = drift
        interval = 300 / TIME_SCALE  # MONITOR_SCHEDULE at the time scale
        print(
            f"\ndrift -> retraining started {latency:.1f} s ({latency / interval:.1f} monitoring intervals of "
            f"{interval:.0f} s: {MONITOR_SCHEDULE} at time scale {TIME_SCALE}; aim <= 2); traffic {served:.0f} "
            f"req/s = {served * interval:.0f} per interval (min_records {MIN_RECORDS})"
        )
        figures.add(
            "drift -> retraining started",
            latency / interval,
            "monitoring intervals",
            aim="<= 2",
            holds=latency / interval <= 2,
            note=f"{latency:.1f} s; {served:.0f} req/s served = {served * interval:.0f} requests per interval"
            + (
                ""
                if served * interval >= MIN_RECORDS
                else f" (below min_records {MIN_RECORDS}: a window needs more than one interval to fill, "
                "whatever the pipeline does)"
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="6k and 41k rows only")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), help="which sizes (default: all three)")
    parser.add_argument("--starts", nargs="+", choices=["cold", "warm"], default=["cold", "warm"])
    parser.add_argument(
        "--drift-rps",
        type=float,
        default=80.0,
        help="shifted requests per second asked for (one thread serves what it can, about 50 here): "
        "one monitoring interval should hold well over min_records",
    )
    parser.add_argument("--no-drift", action="store_true", help="skip the drift -> retraining measurement")
    parser.add_argument("--serve", choices=["cold", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.workdir)
        return
    sizes = args.sizes or (["6k", "41k"] if args.quick else list(SIZES))
    drift_at = ("41k" if "41k" in sizes else sizes[-1], "warm" if "warm" in args.starts else args.starts[-1])
    figures = Figures("loop")
    runs: list[Run] = []
    drift = None
    for size in sizes:
        for start in args.starts:
            measure_drift = not args.no_drift and (size, start) == drift_at
            run, measured = run_once(size, SIZES[size], start, args.drift_rps if measure_drift else None)
            runs.append(run)
            drift = drift or measured
            print(
                f"{size} {start}: {run.total:.1f} s, outside the jobs {run.share:.1%}, peak {run.memory_mib:.0f} MiB",
                flush=True,
            )
    report(runs, drift, figures)
    figures.write_if_asked(args.json)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
