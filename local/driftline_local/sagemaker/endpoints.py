"""SageMaker endpoints that really host models, InvokeEndpoint that really predicts, data capture.

moto marks an endpoint InService at once and `sagemaker-runtime InvokeEndpoint` returns canned data.
Here every production variant gets a persistent worker process (`_inference_worker.py`) with the
model's `model.tar.gz` extracted to its sandbox's `model/` and the SAGEMAKER_SUBMIT_DIRECTORY tarball
to `model/code/` (where the SageMaker framework containers put it); the worker loads
SAGEMAKER_PROGRAM and answers requests through its model_fn / input_fn / predict_fn / output_fn.

- CreateEndpoint: Creating -> InService, or Failed with FailureReason when a model cannot load.
- UpdateEndpoint: Updating; the old variants serve until the new ones are loaded, then traffic
  switches; DescribeEndpoint shows the old config with the new one under PendingDeploymentSummary
  until then. If the new config cannot load, the endpoint returns to InService on the old config with
  FailureReason set (SageMaker rolls back the same way). RetainAllVariantProperties keeps the current
  weights, instance counts and data capture of same-named variants (minus ExcludeRetainedVariantProperties).
- UpdateEndpoint with a DeploymentConfig (deployment guardrails): the new config's variants (the green
  fleet) start beside the old ones (blue) and take a growing share of requests: ALL_AT_ONCE (100 %),
  CANARY (CanarySize of the green capacity, then 100 %) or LINEAR (LinearStepSize more per step). Each
  step bakes WaitIntervalInSeconds (cloud time) while the AutoRollbackConfiguration alarms are watched;
  any in ALARM, or MaximumExecutionTimeoutInSeconds passing, rolls back: RollingBack, all requests to
  blue, green retired, InService on the old config with FailureReason. Otherwise blue is retired
  TerminationWaitInSeconds after the last bake and the endpoint is InService on the new config.
  PendingDeploymentSummary shows the green variants' VariantStatus (Creating, ActivatingTraffic,
  Baking with the step in StatusMessage, Deleting); LastDeploymentConfig the DeploymentConfig
  (RetainDeploymentConfig reuses it). RollingUpdatePolicy is not simulated (logged, then all at once).
- UpdateEndpointWeightsAndCapacities: Updating with the new DesiredWeight/DesiredInstanceCount while
  traffic still follows CurrentWeight; after `WEIGHTS_UPDATE_SECONDS` the current values become the
  desired ones and the endpoint is InService (moto switches at once and blanks omitted capacities).
- DeleteEndpoint: workers stop, buffered capture is flushed.
- InvokeEndpoint: traffic is split by CurrentWeight (seeded RNG) unless TargetVariant is given;
  handler errors come back as ModelError (HTTP 424) with OriginalStatusCode/OriginalMessage;
  `x-Amzn-Invoked-Production-Variant` names the variant. During a blue/green update the green fleet's
  share is chosen first, then a variant of that fleet by weight. A request routed to a variant being
  retired is routed again, so an update never fails a request by itself.
- Data capture (EnableCapture): SageMaker's JSON Lines records (captureData.endpointInput/
  endpointOutput with observedContentType, mode, data, encoding; eventMetadata.eventId/inferenceTime
  [/inferenceId]; eventVersion "0") at `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/
  <mm-ss-mmm>-<uuid>.jsonl`, buffered and flushed every `CAPTURE_FLUSH_SECONDS` or
  `CAPTURE_MAX_RECORDS`. As on AWS, data is captured as CSV/JSON text only for content types listed in
  CaptureContentTypeHeader; everything else is BASE64.
- A `SageMaker Endpoint State Change` event goes onto the default bus at every status change, with
  EndpointStatus spelled as AWS's published sample spells it (CREATING, IN_SERVICE, UPDATING, FAILED,
  DELETING; ROLLING_BACK is our guess).
- Invocation metrics go to CloudWatch as SageMaker publishes them: namespace AWS/SageMaker, dimensions
  EndpointName + VariantName; Invocations, InvocationsPerInstance, Invocation4XXErrors and
  Invocation5XXErrors (1 or 0 per request, by the model's status code), ModelLatency and
  OverheadLatency (microseconds). They are aggregated per variant over `metrics_interval(ctx)` (one
  cloud minute, at most one real second) and put into moto's CloudWatch as statistic sets; the latency
  sets also carry their raw values so percentile alarms can be evaluated (`driftline_local.alarms`).
- Faults (`set_fault` / `clear_fault`, `driftline local fault`): a faulted variant answers a share
  `error_rate` of its invocations with a container error (ModelError, OriginalStatusCode 500, counted in
  Invocation5XXErrors) and adds `latency_ms` to every invocation (counted in ModelLatency).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline_local.context import LocalCloudContext
from driftline_local.eventbridge import cloud_now

from ._aws import LOG, client, event_detail, put_event, split_s3_uri

ENDPOINT_EVENT = "SageMaker Endpoint State Change"
CAPTURE_FLUSH_SECONDS = 2.0
CAPTURE_MAX_RECORDS = 500
MODEL_LOAD_TIMEOUT_SECONDS = 120.0
WEIGHTS_UPDATE_SECONDS = 0.5
ALARM_POLL_SECONDS = 0.1  # real seconds between looks at the auto-rollback alarms while baking
DRAIN_SECONDS = 5.0  # how long retiring a variant waits for the request it is answering
ROUTING_ATTEMPTS = 3  # routings of one request that found its variant retired by an update
METRICS_NAMESPACE = "AWS/SageMaker"
FAULT_STATUS = 500  # what a faulted container answers
_WORKER = Path(__file__).with_name("_inference_worker.py")
_EVENT_STATUS = {
    "Creating": "CREATING",
    "InService": "IN_SERVICE",
    "Updating": "UPDATING",
    "Failed": "FAILED",
    "Deleting": "DELETING",
    "RollingBack": "ROLLING_BACK",
}


class DeployFailed(Exception):
    """A variant cannot be hosted; the message becomes the endpoint's FailureReason."""


def _now() -> datetime:
    return datetime.now(UTC)


