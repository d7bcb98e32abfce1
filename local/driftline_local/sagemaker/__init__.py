"""SageMaker execution for the local cloud: jobs, `.sync` integrations and endpoints.

`install(ctx)` is called once the moto server runs in this process (MOTO_PORT set). It patches moto
so that training and processing jobs really run (`jobs`), the Step Functions interpreter supports the
optimized SageMaker integrations (`sfn_integration`) and endpoints really serve models (`endpoints`).

Python API for the rest of the local cloud and for tests:
- `interrupt_training_job(name, notice_seconds, outcome)`: spot interruption of a running job;
- `set_fault(endpoint, variant, error_rate, latency_ms)` / `clear_fault(endpoint, variant)`: make a
  variant fail a share of its invocations and answer slower;
- `flush_data_capture()`: write buffered endpoint data capture to S3 now;
- `flush_metrics()`: put the aggregated endpoint invocation metrics into CloudWatch now;
- `jobs.runner().wait(kind, name, timeout)`: block until a job has ended.
- `transform.wait(name, timeout)` / `transform.requests_of(name)`: a batch transform job's end, and the
  request bodies its model received.

The same actions are offered on the control API (`driftline_local.control`), for the CLI:
`interrupt_training_job`, `set_endpoint_fault`, `clear_endpoint_fault`, `flush_endpoint_metrics`.
"""

import threading
from typing import Any

from driftline_local import api_shapes, control
from driftline_local.context import LocalCloudContext

from . import endpoints, jobs, request_checks, sfn_integration, transform, tuning
from .endpoints import clear_fault, flush_data_capture, flush_metrics, set_fault
from .jobs import interrupt_training_job

__all__ = [
    "clear_fault",
    "flush_data_capture",
    "flush_metrics",
    "install",
    "interrupt_training_job",
    "set_fault",
]


def install(ctx: LocalCloudContext) -> None:
    """Patch moto's SageMaker so jobs and endpoints really run."""
    (ctx.workdir / "jobs").mkdir(parents=True, exist_ok=True)
    jobs.install(ctx)
    tuning.install(ctx)  # tuning jobs run their trials through the job runner
    sfn_integration.install(ctx)
    endpoints.install(ctx)
    transform.install(ctx)  # batch transform jobs
    request_checks.install()  # last: SageMaker's model limits (lengths, enums, patterns) before any of the above
    threading.Thread(target=_load_request_shapes, name="sagemaker-shapes", daemon=True).start()
    control.register(ctx, "interrupt_training_job", lambda payload: _interrupt(ctx, payload))
    control.register(ctx, "set_endpoint_fault", _set_fault)
    control.register(ctx, "clear_endpoint_fault", _clear_fault)
    control.register(ctx, "flush_endpoint_metrics", lambda payload: flush_metrics())


def _load_request_shapes() -> None:
    """The request checks read botocore's SageMaker model (70-140 ms of CPU) on their first request: read it when
    the cloud starts, not in the middle of a run's first rollout (`CreateEndpointConfig`)."""
    for name in request_checks.CHECKED:
        operation = "".join(part.capitalize() for part in name.split("_"))
        try:
            api_shapes.problems("sagemaker", operation, {})
        except Exception:  # the request's own check reports any failure
            return


def _required(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key!r} is required")
    return value


def _number(payload: dict[str, Any], key: str, default: float) -> float:
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key!r} must be a number, not {value!r}")
    return float(value)


def _interrupt(ctx: LocalCloudContext, payload: dict[str, Any]) -> dict[str, Any]:
    from moto.sagemaker.models import FakeTrainingJob, sagemaker_backends

    name = _required(payload, "name")
    notice = _number(payload, "notice_seconds", 2.0)
    outcome = str(payload.get("outcome") or "max_wait_exceeded")
    fake = sagemaker_backends[ctx.account_id][ctx.region].training_jobs.get(name)
    if fake is None:
        arn = FakeTrainingJob.arn_formatter(name, ctx.account_id, ctx.region)
        raise ValueError(f"Requested resource not found: training job {arn} does not exist.")
    if fake.training_job_status != "InProgress":
        raise ValueError(
            f"Training job {name} is {fake.training_job_status}; only an InProgress job can be interrupted."
        )
    interrupt_training_job(name, notice, outcome)  # ValueError for an unknown outcome or a job that just ended
    return {"training_job": name, "notice_seconds": notice, "outcome": outcome}


def _set_fault(payload: dict[str, Any]) -> dict[str, Any]:
    endpoint, variant = _required(payload, "endpoint"), _required(payload, "variant")
    fault = set_fault(
        endpoint,
        variant,
        error_rate=_number(payload, "error_rate", 0.0),
        latency_ms=_number(payload, "latency_ms", 0.0),
    )
    return {"endpoint": endpoint, "variant": variant, **fault}


def _clear_fault(payload: dict[str, Any]) -> dict[str, Any]:
    endpoint, variant = _required(payload, "endpoint"), _required(payload, "variant")
    clear_fault(endpoint, variant)
    return {"endpoint": endpoint, "variant": variant, "error_rate": 0.0, "latency_ms": 0.0}
