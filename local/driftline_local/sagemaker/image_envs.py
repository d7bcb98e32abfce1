"""One Python environment per SageMaker framework image, chosen by the request's image URI.

On AWS a job runs inside its container image: only that image's packages are importable. The local
cloud mirrors that with one virtualenv per image, built by `make image-envs` from the image's pins in
`local/driftline_local/images/<image>.txt`, and picks it by the framework and version in the ECR URI
(`<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3` → `sklearn-1.4-2`).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PINS_DIR = Path(__file__).resolve().parents[1] / "images"

# ECR repository name → framework key used for the pins file and the environment's folder.
_REPOSITORIES = {"sagemaker-scikit-learn": "sklearn", "sagemaker-xgboost": "xgboost"}
_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+):(?P<tag>[A-Za-z0-9._-]+)$"
)
_VERSION = re.compile(r"^(?P<version>\d+\.\d+-\d+)(?:-(?:cpu|gpu))?(?:-py3\d*)?$")


class UnknownImage(ValueError):
    """The image URI names no SageMaker framework image the local cloud has an environment for."""


def image_name(image_uri: str) -> str:
    """`sklearn-1.4-2` for `...amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3`; UnknownImage otherwise."""
    match = _URI.match(image_uri or "")
    if not match or match["repository"] not in _REPOSITORIES:
        raise UnknownImage(f"Image {image_uri!r} is not a SageMaker framework image the local cloud knows")
    version = _VERSION.match(match["tag"])
    name = f"{_REPOSITORIES[match['repository']]}-{version['version']}" if version else ""
    if not version or not (PINS_DIR / f"{name}.txt").exists():
        raise UnknownImage(f"Image {image_uri!r}: no such tag in {match['repository']} known to the local cloud")
    return name


def envs_dir() -> Path:
    return Path(os.environ.get("DRIFTLINE_IMAGE_ENVS") or ROOT / ".image-envs")


def python_for_image(image_uri: str) -> str:
    """The interpreter of the image's environment (sys.executable while the environments are not built)."""
    try:
        name = image_name(image_uri)
    except UnknownImage:
        return sys.executable
    python = envs_dir() / name / "bin" / "python"
    return str(python) if python.exists() else sys.executable
