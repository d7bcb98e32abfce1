"""Shadow variants (`ShadowProductionVariants` in CreateEndpointConfig): a copy of every request, no answer back.

moto drops ShadowProductionVariants. Here:
- CreateEndpointConfig keeps them (DescribeEndpointConfig returns them) and refuses what SageMaker refuses: with a
  shadow variant, exactly one production variant and one shadow variant (the API reference's "If you use this
  field, you can only specify one variant for ProductionVariants and one variant for ShadowProductionVariants"),
  variant names unique across both lists.
- An endpoint on such a config starts a model server for the shadow variant with the production fleet (the
  endpoint is InService only when both serve; a shadow that cannot load fails the deployment like a production
  variant would); DescribeEndpoint lists it under ShadowProductionVariants.
- InvokeEndpoint: production answers the caller exactly as before; then the request is mirrored to the shadow
  variant on a background thread. The shadow's answer, error or latency never reaches the caller. Its invocation
  metrics go to AWS/SageMaker under its own VariantName (as the shadow test dashboard reads them), and with data
  capture on, its answers are captured beside production's under `<DestinationS3Uri>/<endpoint>/<shadow variant>/`.
- `set_fault` works on a shadow variant: its mirrored requests fail or slow down, its callers see nothing.
Not simulated: a traffic sampling share below 100 % (every request is mirrored).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftline_local.context import LocalCloudContext

from ._aws import LOG
from .endpoint_host import FAULT_STATUS, EndpointHost
from .model_server import VariantWorker
from .routing import LiveEndpoint

MIRROR_THREADS = 2


def shadow_variants(config: Any) -> list[dict[str, Any]]:
    """The ShadowProductionVariants of a moto endpoint config ([] for none)."""
    return list(getattr(config, "shadow_production_variants", None) or [])


def validate(production: list[dict[str, Any]], shadow: list[dict[str, Any]]) -> str | None:
    """What SageMaker says about this pair of variant lists, or None when it accepts them."""
    if not shadow:
        return None
    if len(production) != 1 or len(shadow) != 1:
        return (
            "When ShadowProductionVariants is specified, ProductionVariants and ShadowProductionVariants must each "
            f"have exactly one variant (got {len(production)} and {len(shadow)})."
        )
    names = [v.get("VariantName") for v in [*production, *shadow]]
    if len(set(names)) != len(names):
        return f"Variant names must be unique across ProductionVariants and ShadowProductionVariants: {names}."
    return None


class ShadowEndpointHost(EndpointHost):
    """EndpointHost whose endpoints also host their config's shadow variant and mirror requests to it."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        super().__init__(ctx)
        self._pending_shadows: dict[int, dict[str, VariantWorker]] = {}  # id(production fleet) -> its shadow
        self._mirror = ThreadPoolExecutor(MIRROR_THREADS, thread_name_prefix="sagemaker-shadow")
        self._shadow_instances: dict[int, int] = {}  # id(shadow worker) -> its InitialInstanceCount
        self.mirrored = 0  # requests a shadow variant answered (or failed): for tests and benches

    # ---- lifecycle: the shadow fleet starts, switches and retires with its production fleet --------------

    def _start_fleet(
        self, backend: Any, live: LiveEndpoint, config_name: str, is_update: bool, generation: int
    ) -> dict[str, VariantWorker] | None:
        started = super()._start_fleet(backend, live, config_name, is_update, generation)
        if started is None:
            return None
        shadows: dict[str, VariantWorker] = {}
        try:
            variants = shadow_variants(backend.endpoint_configs[config_name])
            self._start_variants(backend, live, variants, shadows)
        except Exception as exc:
            self._deploy_failed(live, exc, is_update, generation, [shadows, started], "shadow variant: ")
            return None
        for variant in variants:
            self._shadow_instances[id(shadows[variant["VariantName"]])] = int(variant.get("InitialInstanceCount") or 1)
        self._pending_shadows[id(started)] = shadows
        return started

    def _switch(
        self,
        live: LiveEndpoint,
        config_name: str,
        config: Any,
        started: dict[str, VariantWorker],
        retain: set[str],
        capture_config: dict[str, Any],
        capture: Any,
    ) -> None:
        old = live.shadow
        live.shadow = self._pending_shadows.pop(id(started), {})
        super()._switch(live, config_name, config, started, retain, capture_config, capture)
        self._retire_workers(old)

    def _retire(self, variants: dict[str, VariantWorker], capture: Any) -> None:  # type: ignore[override]
        # A production fleet retired before it served (failed, rolled back, abandoned) takes its shadow with it.
        self._retire_workers(self._pending_shadows.pop(id(variants), {}))
        EndpointHost._retire(variants, capture)

    @staticmethod
    def _retire_workers(workers: dict[str, VariantWorker]) -> None:
        for worker in workers.values():
            worker.close()

    def delete(self, backend: Any, name: str) -> None:
        live = self._live.get((backend.account_id, backend.region_name, name))
        super().delete(backend, name)
        if live is not None:
            shadow, live.shadow = live.shadow, {}
            self._retire_workers(shadow)

    def shutdown(self) -> None:
        lives = list(self._live.values())
        super().shutdown()
        self._mirror.shutdown(wait=False, cancel_futures=True)
        for live in lives:
            shadow, live.shadow = live.shadow, {}
            self._retire_workers(shadow)

    def _known_variant(self, account: str, region: str, endpoint: str, variant: str) -> None:
        try:
            super()._known_variant(account, region, endpoint, variant)
        except ValueError:
            live = self._live.get((account, region, endpoint))
            pending = [w for fleet in self._pending_shadows.values() for w in fleet.values()]
            if not (live and variant in live.shadow) and variant not in {w.name for w in pending}:
                raise

    # ---- invocation: production answers, the shadow gets a copy --------------------------------------

    def invoke(
        self, account: str, region: str, name: str, body: bytes, headers: Any
    ) -> tuple[int, dict[str, str], bytes | str]:
        response = super().invoke(account, region, name, body, headers)
        live = self.get(account, region, name)
        if live is None or not live.shadow or response[1].get("x-amzn-ErrorType") == "ValidationError":
            return response  # no shadow, or a request SageMaker refused before any variant saw it
        copied = {
            "Content-Type": headers.get("Content-Type"),
            "Accept": headers.get("Accept"),
            "X-Amzn-SageMaker-Inference-Id": headers.get("X-Amzn-SageMaker-Inference-Id"),
        }
        for worker in list(live.shadow.values()):
            try:
                self._mirror.submit(self._answer_copy, account, region, live, worker, body, copied)
            except RuntimeError:  # shutting down
                break
        return response

    def _answer_copy(
        self,
        account: str,
        region: str,
        live: LiveEndpoint,
        worker: VariantWorker,
        body: bytes,
        headers: dict[str, str | None],
    ) -> None:
        try:
            forwarded = {key: value for key in ("Content-Type", "Accept") if (value := headers.get(key))}
            fault = self._faults.get((account, region, live.name, worker.name))
            started = time.perf_counter()
            if fault is not None and fault.latency_ms > 0:
                time.sleep(fault.latency_ms / 1000.0)
            if fault is not None and fault.fails():
                answer: dict[str, Any] = {"status": FAULT_STATUS}
                output = b""
            else:
                answer, output = worker.invoke(body, forwarded)
            if answer.get("retired"):
                return  # an update retired the shadow while the copy waited: SageMaker drops it too
            model_us = (time.perf_counter() - started) * 1e6
            status = int(answer.get("status") or 500)
            capture = live.capture
            if 200 <= status < 300 and capture is not None:
                input_type = headers.get("Content-Type") or "application/octet-stream"
                output_type = answer.get("content_type") or ""
                capture.record(
                    worker.name, input_type, body, output_type, output, headers.get("X-Amzn-SageMaker-Inference-Id")
                )
            instances = self._shadow_instances.get(id(worker), 1)
            self.metrics.record(account, region, live.name, worker.name, status, model_us, 0.0, instances)
            with _COUNT_LOCK:
                self.mirrored += 1
        except Exception:  # a shadow's failure is never the caller's, nor the mirror thread's end
            LOG.exception("endpoint %s: mirroring to shadow variant %s failed", live.name, worker.name)


