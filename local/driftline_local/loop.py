"""Drive the training loop through the public AWS APIs only, as a user would, and time it.

Used by `driftline demo`, the e2e tests and `bench/loop.py`. Everything goes through boto3 against an
endpoint URL (the local cloud, or in principle AWS): upload model.yaml and CSVs, follow the
executions, call the endpoint.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import pandas as pd

Progress = Callable[[str], None]

# Local runs shorten the waits through the config, never through the state machines.
FAST_TIMINGS = (
    "timings:\n  settle_seconds: 2\n  endpoint_poll_seconds: 1\n  alarm_poll_seconds: 1\n"
    "deployment:\n  bake_seconds: 3\n"
)


@dataclass
class Clients:
    endpoint_url: str
    region: str = "us-east-1"
    _cache: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = boto3.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return self._cache[service]


@dataclass
class Stack:
    data_bucket: str
    artifact_bucket: str
    training_pipeline_arn: str
    canary_rollout_arn: str
    state_table: str

    @classmethod
    def describe(cls, clients: Clients, name: str = "driftline") -> Stack:
        stack = clients("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        return cls(
            out["DataBucketName"],
            out["ArtifactBucketName"],
            out["TrainingPipelineArn"],
            out["CanaryRolloutArn"],
            out["StateTableName"],
        )


@dataclass
class StepTiming:
    machine: str
    step: str
    seconds: float


@dataclass
class RunResult:
    model: str
    run_id: str
    status: str
    upload_started: float
    finished: float
    steps: list[StepTiming]
    execution_arn: str
    endpoint_name: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)
    model_package_arn: str | None = None
    error: str | None = None
    spot: dict[str, Any] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.finished - self.upload_started


def onboard_model(clients: Clients, stack: Stack, config_yaml: str, model: str, timeout: float = 60) -> None:
    """Upload models/<model>/model.yaml and wait until Driftline has made it the active config."""
    uploaded_at = int(time.time())
    clients("s3").put_object(Bucket=stack.data_bucket, Key=f"models/{model}/model.yaml", Body=config_yaml.encode())
    table = clients("dynamodb")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = table.get_item(
            TableName=stack.state_table, Key={"pk": {"S": f"MODEL#{model}"}, "sk": {"S": "CONFIG"}}
        ).get("Item")
        if item and int(item["updated_at"]["N"]) >= uploaded_at - 1:
            return
        time.sleep(0.2)
    raise TimeoutError(f"model.yaml for {model} was not accepted within {timeout:.0f}s (see the mailbox)")


def upload_frames(
    clients: Clients, stack: Stack, model: str, frames: list[pd.DataFrame], prefix: str = "part"
) -> float:
    """Upload each frame as incoming/<model>/<prefix>-<i>.csv; returns the time the first PutObject was sent
    (the files are written out before: turning a frame into CSV is the uploader's work, not the cloud's)."""
    bodies = []
    for frame in frames:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        bodies.append(buffer.getvalue().encode())
    s3 = clients("s3")
    started = time.time()
    for i, body in enumerate(bodies):
        s3.put_object(Bucket=stack.data_bucket, Key=f"incoming/{model}/{prefix}-{i:03d}.csv", Body=body)
    return started


def wait_for_run(
    clients: Clients, stack: Stack, model: str, since: float, progress: Progress | None, timeout: float = 900
) -> RunResult:
    """Follow the model's next TrainingPipeline execution (and its rollout) to the end, reporting steps.

    With `progress=None` only the execution's status is polled: reading the histories twice a second
    costs the local server CPU that the run itself needs (a benchmark follows quietly)."""
    sfn = clients("stepfunctions")
    execution = _wait_for_execution(sfn, stack.training_pipeline_arn, model, since, timeout)
    if progress:
        progress(f"run {execution['name']} started")
    steps = StepReporter(progress) if progress else None
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if steps:
            steps.report(sfn, execution["executionArn"], "pipeline")
            for child in sfn.list_executions(stateMachineArn=stack.canary_rollout_arn)["executions"]:
                if child["name"] == execution["name"]:
                    steps.report(sfn, child["executionArn"], "rollout")
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {execution['name']} still running after {timeout:.0f}s")
        time.sleep(0.5)
    finished = time.time()
    timings = _step_timings(sfn, execution["executionArn"], "pipeline")
    result = RunResult(
        model=model,
        run_id=execution["name"],
        status=described["status"],
        upload_started=since,
        finished=finished,
        steps=timings,
        execution_arn=execution["executionArn"],
    )
    run = _run_record(clients, stack, model, execution["name"])
    result.metrics = run.get("metrics") or {}
    result.gate = run.get("gate") or {}
    result.endpoint_name = run.get("endpoint_name")
    result.model_package_arn = run.get("model_package_arn")
    result.spot = run.get("spot") or {}
    result.attempts = run.get("attempts") or []
    if described["status"] != "SUCCEEDED":
        result.error = f"{run.get('failed_step') or ''} {run.get('error') or ''} {run.get('cause') or ''}".strip()
    return result


def _wait_for_execution(sfn: Any, machine: str, model: str, since: float, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            if execution["name"].startswith(f"{model}-") and execution["startDate"].timestamp() >= since - 1:
                return dict(execution)
        time.sleep(0.2)
    raise TimeoutError(f"no TrainingPipeline execution for {model} within {timeout:.0f}s (was the upload quarantined?)")


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


_QUIET_STATES = ("ChoiceStateEntered", "WaitStateEntered", "PassStateEntered")


class StepReporter:
    """Reports each step once as it starts: tasks and ends only, and a polling loop's repeats once."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.seen: set[str] = set()
        self.last: dict[str, str] = {}  # execution -> the last step reported

    def report(self, sfn: Any, arn: str, machine: str) -> None:
        for event in _history(sfn, arn):
            entered = event.get("stateEnteredEventDetails")
            key = f"{arn}#{event['id']}"
            if not entered or key in self.seen:
                continue
            self.seen.add(key)
            if event["type"] in _QUIET_STATES or self.last.get(arn) == entered["name"]:
                continue
            self.last[arn] = entered["name"]
            self.progress(f"{machine}: {entered['name']}")


