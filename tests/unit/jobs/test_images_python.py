"""Each job script is written for the Python of the image its SageMaker request runs it on.

The scripts and images come from the request builders themselves (what the state machines send), so
moving a job to another image re-targets its check. vermin reads the code statically: it catches
`from datetime import UTC` (3.11) in a script the scikit-learn 1.4-2 image runs on Python 3.10 even
where the local image environment had to be built on another Python.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from driftline.config import ModelConfig
from driftline.sagemaker_requests import (
    RunContext,
    evaluation_request,
    model_request,
    monitor_request,
    preprocess_request,
    quality_request,
    training_request,
)
from driftline_local.sagemaker.image_envs import image_name, image_python_version

JOBS = Path(__file__).resolve().parents[3] / "jobs"
# What `driftline images` resolves (driftline_local.images.resolve_image_uris) for us-east-1
TRAINING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
PROCESSING_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
VERMIN = "import sys, vermin; sys.exit(vermin.main())"  # its CLI, in this interpreter (no `python -m vermin`)


def _requests() -> list[dict[str, Any]]:
    config = ModelConfig.model_validate({"name": "churn", "problem_type": "binary_classification", "target": "y"})
    ctx = RunContext(
        config=config,
        run_id="churn-20260101T000000Z",
        data_bucket="data",
        artifact_bucket="artifacts",
        role_arn="arn:aws:iam::123456789012:role/sagemaker",
        training_image=TRAINING_IMAGE,
        processing_image=PROCESSING_IMAGE,
    )
    model = "s3://artifacts/churn/runs/r/model/model.tar.gz"
    return [
        preprocess_request(ctx),
        training_request(ctx),
        evaluation_request(ctx, model, model),
        model_request(ctx, model),
        monitor_request(ctx, "churn-monitor", "s3://artifacts/churn/monitoring/", ["s3://artifacts/c/"], ("a", "b")),
        quality_request(
            ctx,
            "churn-quality",
            "s3://artifacts/churn/monitoring/q/",
            ["s3://artifacts/c/"],
            "s3://data/labels/churn/",
            ("a", "b"),
        ),
    ]


def _script_and_image(request: dict[str, Any]) -> tuple[str, str]:
    if "AppSpecification" in request:  # processing: python3 /opt/ml/processing/input/code/<script>
        app = request["AppSpecification"]
        return Path(app["ContainerEntrypoint"][-1]).name, app["ImageUri"]
    if "AlgorithmSpecification" in request:  # training, script mode
        return json.loads(request["HyperParameters"]["sagemaker_program"]), request["AlgorithmSpecification"][
            "TrainingImage"
        ]
    container = request["PrimaryContainer"]  # hosting, script mode
    return container["Environment"]["SAGEMAKER_PROGRAM"], container["Image"]


def _local_imports(script: str) -> set[str]:
    """The script and the jobs/ modules it imports, transitively (they ship in the same sourcedir)."""
    seen: set[str] = set()
    todo = [script]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((JOBS / name).read_text())):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            todo += [f"{m}.py" for m in modules if (JOBS / f"{m}.py").is_file()]
    return seen


def _scripts_by_python() -> dict[str, set[str]]:
    by_python: dict[str, set[str]] = {}
    for request in _requests():
        script, image = _script_and_image(request)
        python = image_python_version(image_name(image))
        by_python.setdefault(python, set()).update(_local_imports(script))
    return by_python


def test_the_images_pythons_are_the_recorded_ones():
    assert image_python_version(image_name(PROCESSING_IMAGE)) == "3.10"
    assert image_python_version(image_name(TRAINING_IMAGE)) == "3.12"


def test_every_job_script_runs_on_some_image():
    covered = set().union(*_scripts_by_python().values())
    assert covered == {path.name for path in JOBS.glob("*.py")}


def test_the_job_tests_run_each_script_on_its_production_image(harness):
    production = dict(_script_and_image(request) for request in _requests())
    assert {script: production[script] for script in harness.SCRIPT_IMAGES} == harness.SCRIPT_IMAGES


@pytest.mark.parametrize("python", sorted(_scripts_by_python()))
def test_job_scripts_need_no_newer_python_than_their_image_has(python: str):
    # Given the scripts (and the jobs/ modules they import) that run on an image with this Python
    scripts = sorted(_scripts_by_python()[python])

    # When vermin checks them against it
    result = subprocess.run(
        [sys.executable, "-c", VERMIN, "--no-tips", "--violations", f"-t={python}-", *scripts],
        cwd=JOBS,
        capture_output=True,
        text=True,
        check=False,
    )

    # Then nothing needs a newer Python
    assert result.returncode == 0, f"needs a Python newer than {python}:\n{result.stdout}{result.stderr}"
