"""The model registry: one model package group per model, one package per run that passed the gate."""

from __future__ import annotations

from typing import Any

from driftline import aws, naming, state
from driftline.observability import logger
from driftline.pipeline import RunRef, run_context
from driftline.sagemaker_requests import inference_container


def register_model(ref: RunRef, model_data_url: str, evaluation_uri: str, metrics: dict[str, Any]) -> dict[str, Any]:
    ctx = run_context(ref.model, ref.run_id)
    sagemaker = aws.client("sagemaker")
    group = naming.model_package_group(ref.model)
    try:
        sagemaker.create_model_package_group(
            ModelPackageGroupName=group,
            ModelPackageGroupDescription=f"Driftline model '{ref.model}'",
        )
    except Exception as exc:
        if "exist" not in str(exc).lower():
            raise
    response = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=f"run {ref.run_id}",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [inference_container(ctx, model_data_url)],
            "SupportedContentTypes": ["text/csv", "application/json"],
            "SupportedResponseMIMETypes": ["application/json", "text/csv"],
        },
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": evaluation_uri}}},
        CustomerMetadataProperties={"run_id": ref.run_id, "trigger": ref.trigger}
        | {f"metric.{k}": f"{float(v):.6f}" for k, v in metrics.items() if v is not None},
    )
    arn = str(response["ModelPackageArn"])
    state.update_run(ref.model, ref.run_id, model_package_arn=arn, status="REGISTERED")
    logger.info("model registered", extra={"model_package_arn": arn})
    return {"model_package_arn": arn, "model_package_group": group}


def set_approval(model_package_arn: str, status: str, description: str) -> None:
    aws.client("sagemaker").update_model_package(
        ModelPackageArn=model_package_arn, ModelApprovalStatus=status, ApprovalDescription=description[:1000]
    )