def _step_timings(sfn: Any, arn: str, machine: str) -> list[StepTiming]:
    """Time per state from its entered/exited events (repeated states, like wait loops, add up)."""
    totals: dict[str, float] = {}
    entered_at: dict[str, datetime] = {}
    for event in _history(sfn, arn):
        if details := event.get("stateEnteredEventDetails"):
            entered_at[details["name"]] = event["timestamp"]
        elif details := event.get("stateExitedEventDetails"):
            start = entered_at.pop(details["name"], None)
            if start is not None:
                seconds = (event["timestamp"] - start).total_seconds()
                totals[details["name"]] = totals.get(details["name"], 0.0) + seconds
    return [StepTiming(machine, name, seconds) for name, seconds in totals.items()]


def _run_record(clients: Clients, stack: Stack, model: str, run: str) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    item = (
        clients("dynamodb")
        .get_item(TableName=stack.state_table, Key={"pk": {"S": f"MODEL#{model}"}, "sk": {"S": f"RUN#{run}"}})
        .get("Item")
    )
    if not item:
        return {}
    plain = {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
    return json.loads(json.dumps(plain, default=float))


def predict(clients: Clients, endpoint: str, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Send raw feature rows to the endpoint as JSON instances; returns its predictions."""
    body = json.dumps({"instances": json.loads(rows.to_json(orient="records"))})
    response = clients("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Accept="application/json", Body=body.encode()
    )
    return list(json.loads(response["Body"].read())["predictions"])


def sagemaker_job_seconds(clients: Clients, run_id: str) -> dict[str, float]:
    """Seconds each of the run's SageMaker jobs spent running (creation to end), by job name."""
    sagemaker = clients("sagemaker")
    seconds: dict[str, float] = {}
    for job in sagemaker.list_processing_jobs(NameContains=run_id)["ProcessingJobSummaries"]:
        described = sagemaker.describe_processing_job(ProcessingJobName=job["ProcessingJobName"])
        if described.get("ProcessingEndTime"):
            ran = described["ProcessingEndTime"] - described["CreationTime"]
            seconds[job["ProcessingJobName"]] = ran.total_seconds()
    for job in sagemaker.list_training_jobs(NameContains=run_id)["TrainingJobSummaries"]:
        described = sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
        if described.get("TrainingEndTime"):
            seconds[job["TrainingJobName"]] = (described["TrainingEndTime"] - described["CreationTime"]).total_seconds()
    return seconds


# --- spot interruptions -----------------------------------------------------------------------------

Interrupt = Callable[[str, str], None]  # (training job name, outcome) -> reclaim its spot capacity


@dataclass(frozen=True)
class Interruption:
    """Reclaim the spot capacity of the run's `attempt`-th training job after it trained `after_seconds`."""

    attempt: int
    after_seconds: float
    outcome: str = "max_wait_exceeded"  # or "resume" (capacity returns, the job restarts in place)


def interrupt_training(
    clients: Clients,
    model: str,
    since: float,
    plan: list[Interruption],
    interrupt: Interrupt,
    progress: Progress,
    timeout: float = 600,
) -> threading.Thread:
    """Carry out `plan` in the background while the model's next run trains; returns the thread."""

    def carry_out() -> None:
        trained_phases: dict[str, int] = {}
        for step in plan:
            try:
                name = wait_for_training_phase(clients, model, since, step.attempt, trained_phases, timeout)
                time.sleep(step.after_seconds)
                interrupt(name, step.outcome)
                progress(
                    f"spot capacity reclaimed from {name} after {step.after_seconds:.1f}s of training "
                    f"({step.outcome.replace('_', ' ')})"
                )
            except (TimeoutError, ValueError) as exc:  # the job finished first: nothing left to interrupt
                progress(f"interruption of training job {step.attempt} skipped: {exc}")

    thread = threading.Thread(target=carry_out, name="spot-interruptions", daemon=True)
    thread.start()
    return thread


def wait_for_training_phase(
    clients: Clients, model: str, since: float, attempt: int, phases: dict[str, int], timeout: float
) -> str:
    """The name of the run's `attempt`-th training job once it enters a Training phase not yet interrupted."""
    sagemaker = clients("sagemaker")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = sagemaker.list_training_jobs(NameContains=f"{model}-")["TrainingJobSummaries"]
        for summary in jobs:
            name = summary["TrainingJobName"]
            if not name.endswith(f"-train-{attempt}") or summary["CreationTime"].timestamp() < since - 1:
                continue
            described = sagemaker.describe_training_job(TrainingJobName=name)
            if described["TrainingJobStatus"] != "InProgress":
                raise ValueError(f"{name} ended {described['TrainingJobStatus']}")
            training = sum(1 for t in described.get("SecondaryStatusTransitions", []) if t["Status"] == "Training")
            if described.get("SecondaryStatus") == "Training" and training > phases.get(name, 0):
                phases[name] = training
                return str(name)
        time.sleep(0.1)
    raise TimeoutError(f"training job {attempt} of {model} did not start training within {timeout:.0f}s")


# --- rollouts and traffic -----------------------------------------------------------------------------


def start_rollout(
    clients: Clients, stack: Stack, model: str, run_id: str, model_data_url: str, model_package_arn: str | None = None
) -> str:
    """Start CanaryRollout for a candidate by hand (as the pipeline's last step does); returns the execution ARN."""
    payload = {
        "model": model,
        "run_id": run_id,
        "model_data_url": model_data_url,
        "model_package_arn": model_package_arn,
    }
    response = clients("stepfunctions").start_execution(
        stateMachineArn=stack.canary_rollout_arn, name=run_id, input=json.dumps(payload)
    )
    return str(response["executionArn"])


def wait_for_execution(clients: Clients, execution_arn: str, timeout: float = 600) -> dict[str, Any]:
    """Wait until an execution ends; its DescribeExecution (status, error, cause, output)."""
    sfn = clients("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.5)
    raise TimeoutError(f"{execution_arn} still running after {timeout:.0f}s")


def states_entered(clients: Clients, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in _history(clients("stepfunctions"), execution_arn)
        if e.get("stateEnteredEventDetails")
    ]


@dataclass(frozen=True)
class Failure:
    at: float
    code: str  # the error code (ModelError, ...)
    variant: str  # the variant that answered (x-Amzn-Invoked-Production-Variant), "" if none did
    message: str


@dataclass
class TrafficLog:
    """What steady traffic saw: per variant served, failures, and when each answer came."""

    sent: int = 0
    failed: int = 0
    served: list[tuple[float, str]] = field(default_factory=list)  # (time, variant)
    failures: list[Failure] = field(default_factory=list)

    def served_by(self, since: float = 0.0, until: float = float("inf")) -> dict[str, int]:
        counts: dict[str, int] = {}
        for at, variant in self.served:
            if since <= at < until:
                counts[variant] = counts.get(variant, 0) + 1
        return counts


class Traffic:
    """Steady, bounded invocation traffic against one endpoint from a background thread (loopback only)."""

    def __init__(
        self, clients: Clients, endpoint: str, rows: pd.DataFrame, per_second: float = 20.0, limit: int = 100_000
    ) -> None:
        self.endpoint, self.per_second, self.limit = endpoint, per_second, limit
        self._runtime = boto3.client(
            "sagemaker-runtime",
            endpoint_url=clients.endpoint_url,
            region_name=clients.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self._bodies = [rows.iloc[[i]].to_csv(header=False, index=False).encode() for i in range(len(rows))]
        self.log = TrafficLog()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"traffic-{endpoint}", daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> TrafficLog:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.log

    def _run(self) -> None:
        interval = 1.0 / self.per_second
        while not self._stop.is_set() and self.log.sent < self.limit:
            started = time.monotonic()
            body = self._bodies[self.log.sent % len(self._bodies)]
            self.log.sent += 1
            try:
                answer = self._runtime.invoke_endpoint(
                    EndpointName=self.endpoint, ContentType="text/csv", Accept="application/json", Body=body
                )
                answer["Body"].read()
                self.log.served.append((time.time(), str(answer.get("InvokedProductionVariant"))))
            except Exception as exc:  # counted, never raised: the caller judges the log
                response = getattr(exc, "response", None) or {}
                headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                self.log.failed += 1
                self.log.failures.append(
                    Failure(
                        at=time.time(),
                        code=str(response.get("Error", {}).get("Code", type(exc).__name__)),
                        variant=headers.get("x-amzn-invoked-production-variant", ""),
                        message=str(exc),
                    )
                )
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))