class VariantWorker:
    """One production variant: a model server process and the lock that serialises its requests."""

    def __init__(self, ctx: LocalCloudContext, sandbox: Path, variant: dict[str, Any], model: Any) -> None:
        self.ctx = ctx
        self.sandbox = sandbox
        self.name: str = variant["VariantName"]
        self.model = model
        self.image = (model.primary_container or {}).get("Image", "")
        self.environment: dict[str, str] = dict((model.primary_container or {}).get("Environment") or {})
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self.retired = False  # closed by an update or delete: a request that finds it so is routed again

    def start(self) -> None:
        container = self.model.primary_container or {}
        if not container:
            raise DeployFailed(
                f"Model {self.model.model_name} has no PrimaryContainer; "
                "the local cloud hosts one container per variant"
            )
        if self.sandbox.exists():
            shutil.rmtree(self.sandbox)
        model_dir = self.sandbox / "model"
        model_dir.mkdir(parents=True)
        s3 = client(self.ctx, "s3")
        data_url = container.get("ModelDataUrl")
        if data_url:
            archive = self.sandbox / "model.tar.gz"
            try:
                bucket, key = split_s3_uri(data_url)
                s3.download_file(bucket, key, str(archive))
                with tarfile.open(archive) as tar:
                    tar.extractall(model_dir, filter="data")
            except Exception as exc:
                raise DeployFailed(
                    f'Failed to download model data for container "primary" from URL: "{data_url}": {exc}'
                ) from exc
        code_dir = model_dir / "code"
        submit = self.environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        if submit and submit.startswith("s3://"):
            archive = self.sandbox / "sourcedir.tar.gz"
            try:
                bucket, key = split_s3_uri(submit)
                s3.download_file(bucket, key, str(archive))
                code_dir.mkdir(exist_ok=True)
                with tarfile.open(archive) as tar:
                    tar.extractall(code_dir, filter="data")
            except Exception as exc:
                raise DeployFailed(f"Failed to download SAGEMAKER_SUBMIT_DIRECTORY {submit}: {exc}") from exc
        program = self.environment.get("SAGEMAKER_PROGRAM")
        if not program or not (code_dir / program).is_file():
            raise DeployFailed(f"The inference script SAGEMAKER_PROGRAM={program!r} was not found in the model's code")

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_", "MOTO_", "SAGEMAKER_"))}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "AWS_ENDPOINT_URL": self.ctx.endpoint_url,
                "AWS_REGION": self.ctx.region,
                "AWS_DEFAULT_REGION": self.ctx.region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "SM_MODEL_DIR": str(model_dir),
            }
        )
        env.update({k: str(v).replace("/opt/ml", str(self.sandbox)) for k, v in self.environment.items()})
        log = open(self.sandbox / "model_server.log", "ab")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen(
            [sys.executable, str(_WORKER), str(code_dir), str(model_dir), program],
            cwd=code_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        header: dict[str, Any] = {}

        def read_ready() -> None:
            header.update(self._read()[0])

        reader = threading.Thread(target=read_ready, daemon=True)
        reader.start()
        reader.join(MODEL_LOAD_TIMEOUT_SECONDS)
        if not header.get("ready"):
            error = header.get("error") or "the model server did not start"
            self.close()
            raise DeployFailed(
                f"The primary container for production variant {self.name} did not pass the ping health check: {error}"
            )

    def _read(self) -> tuple[dict[str, Any], bytes]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            return {"ok": False, "ready": False, "status": 500, "error": "the model server exited"}, b""
        header = json.loads(line)
        body = self._proc.stdout.read(header.get("length", 0)) if header.get("length") else b""
        return header, body

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[dict[str, Any], bytes]:
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or proc.stdin is None:
                return {
                    "ok": False,
                    "status": 500,
                    "error": "the model server is not running",
                    "retired": self.retired,
                }, b""
            try:
                request = {"content_type": content_type, "accept": accept, "length": len(body)}
                proc.stdin.write(json.dumps(request).encode() + b"\n" + body)
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                return {"ok": False, "status": 500, "error": "the model server exited"}, b""
            return self._read()

    def close(self) -> None:
        self.retired = True
        drained = self._lock.acquire(timeout=DRAIN_SECONDS)  # the request being answered finishes first
        try:
            proc, self._proc = self._proc, None
        finally:
            if drained:
                self._lock.release()
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=2)
        except (subprocess.TimeoutExpired, OSError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the worker's own process group
            proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()


class DataCapture:
    """Buffers capture records per variant and hour and writes them as SageMaker's JSONL objects."""

    def __init__(self, ctx: LocalCloudContext, endpoint_name: str, config: dict[str, Any], rng: random.Random) -> None:
        self.ctx = ctx
        self.endpoint_name = endpoint_name
        self.percent = float(config.get("InitialSamplingPercentage", 100))
        self.destination = config["DestinationS3Uri"].rstrip("/")
        modes = {option.get("CaptureMode") for option in config.get("CaptureOptions") or []} or {
            "Input",
            "Output",
        }
        self.capture_input = bool(modes & {"Input", "InputAndOutput"})
        self.capture_output = bool(modes & {"Output", "InputAndOutput"})
        headers = config.get("CaptureContentTypeHeader") or {}
        self.csv_types = set(headers.get("CsvContentTypes") or [])
        self.json_types = set(headers.get("JsonContentTypes") or [])
        self._rng = rng
        self._lock = threading.Lock()
        self._buffers: dict[tuple[str, str], list[tuple[datetime, dict[str, Any]]]] = {}

    def _encode(self, content_type: str, data: bytes) -> tuple[str, str]:
        base = (content_type or "").split(";")[0].strip()
        for encoding, types in (("CSV", self.csv_types), ("JSON", self.json_types)):
            if content_type in types or base in types:
                try:
                    return encoding, data.decode("utf-8")
                except UnicodeDecodeError:
                    break
        return "BASE64", base64.b64encode(data).decode("ascii")

    def record(
        self,
        variant: str,
        content_type: str,
        body: bytes,
        output_type: str,
        output: bytes,
        inference_id: str | None,
    ) -> None:
        if self._rng.random() * 100 >= self.percent:
            return
        # Captured traffic is stamped on the cloud clock, the clock the monitoring schedules run on:
        # with --time-scale N an hourly monitor window then holds an (N times shorter) hour of traffic.
        now = cloud_now()
        capture: dict[str, Any] = {}
        if self.capture_input:
            encoding, data = self._encode(content_type, body)
            capture["endpointInput"] = {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            }
        if self.capture_output:
            encoding, data = self._encode(output_type, output)
            capture["endpointOutput"] = {
                "observedContentType": output_type,
                "mode": "OUTPUT",
                "data": data,
                "encoding": encoding,
            }
        metadata = {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        }
        if inference_id:
            metadata["inferenceId"] = inference_id
        record = {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}
        with self._lock:
            buffer = self._buffers.setdefault((variant, now.strftime("%Y/%m/%d/%H")), [])
            buffer.append((now, record))
            full = len(buffer) >= CAPTURE_MAX_RECORDS
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            buffers, self._buffers = self._buffers, {}
        bucket, prefix = split_s3_uri(self.destination)
        for (variant, hour), records in buffers.items():
            first = records[0][0]
            name = f"{first.strftime('%M-%S')}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            key = "/".join(p for p in (prefix, self.endpoint_name, variant, hour, name) if p)
            body = "".join(json.dumps(record, separators=(",", ":")) + "\n" for _, record in records)
            try:
                client(self.ctx, "s3").put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
            except Exception:
                LOG.exception("could not write data capture s3://%s/%s", bucket, key)


@dataclass
class Fault:
    """What `set_fault` injects into one variant: a share of failed invocations and added latency."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def fails(self) -> bool:
        return self.error_rate > 0 and self.rng.random() < self.error_rate

    def describe(self) -> dict[str, float]:
        return {"error_rate": self.error_rate, "latency_ms": self.latency_ms}


def metrics_interval(ctx: LocalCloudContext) -> float:
    """Real seconds each invocation datapoint aggregates: one cloud minute (SageMaker's resolution), at most 1 s."""
    return min(1.0, 60.0 / ctx.time_scale)


class _Series:
    """One metric's statistic set over one interval (and its raw values, for percentiles)."""

    def __init__(self, keep_values: bool) -> None:
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.values: list[float] | None = [] if keep_values else None

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        if self.values is not None:
            self.values.append(value)


_UNITS = {
    "Invocations": "None",
    "InvocationsPerInstance": "None",
    "Invocation4XXErrors": "None",
    "Invocation5XXErrors": "None",
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
}
_LATENCIES = ("ModelLatency", "OverheadLatency")


class InvocationMetrics:
    """Aggregates invocation metrics per variant and interval; puts them into moto's CloudWatch."""

    def __init__(self, ctx: LocalCloudContext, stopped: threading.Event) -> None:
        self.ctx = ctx
        self.interval = metrics_interval(ctx)
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str, str, int], dict[str, _Series]] = {}
        self._stopped = stopped
        threading.Thread(target=self._flush_loop, name="sagemaker-endpoint-metrics", daemon=True).start()

    def record(
        self,
        account: str,
        region: str,
        endpoint: str,
        variant: str,
        model_status: int,
        model_us: float,
        overhead_us: float,
        instances: int,
    ) -> None:
        key = (account, region, endpoint, variant, math.floor(time.time() / self.interval))
        with self._lock:
            series = self._buckets.get(key)
            if series is None:
                series = self._buckets[key] = {name: _Series(name in _LATENCIES) for name in _UNITS}
            series["Invocations"].add(1.0)
            series["InvocationsPerInstance"].add(1.0 / max(1, instances))
            series["Invocation4XXErrors"].add(1.0 if 400 <= model_status < 500 else 0.0)
            series["Invocation5XXErrors"].add(1.0 if model_status >= 500 else 0.0)
            series["ModelLatency"].add(model_us)
            series["OverheadLatency"].add(overhead_us)

    def flush(self, everything: bool = False) -> None:
        """Publish every finished interval (`everything`: the current one too)."""
        current = math.floor(time.time() / self.interval)
        with self._lock:
            due = [key for key in self._buckets if everything or key[4] < current]
            ready = [(key, self._buckets.pop(key)) for key in due]
        for key, series in ready:
            try:
                self._publish(key, series)
            except Exception:
                LOG.exception("could not publish invocation metrics of %s/%s", key[2], key[3])

    def _publish(self, key: tuple[str, str, str, str, int], series: dict[str, _Series]) -> None:
        from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends

        account, region, endpoint, variant, index = key
        # naive UTC, as moto stores timestamps that arrive over the wire
        timestamp = datetime.fromtimestamp(index * self.interval, UTC).replace(tzinfo=None)
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        backend = cloudwatch_backends[account][region]
        for name, data in series.items():
            datum = MetricAggregatedDatum(
                namespace=METRICS_NAMESPACE,
                name=name,
                min_stat=data.low,
                max_stat=data.high,
                sample_count=float(data.count),
                sum_stat=data.total,
                dimensions=dimensions,
                timestamp=timestamp,
                unit=_UNITS[name],
            )
            if data.values is not None:
                datum.values = data.values  # type: ignore[attr-defined]  # read by driftline_local.alarms for pNN
            backend.metric_data.append(datum)

    def _flush_loop(self) -> None:
        while not self._stopped.wait(max(0.05, self.interval / 4)):
            self.flush()


