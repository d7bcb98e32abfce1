"""An image's serving stack (numpy, xgboost and scikit-learn through it) is imported once and shared by the
model servers of every variant on that image (`model_server.ServingStacks`); each server is still its own
process with its own environment, and a model whose environment must reach the interpreter at import gets
a fresh one."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .test_endpoint_serving_contract import _call, _endpoint, _script_model

PROBE_PY = """
import json, os, sys

def model_fn(model_dir):
    return {}

def transform_fn(model, content, content_type, accept):
    answer = {
        "pid": os.getpid(),
        "program": os.environ.get("SAGEMAKER_PROGRAM"),
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "stack_imported": "xgboost" in sys.modules and "sklearn" in sys.modules,
    }
    return json.dumps(answer), "application/json"
"""


def _shared_dirty_mib(pid: int) -> float:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Shared_Dirty:")) / 1024


def _probe(aws: Any, bucket: str, **environment: str) -> dict[str, Any]:
    endpoint = _endpoint(aws, _script_model(aws, bucket, PROBE_PY, **environment))
    _, body = _call(aws, endpoint, "1", ContentType="text/csv", Accept="application/json")
    return json.loads(body)


def test_model_servers_on_one_image_share_its_serving_stack_copy_on_write(aws):
    bucket = f"zygote-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=bucket)

    # Given two endpoints serving models on the same image
    first, second = _probe(aws, bucket), _probe(aws, bucket)

    # Then each has its own model server process, with the serving stack imported before its script
    assert first["pid"] != second["pid"]
    assert first["program"] == second["program"] == "serve.py"
    assert first["stack_imported"] and second["stack_imported"]
    # and the stack's memory is shared between them, not held twice (a fresh interpreter's is all private)
    assert _shared_dirty_mib(second["pid"]) >= 32


def test_a_model_whose_environment_reaches_the_interpreter_gets_a_fresh_one(aws):
    bucket = f"zygote-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=bucket)

    # Given a model that sets a thread count, which the serving stack's libraries read when they are imported
    served = _probe(aws, bucket, OMP_NUM_THREADS="1")

    # Then its server saw the variable from the start: it runs in an interpreter of its own
    assert served["threads"] == "1"
    assert served["stack_imported"]
    assert _shared_dirty_mib(served["pid"]) < 32
