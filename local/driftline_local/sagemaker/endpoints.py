"""SageMaker endpoints that really host models: moto's endpoint APIs patched onto the local cloud's host.

moto marks an endpoint InService at once and `sagemaker-runtime InvokeEndpoint` returns canned data. This
module patches CreateEndpoint, UpdateEndpoint, DeleteEndpoint, UpdateEndpointWeightsAndCapacities and
InvokeEndpoint (validating as SageMaker does) onto one `EndpointHost`, and offers the controls tests and
the CLI use (`flush_data_capture`, `flush_metrics`, `set_fault`, `clear_fault`). The work is split by
responsibility:

- `endpoint_host.py`: endpoint lifecycle, UpdateEndpoint (plain and blue/green), invocations;
- `deployments.py`: DeploymentConfig plans and their auto-rollback alarms;
- `routing.py`: which variant answers a request; injected faults;
- `model_server.py` + `_inference_worker.py` + `_serving_contract.py`: a variant's model server, which
  answers as the XGBoost container's serving stack does (content types, statuses, Accept);
- `invocation.py`: ModelError and client errors as sagemaker-runtime reports them;
- `data_capture.py`: SageMaker's capture records in S3;
- `invocation_metrics.py`: AWS/SageMaker invocation metrics in CloudWatch;
- `shadow.py`: shadow variants (ShadowProductionVariants): hosted beside production, sent a copy of every request.

Faults (`set_fault` / `clear_fault`, `driftline local fault`): a faulted variant answers a share
`error_rate` of its invocations with a container error (ModelError, OriginalStatusCode 500, counted in
Invocation5XXErrors) and adds `latency_ms` to every invocation (counted in ModelLatency).
"""

from __future__ import annotations

import threading
from typing import Any

from driftline_local.context import LocalCloudContext

from ._aws import LOG
from .deployments import BlueGreenPlan, blue_green_plan
from .endpoint_host import EndpointHost
from .routing import LiveEndpoint
from .shadow import ShadowEndpointHost
from .shadow import install as install_shadow_variants

__all__ = ["EndpointHost", "clear_fault", "flush_data_capture", "flush_metrics", "host", "install", "set_fault"]


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
    endpoint_host = _HOST = ShadowEndpointHost(ctx)
    install_shadow_variants(endpoint_host)

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
