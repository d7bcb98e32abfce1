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


def resolve_image_uris_in_child(region: str) -> dict[str, str]:
    """`resolve_image_uris` in a short-lived child process, for long-lived callers such as the local cloud.

    The SageMaker SDK that resolves the URIs imports pandas, NumPy, SciPy and rich (about 110 MiB resident),
    which would otherwise stay in the caller's process for nothing."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys; from driftline_local.images import resolve_image_uris as r; "
        "print(json.dumps(r(sys.argv[1])))"
    )
    out = subprocess.run([sys.executable, "-c", code, region], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout))