@dataclass(frozen=True)
class BlueGreenPlan:
    """What a DeploymentConfig asks of one UpdateEndpoint: the green fleet's traffic steps and the guardrails."""

    mode: str  # ALL_AT_ONCE | CANARY | LINEAR
    steps: tuple[float, ...]  # the green fleet's share of requests at each step; the last is 1.0
    wait_seconds: float  # WaitIntervalInSeconds: the bake after every step (cloud time)
    termination_wait_seconds: float  # TerminationWaitInSeconds: blue stays up this long after the last bake
    timeout_seconds: float | None  # MaximumExecutionTimeoutInSeconds
    alarms: tuple[str, ...]  # AutoRollbackConfiguration.Alarms


def blue_green_plan(deployment: dict[str, Any], green_instances: int) -> BlueGreenPlan:
    """The plan for a DeploymentConfig without RollingUpdatePolicy; ValueError says what AWS would refuse.

    A capacity share is of the new fleet (`green_instances` instances): CAPACITY_PERCENT directly,
    INSTANCE_COUNT as a fraction of it. Local variants have no instances to round to, so the share is the
    share of requests. Without BlueGreenUpdatePolicy SageMaker shifts all at once.
    """
    policy = deployment.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    mode = routing.get("Type")
    if mode == "ALL_AT_ONCE":
        steps: tuple[float, ...] = (1.0,)
    elif mode == "CANARY":
        canary = _capacity_share(routing.get("CanarySize"), "CanarySize", green_instances, 0.0, 0.5)
        steps = (canary, 1.0)
    elif mode == "LINEAR":
        step = _capacity_share(routing.get("LinearStepSize"), "LinearStepSize", green_instances, 0.1, 0.5)
        count = math.ceil(1.0 / step - 1e-9)
        steps = tuple(min(1.0, round(step * (index + 1), 6)) for index in range(count))
    else:
        raise ValueError(f"TrafficRoutingConfiguration.Type must be one of ALL_AT_ONCE, CANARY, LINEAR, not {mode!r}.")
    timeout = policy.get("MaximumExecutionTimeoutInSeconds")
    alarms = (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    return BlueGreenPlan(
        mode=mode,
        steps=steps,
        wait_seconds=float(routing.get("WaitIntervalInSeconds") or 0),
        termination_wait_seconds=float(policy.get("TerminationWaitInSeconds") or 0),
        timeout_seconds=float(timeout) if timeout else None,
        alarms=tuple(alarm["AlarmName"] for alarm in alarms if alarm.get("AlarmName")),
    )


def _capacity_share(size: dict[str, Any] | None, what: str, instances: int, least: float, most: float) -> float:
    if not size:
        raise ValueError(f"TrafficRoutingConfiguration.{what} is required for this traffic routing type.")
    value = float(size.get("Value") or 0)
    if size.get("Type") == "CAPACITY_PERCENT":
        share = value / 100.0
    elif size.get("Type") == "INSTANCE_COUNT":
        share = value / max(1, instances)
    else:
        raise ValueError(f"{what}.Type must be INSTANCE_COUNT or CAPACITY_PERCENT, not {size.get('Type')!r}.")
    if share <= 0 or not least <= share <= most:
        bounds = f"at most {most:.0%}" if least == 0 else f"{least:.0%}-{most:.0%}"
        raise ValueError(
            f"{what} {size.get('Value')} {size.get('Type')} is {share:.0%} of the new fleet's {instances} "
            f"instance(s); it must be {bounds} of the new fleet's capacity."
        )
    return share


def _alarms_in_alarm(account: str, region: str, names: tuple[str, ...]) -> list[str]:
    """The alarms among `names` that are in ALARM in moto's CloudWatch (an unknown name is never in ALARM)."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[account][region].alarms
    return [name for name in names if getattr(alarms.get(name), "state_value", None) == "ALARM"]


def _evaluate_alarms() -> None:
    """Have the local alarm evaluator judge every alarm now, when it runs (`driftline_local.alarms`)."""
    from driftline_local import alarms

    try:
        alarms.evaluate_now()
    except RuntimeError:  # not installed: alarm states change only through SetAlarmState
        return
    except Exception:  # a bad alarm must not roll an update back; the evaluator's own loop logs it too
        LOG.exception("could not evaluate the alarms")


class _RollBack(Exception):
    """A blue/green update must roll back; the message becomes the endpoint's FailureReason."""


class _Abandoned(Exception):
    """The endpoint was deleted (or the cloud stopped) during a blue/green update."""


@dataclass
class LiveEndpoint:
    name: str
    fake: Any  # moto's FakeEndpoint, updated in place so DescribeEndpoint is live
    variants: dict[str, VariantWorker] = field(default_factory=dict)
    capture: DataCapture | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    deleted: bool = False
    generation: int = 0
    # a blue/green update's new fleet, its capture, its variants' weights and its share of requests
    green: dict[str, VariantWorker] = field(default_factory=dict)
    green_capture: DataCapture | None = None
    green_weights: dict[str, float] = field(default_factory=dict)
    green_share: float = 0.0

    def choose(self, target: str | None) -> VariantWorker | None:
        if target:
            return self.variants.get(target)
        weights = {v["VariantName"]: float(v.get("CurrentWeight", 1.0)) for v in self.fake.production_variants}
        return self._pick(self.variants, weights)

    def route(self, target: str | None) -> tuple[VariantWorker, DataCapture | None] | None:
        """The variant (and its fleet's capture) that answers a request; None for an unknown TargetVariant."""
        green, share = self.green, self.green_share
        fleets = [(self.variants, self.capture), (green, self.green_capture)]
        if share >= 1.0:
            fleets.reverse()
        if target:
            for variants, capture in fleets:
                if target in variants and (variants is not green or share > 0):
                    return variants[target], capture
            return None
        if green and share > 0 and (share >= 1.0 or self.rng.random() < share):
            worker = self._pick(green, self.green_weights)
            return (worker, self.green_capture) if worker else None
        worker = self.choose(None)
        return (worker, self.capture) if worker else None

    def _pick(self, variants: dict[str, VariantWorker], weights: dict[str, float]) -> VariantWorker | None:
        names = [n for n in variants if weights.get(n, 1.0) > 0] or list(variants)
        if len(names) <= 1:
            return variants[names[0]] if names else None
        return variants[self.rng.choices(names, weights=[weights.get(n, 1.0) or 1e-9 for n in names])[0]]


class EndpointHost:
    """All live endpoints of this local cloud, keyed by (account, region, name)."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx
        self._live: dict[tuple[str, str, str], LiveEndpoint] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._faults: dict[tuple[str, str, str, str], Fault] = {}
        self.metrics = InvocationMetrics(ctx, self._stopped)
        threading.Thread(target=self._flush_loop, name="sagemaker-data-capture", daemon=True).start()

    def get(self, account: str, region: str, name: str) -> LiveEndpoint | None:
        live = self._live.get((account, region, name))
        return live if live and live.variants else None

    # ---- lifecycle ------------------------------------------------------------------------------

    def create(self, backend: Any, fake: Any) -> None:
        live = LiveEndpoint(fake.endpoint_name, fake)
        with self._lock:
            self._live[(backend.account_id, backend.region_name, fake.endpoint_name)] = live
        self._set_status(live, "Creating")
        threading.Thread(
            target=self._deploy, args=(backend, live, fake.endpoint_config_name, False), daemon=True
        ).start()

    def update(
        self,
        backend: Any,
        fake: Any,
        config_name: str,
        retain: set[str] | None = None,
        plan: BlueGreenPlan | None = None,
    ) -> None:
        """UpdateEndpoint; `retain`: the variant properties kept from same-named current variants; `plan`: the
        DeploymentConfig's blue/green traffic shifting and guardrails (None: switch once the new variants serve)."""
        live = self._live.get((backend.account_id, backend.region_name, fake.endpoint_name))
        if live is None:
            live = LiveEndpoint(fake.endpoint_name, fake)
            self._live[(backend.account_id, backend.region_name, fake.endpoint_name)] = live
        now = _now()
        config = backend.endpoint_configs[config_name]
        fake.pending_deployment_summary = {
            "EndpointConfigName": config_name,
            "ProductionVariants": [
                {
                    "VariantName": variant["VariantName"],
                    "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
                    "DesiredInstanceCount": int(variant.get("InitialInstanceCount", 1)),
                    "VariantStatus": [{"Status": "Creating", "StartTime": now}],
                }
                for variant in config.production_variants
            ],
            "StartTime": now,
        }
        self._set_status(live, "Updating")
        if plan is not None:
            args: tuple[Any, ...] = (backend, live, config_name, retain or set(), plan)
            threading.Thread(target=self._blue_green, args=args, daemon=True).start()
        else:
            args = (backend, live, config_name, True, retain or set())
            threading.Thread(target=self._deploy, args=args, daemon=True).start()

    def update_weights(self, live: LiveEndpoint, desired: list[dict[str, Any]]) -> None:
        """UpdateEndpointWeightsAndCapacities: desired values now, current ones (and traffic) after Updating."""
        by_name = {v["VariantName"]: v for v in live.fake.production_variants}
        for change in desired:
            variant = by_name[change["VariantName"]]
            if change.get("DesiredWeight") is not None:
                variant["DesiredWeight"] = float(change["DesiredWeight"])
            if change.get("DesiredInstanceCount") is not None:
                variant["DesiredInstanceCount"] = int(change["DesiredInstanceCount"])
        self._set_status(live, "Updating")

        def settle() -> None:
            time.sleep(WEIGHTS_UPDATE_SECONDS)
            if live.deleted:
                return
            for variant in live.fake.production_variants:
                for current, wanted in (
                    ("CurrentWeight", "DesiredWeight"),
                    ("CurrentInstanceCount", "DesiredInstanceCount"),
                ):
                    if variant.get(wanted) is not None:
                        variant[current] = variant[wanted]
            self._set_status(live, "InService")

        threading.Thread(target=settle, daemon=True).start()

    # ---- faults -------------------------------------------------------------------------------

    def set_fault(
        self, account: str, region: str, endpoint: str, variant: str, error_rate: float, latency_ms: float
    ) -> dict[str, float]:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be between 0 and 1, not {error_rate}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
        self._known_variant(account, region, endpoint, variant)
        fault = Fault(error_rate=float(error_rate), latency_ms=float(latency_ms))
        self._faults[(account, region, endpoint, variant)] = fault
        LOG.info("endpoint %s variant %s: fault %s", endpoint, variant, fault.describe())
        return fault.describe()

    def clear_fault(self, account: str, region: str, endpoint: str, variant: str) -> None:
        self._known_variant(account, region, endpoint, variant)
        self._faults.pop((account, region, endpoint, variant), None)

    def _known_variant(self, account: str, region: str, endpoint: str, variant: str) -> None:
        from moto.sagemaker.models import FakeEndpoint, sagemaker_backends

        fake = sagemaker_backends[account][region].endpoints.get(endpoint)
        if fake is None:
            arn = FakeEndpoint.arn_formatter(endpoint, account, region)
            raise ValueError(f'Could not find endpoint "{arn}".')
        live = self._live.get((account, region, endpoint))
        pending = (getattr(fake, "pending_deployment_summary", None) or {}).get("ProductionVariants") or []
        names = {v["VariantName"] for v in [*fake.production_variants, *pending]}
        names |= set(live.variants if live else ()) | set(live.green if live else ())
        if variant not in names:
            raise ValueError(
                f'Endpoint "{endpoint}" has no variant "{variant}" (its variants: {", ".join(sorted(names))}).'
            )

    def delete(self, backend: Any, name: str) -> None:
        with self._lock:
            live = self._live.pop((backend.account_id, backend.region_name, name), None)
        if live is None:
            return
        live.deleted = True
        for key in [k for k in self._faults if k[:3] == (backend.account_id, backend.region_name, name)]:
            self._faults.pop(key, None)
        put_event(self.ctx, ENDPOINT_EVENT, live.fake.arn, self._detail(live, "Deleting"))
        self._retire(live.variants, live.capture)
        self._retire(live.green, live.green_capture)
        live.variants, live.green = {}, {}

    def shutdown(self) -> None:
        self._stopped.set()
        with self._lock:
            lives = list(self._live.values())
            self._live.clear()
        for live in lives:
            live.deleted = True
            self._retire(live.variants, live.capture)
            self._retire(live.green, live.green_capture)
        self.metrics.flush(everything=True)

    def flush(self) -> None:
        for live in list(self._live.values()):
            for capture in (live.capture, live.green_capture):
                if capture:
                    capture.flush()

    def _flush_loop(self) -> None:
        while not self._stopped.wait(CAPTURE_FLUSH_SECONDS):
            self.flush()

    def _deploy(
        self, backend: Any, live: LiveEndpoint, config_name: str, is_update: bool, retain: set[str] | None = None
    ) -> None:
        live.generation += 1
        generation = live.generation
        started = self._start_fleet(backend, live, config_name, is_update, generation)
        if started is None:
            return
        config = backend.endpoint_configs[config_name]
        capture_config, capture = self._capture(live, config, retain or set())
        self._switch(live, config_name, config, started, retain or set(), capture_config, capture)

    def _start_fleet(
        self, backend: Any, live: LiveEndpoint, config_name: str, is_update: bool, generation: int
    ) -> dict[str, VariantWorker] | None:
        """Start a worker for every variant of `config_name`; None when they cannot all serve (the endpoint is
        then InService on its current variants with FailureReason, or Failed) or the endpoint went away."""
        started: dict[str, VariantWorker] = {}
        try:
            config = backend.endpoint_configs[config_name]
            for variant in config.production_variants:
                model = backend._models.get(variant["ModelName"])
                if model is None:
                    raise DeployFailed(f'Could not find model "{variant["ModelName"]}".')
                sandbox = (
                    self.ctx.workdir / "endpoints" / live.name / f"{variant['VariantName']}-{uuid.uuid4().hex[:8]}"
                )
                worker = VariantWorker(self.ctx, sandbox, variant, model)
                started[worker.name] = worker
                worker.start()
        except Exception as exc:
            reason = str(exc) if isinstance(exc, DeployFailed) else f"InternalServerError: {exc}"
            LOG.warning("endpoint %s: %s", live.name, reason)
            self._retire(started, None)
            if live.deleted or generation != live.generation:
                return None
            live.fake.failure_reason = reason[:1024]
            live.fake.pending_deployment_summary = None
            self._set_status(live, "InService" if is_update and live.variants else "Failed")
            return None
        if live.deleted or generation != live.generation:
            self._retire(started, None)
            return None
        return started

    def _capture(self, live: LiveEndpoint, config: Any, retain: set[str]) -> tuple[dict[str, Any], DataCapture | None]:
        """The data capture config a new fleet runs with, and its capture (None when capture is off)."""
        capture_config = config.data_capture_config or {}
        if "DataCaptureConfig" in retain:
            capture_config = live.fake.data_capture_config or {}
        capture = (
            DataCapture(self.ctx, live.name, capture_config, random.Random(1))
            if capture_config.get("EnableCapture") and capture_config.get("DestinationS3Uri")
            else None
        )
        return capture_config, capture

    def _switch(
        self,
        live: LiveEndpoint,
        config_name: str,
        config: Any,
        started: dict[str, VariantWorker],
        retain: set[str],
        capture_config: dict[str, Any],
        capture: DataCapture | None,
    ) -> None:
        """Make `started` the endpoint's variants (InService on `config_name`) and retire the old ones."""
        old_variants, old_capture = live.variants, live.capture
        fake = live.fake
        live.capture = capture
        live.variants = started
        live.green, live.green_capture, live.green_share = {}, None, 0.0
        current = {v["VariantName"]: v for v in fake.production_variants or []}
        summaries = []
        for variant in config.production_variants:
            summary = self._variant_summary(variant, started[variant["VariantName"]])
            kept = current.get(variant["VariantName"])
            if kept is not None and "DesiredWeight" in retain:
                summary["CurrentWeight"] = kept.get("CurrentWeight", summary["CurrentWeight"])
                summary["DesiredWeight"] = kept.get("DesiredWeight", summary["DesiredWeight"])
            if kept is not None and "DesiredInstanceCount" in retain:
                summary["CurrentInstanceCount"] = kept.get("CurrentInstanceCount", summary["CurrentInstanceCount"])
                summary["DesiredInstanceCount"] = kept.get("DesiredInstanceCount", summary["DesiredInstanceCount"])
            summaries.append(summary)
        fake.endpoint_config_name = config_name
        fake.data_capture_config = capture_config
        fake.production_variants = summaries
        fake.pending_deployment_summary = None
        fake.failure_reason = None
        self._set_status(live, "InService")
        self._retire(old_variants, old_capture)

    # ---- blue/green deployments (DeploymentConfig) ----------------------------------------------------

    def _blue_green(
        self, backend: Any, live: LiveEndpoint, config_name: str, retain: set[str], plan: BlueGreenPlan
    ) -> None:
        """Start the green fleet beside blue, shift traffic step by step while the alarms stay quiet, then retire
        blue; an alarm in ALARM (or the timeout) rolls everything back to blue."""
        live.generation += 1
        generation = live.generation
        began = time.monotonic()
        deadline = began + self.ctx.scaled(plan.timeout_seconds) if plan.timeout_seconds else math.inf
        old_config = live.fake.endpoint_config_name
        green = self._start_fleet(backend, live, config_name, True, generation)
        if green is None:
            return
        try:
            config = backend.endpoint_configs[config_name]
            capture_config, capture = self._capture(live, config, retain)
            live.green_weights = {
                v["VariantName"]: float(v.get("InitialVariantWeight", 1.0)) for v in config.production_variants
            }
            live.green_share, live.green_capture, live.green = 0.0, capture, green
            for index, share in enumerate(plan.steps):
                step = f"traffic step {index + 1} of {len(plan.steps)}: {share:.0%} of requests on the new fleet"
                self._pending(live, "ActivatingTraffic", f"Shifting {step}.", green)
                live.green_share = share
                LOG.info("endpoint %s: %s %s", live.name, plan.mode, step)
                self._pending(live, "Baking", f"Baking {step}.", green)
                self._bake(backend, live, generation, plan, deadline, step)
            wait = plan.termination_wait_seconds
            message = (
                f"All traffic on the new fleet; the old one is retired after TerminationWaitInSeconds ({wait:g} s)."
            )
            self._pending(live, "Updating", message, green)
            self._wait(live, generation, self.ctx.scaled(wait))
        except _Abandoned:
            live.green_share = 0.0
            self._retire(green, live.green_capture)
            live.green, live.green_capture = {}, None
            return
        except Exception as exc:
            cause = str(exc) if isinstance(exc, _RollBack) else f"InternalServerError: {exc}"
            self._roll_back(
                live, green, f"{cause} The endpoint was rolled back to its previous endpoint config {old_config}."
            )
            return
        self._switch(live, config_name, config, green, retain, capture_config, capture)
        LOG.info(
            "endpoint %s: blue/green update to %s done in %.1f s", live.name, config_name, time.monotonic() - began
        )

    def _bake(
        self,
        backend: Any,
        live: LiveEndpoint,
        generation: int,
        plan: BlueGreenPlan,
        deadline: float,
        step: str,
    ) -> None:
        """Watch the auto-rollback alarms for WaitIntervalInSeconds of cloud time; _RollBack when one is in ALARM."""
        end = time.monotonic() + self.ctx.scaled(plan.wait_seconds)
        while True:
            last = time.monotonic() >= end
            if last:
                _evaluate_alarms()  # judge the latest complete period now, not at the evaluator's next tick
            firing = _alarms_in_alarm(backend.account_id, backend.region_name, plan.alarms)
            if firing:
                raise _RollBack(f"Auto-rollback alarm(s) {', '.join(firing)} went into ALARM while baking {step}.")
            if time.monotonic() > deadline:
                raise _RollBack(
                    f"The deployment did not complete within MaximumExecutionTimeoutInSeconds "
                    f"({plan.timeout_seconds:g} s); it was baking {step}."
                )
            if last:
                return
            self._wait(live, generation, min(ALARM_POLL_SECONDS, max(0.0, end - time.monotonic())))

    def _wait(self, live: LiveEndpoint, generation: int, seconds: float) -> None:
        if self._stopped.wait(seconds) or live.deleted or generation != live.generation:
            raise _Abandoned()

    def _roll_back(self, live: LiveEndpoint, green: dict[str, VariantWorker], reason: str) -> None:
        """All requests back to blue, green retired, InService on the old config with FailureReason."""
        LOG.warning("endpoint %s: %s", live.name, reason)
        live.green_share = 0.0
        if not live.deleted:
            self._pending(live, "Deleting", "Rolling back: the new fleet is being retired.")
            self._set_status(live, "RollingBack")
        capture = live.green_capture
        live.green, live.green_capture = {}, None
        self._retire(green, capture)
        if live.deleted:
            return
        live.fake.pending_deployment_summary = None
        live.fake.failure_reason = reason[:1024]
        self._set_status(live, "InService")

    @staticmethod
    def _pending(
        live: LiveEndpoint, status: str, message: str, started: dict[str, VariantWorker] | None = None
    ) -> None:
        """Set the VariantStatus of the green variants in PendingDeploymentSummary (and, once they run, their
        deployed images and current weights and counts)."""
        summary = live.fake.pending_deployment_summary
        if not summary:
            return
        now = _now()
        variants = []
        for variant in summary["ProductionVariants"]:
            variant = {**variant, "VariantStatus": [{"Status": status, "StatusMessage": message, "StartTime": now}]}
            worker = (started or {}).get(variant["VariantName"])
            if worker is not None:
                image = worker.image
                variant["DeployedImages"] = [{"SpecifiedImage": image, "ResolvedImage": image, "ResolutionTime": now}]
                variant["CurrentWeight"] = variant["DesiredWeight"]
                variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"]
            variants.append(variant)
        live.fake.pending_deployment_summary = {**summary, "ProductionVariants": variants}

    @staticmethod
    def _variant_summary(variant: dict[str, Any], worker: VariantWorker) -> dict[str, Any]:
        weight = float(variant.get("InitialVariantWeight", 1.0))
        count = int(variant.get("InitialInstanceCount", 1))
        now = _now()
        return {
            "VariantName": variant["VariantName"],
            "DeployedImages": [{"SpecifiedImage": worker.image, "ResolvedImage": worker.image, "ResolutionTime": now}],
            "CurrentWeight": weight,
            "DesiredWeight": weight,
            "CurrentInstanceCount": count,
            "DesiredInstanceCount": count,
        }

    @staticmethod
    def _retire(variants: dict[str, VariantWorker], capture: DataCapture | None) -> None:
        if capture:
            capture.flush()
        for worker in variants.values():
            worker.close()

    def _set_status(self, live: LiveEndpoint, status: str) -> None:
        live.fake.endpoint_status = status
        live.fake.last_modified_time = _now()
        put_event(self.ctx, ENDPOINT_EVENT, live.fake.arn, self._detail(live, status))

    @staticmethod
    def _detail(live: LiveEndpoint, status: str) -> dict[str, Any]:
        detail = event_detail(live.fake.response_object)
        detail.pop("DataCaptureConfig", None)
        detail.pop("PendingDeploymentSummary", None)
        detail.pop("LastDeploymentConfig", None)
        detail["EndpointStatus"] = _EVENT_STATUS.get(status, status.upper())
        return detail

    # ---- invocation -------------------------------------------------------------------------

    def invoke(
        self, account: str, region: str, name: str, body: bytes, headers: Any
    ) -> tuple[int, dict[str, str], bytes | str]:
        received = time.perf_counter()
        live = self.get(account, region, name)
        if live is None:
            return _client_error(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        target = headers.get("X-Amzn-SageMaker-Target-Variant")
        content_type = headers.get("Content-Type") or "application/octet-stream"
        for _ in range(ROUTING_ATTEMPTS):
            routed = live.route(target)
            if routed is None:
                return _client_error(400, "ValidationError", f"Invalid target variant {target!r} for endpoint {name}.")
            worker, capture = routed
            accept = headers.get("Accept") or ""
            if accept in ("", "*/*"):
                accept = worker.environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "application/json")
            fault = self._faults.get((account, region, name, worker.name))
            model_started = time.perf_counter()
            if fault is not None and fault.latency_ms > 0:
                time.sleep(fault.latency_ms / 1000.0)
            if fault is not None and fault.fails():
                result: dict[str, Any] = {
                    "ok": False,
                    "status": FAULT_STATUS,
                    "error": "Internal Server Error (fault injected with `driftline local fault`)",
                }
                output = b""
            else:
                result, output = worker.invoke(body, content_type, accept)
            if not result.get("retired"):
                break  # else an update retired the variant after it was chosen: route the request again
        model_us = (time.perf_counter() - model_started) * 1e6
        model_status = 200 if result.get("ok") else int(result.get("status") or 500)
        response = self._respond(
            worker, capture, region, account, name, body, headers, content_type, accept, result, output
        )
        overhead_us = max(0.0, (time.perf_counter() - received) * 1e6 - model_us)
        instances = self._instances(live, worker.name, green=live.green.get(worker.name) is worker)
        self.metrics.record(account, region, name, worker.name, model_status, model_us, overhead_us, instances)
        return response

    @staticmethod
    def _instances(live: LiveEndpoint, variant: str, green: bool) -> int:
        summaries = live.fake.production_variants or []
        if green:
            summaries = (live.fake.pending_deployment_summary or {}).get("ProductionVariants") or []
        for summary in summaries:
            if summary.get("VariantName") == variant:
                return int(summary.get("CurrentInstanceCount") or summary.get("DesiredInstanceCount") or 1)
        return 1

    def _respond(
        self,
        worker: VariantWorker,
        capture: DataCapture | None,
        region: str,
        account: str,
        name: str,
        body: bytes,
        headers: Any,
        content_type: str,
        accept: str,
        result: dict[str, Any],
        output: bytes,
    ) -> tuple[int, dict[str, str], bytes | str]:
        variant_header = {"x-Amzn-Invoked-Production-Variant": worker.name}
        if not result.get("ok"):
            status = int(result.get("status") or 500)
            kind = "client" if 400 <= status < 500 else "server"
            original = result.get("error", "")
            message = (
                f'Received {kind} error ({status}) from primary with message "{original}". See '
                f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
                f"group=/aws/sagemaker/Endpoints/{name} in account {account} for more information."
            )
            error = {
                "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
                "Message": message,
                "OriginalStatusCode": status,
                "OriginalMessage": original,
                "LogStreamArn": f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{name}",
            }
            return (
                424,
                {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError", **variant_header},
                json.dumps(error),
            )
        output_type = result.get("content_type") or accept
        if capture:
            capture.record(
                worker.name,
                content_type,
                body,
                output_type,
                output,
                headers.get("X-Amzn-SageMaker-Inference-Id"),
            )
        return 200, {"Content-Type": output_type, **variant_header}, output


def _client_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    return (
        status,
        {"Content-Type": "application/json", "x-amzn-ErrorType": code},
        json.dumps({"message": message}),
    )


# ---- moto patches ---------------------------------------------------------------------------------

_HOST: EndpointHost | None = None


def host() -> EndpointHost:
    if _HOST is None:
        raise RuntimeError("driftline_local.sagemaker is not installed")
    return _HOST


def flush_data_capture() -> None:
    """Write every buffered capture record to S3 now (tests and demos need not wait for the timer)."""
    host().flush()


def flush_metrics() -> None:
    """Put every aggregated invocation metric into CloudWatch now, the current interval included."""
    host().metrics.flush(everything=True)


def set_fault(endpoint: str, variant: str, error_rate: float = 0.0, latency_ms: float = 0.0) -> dict[str, float]:
    """Make `variant` of `endpoint` fail a share `error_rate` of invocations and answer `latency_ms` later.

    Replaces any earlier fault on that variant and lasts until `clear_fault` (or DeleteEndpoint), across
    UpdateEndpoint to a config with a variant of the same name. ValueError for an unknown endpoint or
    variant, or values out of range. Returns the fault now in force.
    """
    endpoint_host = host()
    ctx = endpoint_host.ctx
    return endpoint_host.set_fault(ctx.account_id, ctx.region, endpoint, variant, error_rate, latency_ms)


def clear_fault(endpoint: str, variant: str) -> None:
    """Remove the fault on `variant` of `endpoint` (no-op when there is none)."""
    endpoint_host = host()
    endpoint_host.clear_fault(endpoint_host.ctx.account_id, endpoint_host.ctx.region, endpoint, variant)


def install(ctx: LocalCloudContext) -> EndpointHost:
    global _HOST
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import AWSValidationException, ValidationError
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    if _HOST is not None:
        _HOST.shutdown()
    endpoint_host = _HOST = EndpointHost(ctx)

    def original(cls: type, name: str) -> Any:
        method = getattr(cls, name, None)
        return getattr(method, "__wrapped__", method)

    create_original = original(SageMakerResponse, "create_endpoint")
    delete_original = original(SageMakerResponse, "delete_endpoint")

    def create_endpoint(self: Any) -> Any:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        if name in backend.endpoints:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        config_name = self._get_param("EndpointConfigName")
        if config_name not in backend.endpoint_configs:
            arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
        result = create_original(self)
        endpoint_host.create(backend, backend.endpoints[name])
        return result

    def update_endpoint(self: Any) -> Any:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        config_name = self._get_param("EndpointConfigName")
        fake = backend.endpoints.get(name)
        if fake is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Could not find endpoint "{arn}".')
        if config_name not in backend.endpoint_configs:
            arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
        if fake.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{fake.arn}".')
        deployment = self._get_param("DeploymentConfig")
        if not deployment and self._get_param("RetainDeploymentConfig"):
            deployment = getattr(fake, "last_deployment_config", None)
        plan: BlueGreenPlan | None = None
        if deployment:
            if deployment.get("RollingUpdatePolicy") and deployment.get("BlueGreenUpdatePolicy"):
                raise ValidationError(message="Only one update policy should be used in the deployment configuration.")
            if deployment.get("RollingUpdatePolicy"):
                LOG.warning(
                    "endpoint %s: RollingUpdatePolicy is not simulated locally; the update switches all traffic "
                    "once the new variants are up",
                    name,
                )
            else:
                variants = backend.endpoint_configs[config_name].production_variants
                instances = sum(int(v.get("InitialInstanceCount") or 1) for v in variants)
                try:
                    plan = blue_green_plan(deployment, instances)
                except ValueError as exc:
                    raise ValidationError(message=str(exc)) from exc
            fake.last_deployment_config = deployment
        retain: set[str] = set()
        if self._get_param("RetainAllVariantProperties"):
            excluded = {p.get("VariantPropertyType") for p in self._get_param("ExcludeRetainedVariantProperties") or []}
            retain = {"DesiredWeight", "DesiredInstanceCount", "DataCaptureConfig"} - excluded
        endpoint_host.update(backend, fake, config_name, retain, plan)
        return ActionResult({"EndpointArn": fake.arn})

    def delete_endpoint(self: Any) -> Any:
        name = self._get_param("EndpointName")
        result = delete_original(self)  # ValidationException when unknown
        endpoint_host.delete(self.sagemaker_backend, name)
        return result

    def update_endpoint_weights_and_capacities(self: Any) -> Any:
        backend = self.sagemaker_backend
        name = self._get_param("EndpointName")
        desired = self._get_param("DesiredWeightsAndCapacities") or []
        fake = backend.endpoints.get(name)
        if fake is None:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise AWSValidationException(f'Could not find endpoint "{arn}".')
        if fake.endpoint_status != "InService":
            raise AWSValidationException(f'Cannot update in-progress endpoint "{fake.arn}".')
        present = {v["VariantName"] for v in fake.production_variants}
        seen: set[str] = set()
        for change in desired:  # moto's messages
            variant = change.get("VariantName")
            if variant in seen:
                raise AWSValidationException(f'The variant name "{variant}" was non-unique within the request.')
            if variant not in present:
                raise AWSValidationException(
                    f'The variant name(s) "{variant}" is/are not present within endpoint configuration '
                    f'"{fake.endpoint_config_name}".'
                )
            seen.add(variant)
        live = endpoint_host._live.get((backend.account_id, backend.region_name, name))
        if live is None:
            live = LiveEndpoint(name, fake)
        endpoint_host.update_weights(live, desired)
        return ActionResult({"EndpointArn": fake.arn})

    def invoke_endpoint(self: Any) -> Any:
        name = self._get_params().get("EndpointName") or self.path.split("/")[2]
        body = self.raw_body if isinstance(self.raw_body, bytes) else (self.raw_body or "").encode("utf-8")
        status, headers, payload = endpoint_host.invoke(self.current_account, self.region, name, body, self.headers)
        return status, {**headers, "status": status}, payload  # moto reads the status from the headers

    for cls, name, function in (
        (SageMakerResponse, "create_endpoint", create_endpoint),
        (SageMakerResponse, "update_endpoint", update_endpoint),
        (SageMakerResponse, "delete_endpoint", delete_endpoint),
        (SageMakerResponse, "update_endpoint_weights_and_capacities", update_endpoint_weights_and_capacities),
        (SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint),
    ):
        previous = original(cls, name)
        if previous is not None:
            function.__wrapped__ = previous  # type: ignore[attr-defined]
        setattr(cls, name, function)

    def on_stop() -> None:
        ctx.stop_event.wait()
        endpoint_host.shutdown()

    threading.Thread(target=on_stop, name="sagemaker-endpoints-shutdown", daemon=True).start()
    return endpoint_host
