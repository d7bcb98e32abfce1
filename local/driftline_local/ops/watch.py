"""`driftline watch RUN_ID`: follow a run (its TrainingPipeline execution) or a rollout live until it ends.

The display shows each step as it starts and ends, the training job's progress (round N of M, read from
the job's log as jobs/train.py writes it, with spot interruptions and resumes) and, during a rollout, the
traffic share of each variant and the shares the candidate has had so far. A terminal gets a live rich
display; a pipe gets one line per change; `--json` gets one JSON object per change (JSON Lines).
`driftline demo` follows its runs with the same display.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftline import naming
from rich.console import Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from driftline_local.ops import format as fmt
from driftline_local.ops import runinfo
from driftline_local.ops.session import (
    ERRORS_HELP,
    Driftline,
    OpsError,
    add_connection_arguments,
    handles_errors,
    plain,
)

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ROUND_LINE = re.compile(r"\bround=(\d+)\b(.*)")  # jobs/train.py logs it at every checkpoint
SIGTERM_LINE = re.compile(r"SIGTERM received: checkpoint-(\d+)\.json written")
RESUME_LINE = re.compile(r"resuming from checkpoint-(\d+)\.json")
EXIT_RUN_FAILED = 4
SUCCESS = runinfo.SUCCESS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="follow a run or rollout live: step, training progress, traffic share",
        description="Follow a training run (or a rollout started by hand) until it ends: each step with its "
        "duration, the training job's progress (round N of M, spot interruptions and resumes) and, during the "
        "rollout, the traffic share of each variant. A finished run is shown once. With --json, one JSON object "
        "per change. Exit status: 0 the run succeeded, 4 it ended otherwise (failed, rejected, rolled back), "
        "1 unknown run or stack, " + ERRORS_HELP,
    )
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks (default 1)")
    parser.add_argument("--timeout", type=float, help="give up after this many seconds (default: never)")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_watch)


@handles_errors
def cmd_watch(args: argparse.Namespace) -> int:
    ops = Driftline.from_args(args)
    watcher = RunWatcher(ops, args.run_id)
    if args.json:
        view: View = JsonLinesView()
    else:
        view = default_view()
    snapshot = follow(watcher, view, interval=args.interval, timeout=args.timeout)
    return 0 if snapshot.succeeded else EXIT_RUN_FAILED


# --- what is happening --------------------------------------------------------------------------------


@dataclass
class Training:
    job: str
    status: str | None = None
    secondary: str | None = None
    round: int | None = None
    rounds: int | None = None
    logged: list[int] = field(default_factory=list)  # every round the job logged (its checkpoints), in order
    metrics: str = ""
    interruptions: int = 0
    resumed_from: int | None = None


@dataclass
class Snapshot:
    run_id: str
    model: str
    status: str
    finished: bool
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)  # pipeline / rollout: status, steps, step
    training: Training | None = None
    traffic: list[dict[str, Any]] = field(default_factory=list)
    candidate_shares: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "status": self.status,
            "finished": self.finished,
            "steps": {
                kind: [{k: s[k] for k in ("step", "state", "seconds", "times")} for s in m["steps"]]
                for kind, m in self.machines.items()
            },
            "current_step": {kind: m.get("step") for kind, m in self.machines.items()},
            "training": dict(self.training.__dict__, logged=list(self.training.logged)) if self.training else None,
            "traffic": self.traffic,
            "candidate_shares": self.candidate_shares,
            "error": self.error,
        }


class RunWatcher:
    """Looks at a run's executions, training job and endpoint; each `look()` returns a Snapshot."""

    def __init__(self, ops: Driftline, run_id: str, model: str | None = None) -> None:
        self.ops, self.run_id = ops, run_id
        try:
            self.model, _ = runinfo.find_run(ops, run_id, model)
        except OpsError:
            # A rollout started by hand has an execution but no run item.
            if not runinfo.executions(ops, run_id):
                raise
            self.model = model or _model_of(ops, run_id)
        self._log_tokens: dict[str, str] = {}
        self._training: dict[str, Training] = {}
        self._shares: list[float] = []
        self._ended: dict[str, dict[str, Any]] = {}  # executions that ended: looked at once more, never again
        self._traffic_seen = False
        self._last_traffic: list[dict[str, Any]] = []

    def look(self) -> Snapshot:
        key = {"pk": f"MODEL#{self.model}", "sk": f"RUN#{self.run_id}"}
        run = plain(self.ops.table().get_item(Key=key, ConsistentRead=True).get("Item") or {})
        executions, machines = self._executions()
        pipeline = executions.get("pipeline")
        rollout = executions.get("rollout")
        running = any(d["status"] == "RUNNING" for d in executions.values())
        finished = bool(executions) and not running
        main = pipeline or rollout  # a rollout started by hand has no pipeline execution
        status = runinfo.reconciled_status(run.get("status"), main["status"] if main else None)
        snapshot = Snapshot(self.run_id, self.model, status, finished=finished, machines=machines)
        snapshot.error = " ".join(str(run[k]) for k in ("failed_step", "error") if run.get(k)) or None
        job = run.get("training_job")
        if job:
            snapshot.training = self._training_progress(str(job), run)
        if rollout and (rollout["status"] == "RUNNING" or not self._traffic_seen or finished):
            # The endpoint is asked while the rollout runs, and once at the end; in between it keeps its split.
            snapshot.traffic = self._last_traffic = self._traffic()
            self._traffic_seen = True
        elif rollout:
            snapshot.traffic = self._last_traffic
            variant = naming.variant_name(self.model, self.run_id)
            share = next((v["traffic_percent"] for v in snapshot.traffic if v["variant"] == variant), None)
            if share is not None and (not self._shares or self._shares[-1] != share):
                self._shares.append(share)
        snapshot.candidate_shares = list(self._shares)
        return snapshot

    def _executions(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The run's executions (described) and, per kind, its status, steps and current step.

        An execution that ended is read once more and then kept: a watcher adds as little load as it can to
        the account (or local cloud) it watches, which serves live traffic meanwhile."""
        found = dict(self._ended)
        for kind, machine in (
            ("pipeline", self.ops.stack.training_pipeline_arn),
            ("rollout", self.ops.stack.canary_rollout_arn),
        ):
            if kind in found:
                continue
            described = runinfo.describe(self.ops, runinfo.execution_arn(machine, self.run_id))
            if not described:
                continue
            events = runinfo.history(self.ops, described["executionArn"])
            found[kind] = {
                "described": described,
                "machine": {
                    "status": described["status"],
                    "steps": runinfo.steps(events),
                    "step": runinfo.current_step(events) if described["status"] == "RUNNING" else None,
                },
            }
            if described["status"] != "RUNNING":
                self._ended[kind] = found[kind]
        order = [k for k in ("pipeline", "rollout") if k in found]
        return {k: found[k]["described"] for k in order}, {k: found[k]["machine"] for k in order}

    def _training_progress(self, job: str, run: dict[str, Any]) -> Training:
        progress = self._training.setdefault(job, Training(job))
        if progress.status in ("Completed", "Failed", "Stopped"):
            return progress  # its log is read to the end
        sagemaker = self.ops.client("sagemaker")
        try:
            described = sagemaker.describe_training_job(TrainingJobName=job)
        except sagemaker.exceptions.ClientError:
            return progress
        progress.status = described.get("TrainingJobStatus")
        progress.secondary = described.get("SecondaryStatus")
        rounds = (described.get("HyperParameters") or {}).get("num_round")
        if rounds is not None:
            progress.rounds = int(json.loads(rounds))
        for line in self._new_log_lines(job):
            if match := ROUND_LINE.search(line):
                progress.round = int(match.group(1))
                progress.logged.append(progress.round)
                progress.metrics = match.group(2).strip()
            elif match := SIGTERM_LINE.search(line):
                progress.interruptions += 1
            elif match := RESUME_LINE.search(line):
                progress.resumed_from = int(match.group(1))
        earlier = [a for a in run.get("attempts") or [] if a.get("job_name") != job]
        progress.interruptions = max(progress.interruptions, sum(int(a.get("interruptions") or 0) for a in earlier))
        return progress

    def _new_log_lines(self, job: str) -> list[str]:
        logs = self.ops.client("logs")
        try:
            streams = logs.describe_log_streams(logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=job)["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        lines: list[str] = []
        for stream in sorted(streams, key=lambda s: s["logStreamName"]):
            name = stream["logStreamName"]
            request: dict[str, Any] = {"logGroupName": TRAINING_LOG_GROUP, "logStreamName": name, "startFromHead": True}
            if name in self._log_tokens:
                request["nextToken"] = self._log_tokens[name]
            page = logs.get_log_events(**request)
            lines += [event["message"] for event in page["events"]]
            self._log_tokens[name] = page["nextForwardToken"]
        return lines

    def _traffic(self) -> list[dict[str, Any]]:
        from driftline_local.ops.status import endpoint

        return list(endpoint(self.ops, self.model).get("variants") or [])


def _model_of(ops: Driftline, run_id: str) -> str:
    parts = run_id.split("-")
    for i in range(len(parts) - 1, 0, -1):
        if "CONFIG" in ops.model_items("-".join(parts[:i])):
            return "-".join(parts[:i])
    raise OpsError(f"unknown run id '{run_id}': no onboarded model is a prefix of it")


def wait_for_new_run(ops: Driftline, prefix: str, since: float, timeout: float = 600) -> str:
    """The id of the newest TrainingPipeline execution named `prefix...` started at `since` or later."""
    sfn = ops.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = [
            e
            for e in sfn.list_executions(stateMachineArn=ops.stack.training_pipeline_arn)["executions"]
            if e["name"].startswith(prefix) and e["startDate"].timestamp() >= since - 1
        ]
        if started:
            return str(max(started, key=lambda e: e["startDate"])["name"])
        time.sleep(0.2)
    raise OpsError(f"no run named {prefix}... started within {timeout:g}s")


def default_view(say: Callable[[str], None] = print) -> View:
    """The live panel on a terminal, one line per change otherwise."""
    return LiveView() if sys.stdout.isatty() else LineView(say)


def follow(watcher: RunWatcher, view: View, interval: float = 1.0, timeout: float | None = None) -> Snapshot:
    """Look until the run ends (or `timeout` s), showing every snapshot; returns the last."""
    deadline = time.monotonic() + timeout if timeout else None
    with view:
        while True:
            snapshot = watcher.look()
            view.show(snapshot)
            if snapshot.finished:
                return snapshot
            if deadline and time.monotonic() > deadline:
                raise OpsError(f"run {watcher.run_id} still {snapshot.status} after {timeout:g}s (--timeout)")
            time.sleep(interval)


# --- how it is shown --------------------------------------------------------------------------------


class View:
    def __enter__(self) -> View:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def show(self, snapshot: Snapshot) -> None:
        raise NotImplementedError


class LineView(View):
    """One line per change: a step starts or first ends, training reaches a round, traffic shifts."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.seen: set[str] = set()
        self.traffic = ""

    def show(self, snapshot: Snapshot) -> None:
        for key, line in change_lines(snapshot):
            if key.startswith("traffic:"):  # a split is shown whenever it changes, even back to an earlier one
                if line != self.traffic:
                    self.traffic = line
                    self.say(line)
            elif key not in self.seen:
                self.seen.add(key)
                self.say(line)


class JsonLinesView(View):
    def __init__(self) -> None:
        self.last: str | None = None

    def show(self, snapshot: Snapshot) -> None:
        document = json.dumps(snapshot.as_json(), sort_keys=True, default=str)
        if document != self.last:
            self.last = document
            print(document, flush=True)


class LiveView(View):
    """A live panel in the terminal (rich), redrawn at every look; the last state stays on screen."""

    def __init__(self, console: Any = None) -> None:
        self.live = Live(console=console or fmt.console(), auto_refresh=False, transient=False)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def show(self, snapshot: Snapshot) -> None:
        self.live.update(render(snapshot), refresh=True)


def change_lines(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(key, line) pairs a line view prints once per key: each step's start and first end (in time order; a
    polling loop's repeats are not announced again), training rounds and interruptions, traffic splits, the end."""
    timed = []
    for kind, machine in snapshot.machines.items():
        for step in machine["steps"]:
            if step["type"] in ("Choice", "Pass"):
                continue
            name = f"{kind}: {step['step']}"
            timed.append((step["started"], (name, name)))
            if step["state"] != "running":
                timed.append((step["started"], (f"{name} #end", f"{name} {step['state']} ({step['seconds']:.1f}s)")))
    lines = [pair for _, pair in sorted(timed, key=lambda entry: entry[0])]
    training = snapshot.training
    if training and training.round is not None:
        for logged in training.logged or [training.round]:
            line = f"training {training.job}: round {logged} of {training.rounds or '?'}"
            lines.append((line, line))
    if training and training.interruptions:
        line = f"training {training.job}: spot interruptions {training.interruptions}"
        lines.append((line, line))
    if training and training.resumed_from is not None:
        line = f"training {training.job}: resumed from the checkpoint of round {training.resumed_from}"
        lines.append((line, line))
    if len(snapshot.traffic) > 1 or snapshot.candidate_shares:
        line = "traffic: " + ", ".join(f"{v['variant']} {v['traffic_percent']:g}%" for v in snapshot.traffic)
        lines.append((line, line))
    if snapshot.finished:
        line = f"run {snapshot.run_id} {snapshot.status}" + (f": {snapshot.error}" if snapshot.error else "")
        lines.append((line, line))
    return lines


STATE_MARK = {"done": "[green]✓[/green]", "running": "[cyan]…[/cyan]", "failed": "[red]✗[/red]"}


def render(snapshot: Snapshot) -> Group:
    parts: list[Any] = [
        Text.from_markup(
            f"[bold]{fmt.escape(snapshot.run_id)}[/bold]  {fmt.styled(snapshot.status)}"
            + (f"  [red]{fmt.escape(snapshot.error)}[/red]" if snapshot.error else "")
        )
    ]
    steps = Table(box=None, show_header=False, pad_edge=False)
    steps.add_column(width=2)
    steps.add_column()
    steps.add_column(justify="right")
    for kind, machine in snapshot.machines.items():
        steps.add_row("", f"[bold]{kind}[/bold] {fmt.styled(machine['status'])}", "")
        for step in machine["steps"]:
            if step["type"] in ("Choice", "Pass"):
                continue
            seconds = step["seconds"] + step.get("ongoing_seconds", 0.0)
            times = f" x{step['times']}" if step["times"] > 1 else ""
            steps.add_row(STATE_MARK.get(step["state"], ""), f"  {fmt.escape(step['step'])}{times}", f"{seconds:.1f}s")
    parts.append(steps)
    training = snapshot.training
    if training:
        extra = [str(training.secondary or training.status or "")]
        if training.interruptions:
            extra.append(f"{training.interruptions} spot interruption(s)")
        if training.resumed_from is not None:
            extra.append(f"resumed from round {training.resumed_from}")
        parts.append(Text(f"training job {training.job}  " + ", ".join(e for e in extra if e)))
        line = Table(box=None, show_header=False, pad_edge=False)
        line.add_column(width=2)
        line.add_column(width=30)
        line.add_column()
        line.add_row(
            "",
            ProgressBar(total=float(training.rounds or 1), completed=float(training.round or 0), width=30),
            f"round {training.round or 0} of {training.rounds or '?'}  {fmt.escape(training.metrics)}",
        )
        parts.append(line)
    if snapshot.traffic:
        traffic = Table(box=None, show_header=False, pad_edge=False)
        traffic.add_column()
        traffic.add_column(width=30)
        traffic.add_column(justify="right")
        for variant in snapshot.traffic:
            traffic.add_row(
                f"traffic {fmt.escape(variant['variant'])}",
                ProgressBar(total=100.0, completed=float(variant["traffic_percent"]), width=30),
                f"{variant['traffic_percent']:g}%",
            )
        parts.append(traffic)
        if snapshot.candidate_shares:
            parts.append(Text("candidate share so far: " + " → ".join(f"{s:g}%" for s in snapshot.candidate_shares)))
    return Group(*parts)
