"""Deploy steps: plan the model and endpoint config, then record what serves traffic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from driftline import aws, naming, state
from driftline.observability import logger
from driftline.pipeline import run_context
from driftline.registry import set_approval
from driftline.sagemaker_requests import endpoint_config_request, model_request


class DeployRequest(BaseModel):
    model: str
    run_id: str
    model_data_url: str
    model_package_arn: str | None = None


def plan_deployment(request: DeployRequest) -> dict[str, Any]:
    ctx = run_context(request.model, request.run_id)
    model = model_request(ctx, request.model_data_url)
    endpoint = naming.endpoint_name(request.model)
    return {
        "model": model,
        "endpoint_config": endpoint_config_request(ctx, model["ModelName"]),
        "endpoint_name": endpoint,
        "endpoint_exists": _endpoint_exists(endpoint),
        "poll_seconds": ctx.config.timings.endpoint_poll_seconds,
    }


def _endpoint_exists(name: str) -> bool:
    try:
        status = aws.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"]
    except Exception as exc:
        # SageMaker answers ValidationException "Could not find endpoint" for a missing endpoint.
        if aws.error_code(exc) in {"ValidationException", "ResourceNotFound"}:
            return False
        raise
    # An endpoint that failed to create cannot be updated; it is replaced instead.
    return status != "Failed"


def record_deployment(request: DeployRequest, endpoint_name: str, endpoint_config: str) -> dict[str, Any]:
    previous = state.get_production(request.model)
    state.put_production(
        request.model,
        run_id=request.run_id,
        model_data_url=request.model_data_url,
        model_package_arn=request.model_package_arn,
        endpoint_name=endpoint_name,
        endpoint_config=endpoint_config,
        deployed_at=datetime.now(UTC).isoformat(),
    )
    if request.model_package_arn:
        set_approval(request.model_package_arn, "Approved", f"serving on {endpoint_name}")
    state.update_run(request.model, request.run_id, status="DEPLOYED", endpoint_name=endpoint_name)
    logger.info("production model recorded", extra={"endpoint": endpoint_name, "run_id": request.run_id})
    return {
        "endpoint_name": endpoint_name,
        "previous_run_id": previous.get("run_id") if previous else None,
    }
