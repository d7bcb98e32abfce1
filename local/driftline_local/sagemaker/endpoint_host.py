"""The live endpoints of the local cloud: their lifecycle, updates and invocations.

moto marks an endpoint InService at once and `sagemaker-runtime InvokeEndpoint` returns canned data; here
every production variant is a real model server (`model_server.VariantWorker`).

- CreateEndpoint: Creating -> InService, or Failed with FailureReason when a model cannot load.
- UpdateEndpoint: Updating; the old variants serve until the new ones are loaded, then traffic switches;
  DescribeEndpoint shows the old config with the new one under PendingDeploymentSummary until then. If the
  new config cannot load, the endpoint returns to InService on the old config with FailureReason set.
  RetainAllVariantProperties keeps the current weights, instance counts and data capture of same-named
  variants (minus ExcludeRetainedVariantProperties).
- UpdateEndpoint with a DeploymentConfig: the blue/green plan of `deployments.py`, step by step; any
  AutoRollbackConfiguration alarm in ALARM, or MaximumExecutionTimeoutInSeconds passing, rolls back:
  RollingBack, all requests to blue, green retired, InService on the old config with FailureReason.
  Otherwise blue is retired TerminationWaitInSeconds after the last bake. PendingDeploymentSummary shows
  the green variants' VariantStatus (Creating, ActivatingTraffic, Baking with the step in StatusMessage,
  Deleting); LastDeploymentConfig the DeploymentConfig. RollingUpdatePolicy is not simulated.
- UpdateEndpointWeightsAndCapacities: Updating with the new DesiredWeight/DesiredInstanceCount while traffic
  still follows CurrentWeight; after `WEIGHTS_UPDATE_SECONDS` the current values become the desired ones.
- DeleteEndpoint: workers stop, buffered capture is flushed.
- InvokeEndpoint: routed by `routing.LiveEndpoint`; the request's Content-Type and Accept go to the model
  server as they came; a 2xx answer comes back with the container's Content-Type, anything else as
  ModelError (`invocation.model_error`). A request routed to a variant being retired is routed again.
- A `SageMaker Endpoint State Change` event goes onto the default bus at every status change, with
  EndpointStatus spelled as AWS's published sample spells it (ROLLING_BACK is our guess).
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from driftline_local.context import LocalCloudContext

from ._aws import LOG, event_detail, put_event
from .data_capture import CAPTURE_FLUSH_SECONDS, DataCapture
from .deployments import (
    ALARM_POLL_SECONDS,
    Abandoned,
    BlueGreenPlan,
    RollBack,
    alarms_in_alarm,
    evaluate_alarms,
)
from .invocation import client_error, model_error
from .invocation_metrics import InvocationMetrics
from .model_server import DeployFailed, VariantWorker
from .routing import Fault, LiveEndpoint

ENDPOINT_EVENT = "SageMaker Endpoint State Change"
WEIGHTS_UPDATE_SECONDS = 0.5
ROUTING_ATTEMPTS = 3  # routings of one request that found its variant retired by an update
FAULT_STATUS = 500  # what a faulted container answers
_EVENT_STATUS = {
    "Creating": "CREATING",
    "InService": "IN_SERVICE",
    "Updating": "UPDATING",
    "Failed": "FAILED",
    "Deleting": "DELETING",
    "RollingBack": "ROLLING_BACK",
}


def _now() -> datetime:
    return datetime.now(UTC)


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
            self._start_variants(backend, live, backend.endpoint_configs[config_name].production_variants, started)
        except Exception as exc:
            self._deploy_failed(live, exc, is_update, generation, [started])
            return None
        if live.deleted or generation != live.generation:
            self._retire(started, None)
            return None
        return started

    def _start_variants(
        self, backend: Any, live: LiveEndpoint, variants: list[dict[str, Any]], started: dict[str, VariantWorker]
    ) -> None:
        """Start a worker for each of `variants`, adding each to `started` before it starts (so that a failure
        can retire those already started); raises DeployFailed for a model that does not exist."""
        for variant in variants:
            model = backend._models.get(variant["ModelName"])
            if model is None:
                raise DeployFailed(f'Could not find model "{variant["ModelName"]}".')
            sandbox = self.ctx.workdir / "endpoints" / live.name / f"{variant['VariantName']}-{uuid.uuid4().hex[:8]}"
            worker = VariantWorker(self.ctx, sandbox, variant, model)
            started[worker.name] = worker
            worker.start()

    def _deploy_failed(
        self,
        live: LiveEndpoint,
        exc: Exception,
        is_update: bool,
        generation: int,
        fleets: list[dict[str, VariantWorker]],
        what: str = "",
    ) -> None:
        """A deployment's workers could not all start (`exc`): retire `fleets`; unless the endpoint went away or
        moved on, it is InService on its current variants with FailureReason (an update), or Failed."""
        reason = str(exc) if isinstance(exc, DeployFailed) else f"InternalServerError: {exc}"
        LOG.warning("endpoint %s: %s%s", live.name, what, reason)
        for fleet in fleets:
            self._retire(fleet, None)
        if live.deleted or generation != live.generation:
            return
        live.fake.failure_reason = reason[:1024]
        live.fake.pending_deployment_summary = None
        self._set_status(live, "InService" if is_update and live.variants else "Failed")

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
        except Abandoned:
            live.green_share = 0.0
            self._retire(green, live.green_capture)
            live.green, live.green_capture = {}, None
            return
        except Exception as exc:
            cause = str(exc) if isinstance(exc, RollBack) else f"InternalServerError: {exc}"
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
        """Watch the auto-rollback alarms for WaitIntervalInSeconds of cloud time; RollBack when one is in ALARM."""
        end = time.monotonic() + self.ctx.scaled(plan.wait_seconds)
        while True:
            last = time.monotonic() >= end
            if last:
                evaluate_alarms()  # judge the latest complete period now, not at the evaluator's next tick
            firing = alarms_in_alarm(backend.account_id, backend.region_name, plan.alarms)
            if firing:
                raise RollBack(f"Auto-rollback alarm(s) {', '.join(firing)} went into ALARM while baking {step}.")
            if time.monotonic() > deadline:
                raise RollBack(
                    f"The deployment did not complete within MaximumExecutionTimeoutInSeconds "
                    f"({plan.timeout_seconds:g} s); it was baking {step}."
                )
            if last:
                return
            self._wait(live, generation, min(ALARM_POLL_SECONDS, max(0.0, end - time.monotonic())))

    def _wait(self, live: LiveEndpoint, generation: int, seconds: float) -> None:
        if self._stopped.wait(seconds) or live.deleted or generation != live.generation:
            raise Abandoned()

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
            return client_error(400, "ValidationError", f"Endpoint {name} of account {account} not found.")
        target = headers.get("X-Amzn-SageMaker-Target-Variant")
        forwarded = {key: headers[key] for key in ("Content-Type", "Accept") if headers.get(key)}
        for _ in range(ROUTING_ATTEMPTS):
            routed = live.route(target)
            if routed is None:
                return client_error(400, "ValidationError", f"Invalid target variant {target!r} for endpoint {name}.")
            worker, capture = routed
            fault = self._faults.get((account, region, name, worker.name))
            model_started = time.perf_counter()
            if fault is not None and fault.latency_ms > 0:
                time.sleep(fault.latency_ms / 1000.0)
            if fault is not None and fault.fails():
                answer: dict[str, Any] = {"status": FAULT_STATUS}
                output = b"Internal Server Error (fault injected with `driftline local fault`)"
            else:
                answer, output = worker.invoke(body, forwarded)
            if not answer.get("retired"):
                break  # else an update retired the variant after it was chosen: route the request again
        model_us = (time.perf_counter() - model_started) * 1e6
        status = int(answer.get("status") or 500)
        variant_header = {"x-Amzn-Invoked-Production-Variant": worker.name}
        if 200 <= status < 300:
            output_type = answer.get("content_type") or ""
            if capture:
                input_type = headers.get("Content-Type") or "application/octet-stream"
                inference_id = headers.get("X-Amzn-SageMaker-Inference-Id")
                capture.record(worker.name, input_type, body, output_type, output, inference_id)
            response: tuple[int, dict[str, str], bytes | str] = (
                200,
                {"Content-Type": output_type, **variant_header},
                output,
            )
        else:
            message = answer.get("error") or output.decode("utf-8", "replace")
            response = model_error(status, message, region, account, name, variant_header)
        overhead_us = max(0.0, (time.perf_counter() - received) * 1e6 - model_us)
        instances = self._instances(live, worker.name, green=live.green.get(worker.name) is worker)
        self.metrics.record(account, region, name, worker.name, status, model_us, overhead_us, instances)
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