_COUNT_LOCK = threading.Lock()


# ---- moto: endpoint configs keep their shadow variants; DescribeEndpoint shows them ----------------------


def install(endpoint_host: EndpointHost) -> None:
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpointConfig, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def original(cls: type, name: str) -> Any:
        method = getattr(cls, name, None)
        return getattr(method, "__wrapped__", method)

    create_config = original(SageMakerResponse, "create_endpoint_config")
    describe_config = original(SageMakerModelBackend, "describe_endpoint_config")
    describe = original(SageMakerModelBackend, "describe_endpoint")

    def create_endpoint_config(self: Any) -> Any:
        shadow = self._get_param("ShadowProductionVariants") or []
        problem = validate(self._get_param("ProductionVariants") or [], shadow)
        if problem:
            raise ValidationError(message=problem)
        if shadow:
            # moto's instance type / serverless checks, as for ProductionVariants
            checker: Any = FakeEndpointConfig.__new__(FakeEndpointConfig)
            checker.validate_production_variants(shadow)
        result = create_config(self)
        config = self.sagemaker_backend.endpoint_configs[self._get_param("EndpointConfigName")]
        config.shadow_production_variants = shadow
        return result

    def describe_endpoint_config(self: Any, endpoint_config_name: str) -> dict[str, Any]:
        response = dict(describe_config(self, endpoint_config_name))
        shadow = shadow_variants(self.endpoint_configs[endpoint_config_name])
        if shadow:
            response["ShadowProductionVariants"] = shadow
        return response

    def describe_endpoint(self: Any, endpoint_name: str) -> dict[str, Any]:
        response = dict(describe(self, endpoint_name))
        fake = self.endpoints[endpoint_name]
        config = self.endpoint_configs.get(fake.endpoint_config_name)
        shadow = shadow_variants(config) if config is not None else []
        live = endpoint_host._live.get((self.account_id, self.region_name, endpoint_name))
        if shadow and live is not None and live.shadow:
            response["ShadowProductionVariants"] = [_summary(v, live.shadow.get(v["VariantName"])) for v in shadow]
        return response

    for cls, name, function in (
        (SageMakerResponse, "create_endpoint_config", create_endpoint_config),
        (SageMakerModelBackend, "describe_endpoint_config", describe_endpoint_config),
        (SageMakerModelBackend, "describe_endpoint", describe_endpoint),
    ):
        previous = original(cls, name)
        if previous is not None:
            setattr(function, "__wrapped__", previous)  # noqa: B010
        setattr(cls, name, function)


def _summary(variant: dict[str, Any], worker: VariantWorker | None) -> dict[str, Any]:
    weight = float(variant.get("InitialVariantWeight", 1.0))
    count = int(variant.get("InitialInstanceCount", 1))
    image = worker.image if worker is not None else ""
    return {
        "VariantName": variant["VariantName"],
        "DeployedImages": [{"SpecifiedImage": image, "ResolvedImage": image}],
        "CurrentWeight": weight,
        "DesiredWeight": weight,
        "CurrentInstanceCount": count,
        "DesiredInstanceCount": count,
    }
