"""The local model server starts as the XGBoost image's serving stack does: xgboost (and scikit-learn through
it) are imported before the inference script, as serving.py -> encoder.py imports them in the container.

The jobs import xgboost without scikit-learn (jobs/_common.import_xgboost); an endpoint must still not start
cheaper locally than on AWS, where the stack pays that import before the first ping.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from driftline_local.sagemaker.image_envs import python_for_image
from driftline_local.sagemaker.model_server import worker_command

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
SCRIPT = """
import json, sys
AT_IMPORT = sorted(name for name in ("xgboost", "sklearn") if sys.modules.get(name) is not None)

def model_fn(model_dir):
    return AT_IMPORT

def transform_fn(model, body, content_type, accept):
    return json.dumps({"imported_before_the_script": model}), "application/json"
"""


def test_xgboost_and_scikit_learn_are_imported_before_the_inference_script(tmp_path: Path):
    code_dir, model_dir = tmp_path / "code", tmp_path / "model"
    code_dir.mkdir()
    model_dir.mkdir()
    (code_dir / "probe.py").write_text(SCRIPT)
    command = worker_command(python_for_image(XGBOOST_IMAGE), code_dir, model_dir, "probe.py")
    request = json.dumps({"headers": {"Content-Type": "text/csv"}, "length": 2}).encode() + b"\n1\n"
    done = subprocess.run(command, cwd=code_dir, input=request, capture_output=True, timeout=120)

    ready, answer_header, body = done.stdout.split(b"\n", 2)
    assert json.loads(ready)["ready"] is True, done.stderr.decode()
    assert json.loads(answer_header)["status"] == 200
    assert json.loads(body) == {"imported_before_the_script": ["sklearn", "xgboost"]}
