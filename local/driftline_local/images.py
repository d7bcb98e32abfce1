"""Container image URIs for the stack parameters, resolved offline by the SageMaker SDK."""

from __future__ import annotations

XGBOOST_VERSION = "3.2-0"  # training and hosting; local runs use xgboost-cpu==3.2.0
SKLEARN_VERSION = "1.4-2"  # processing


def resolve_image_uris(region: str) -> dict[str, str]:
    """`TrainingImageUri` and `ProcessingImageUri` for `region` (no network; ~3 s to import)."""
    from sagemaker.core import image_uris  # slow import: only when asked

    return {
        "TrainingImageUri": image_uris.retrieve("xgboost", region=region, version=XGBOOST_VERSION),
        "ProcessingImageUri": image_uris.retrieve(
            "sklearn", region=region, version=SKLEARN_VERSION, instance_type="ml.m5.large"
        ),
    }
