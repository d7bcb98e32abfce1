"""A handler's init phase loads the layer modules its events use, not the ones only other handlers need.

Each case imports a handler's app.py in a fresh interpreter (as a Lambda cold start does) and reads which
driftline modules it loaded; bench/cold_start.py measures what that costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = os.environ | {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "DATA_BUCKET": "d",
    "ARTIFACT_BUCKET": "a",
    "STATE_TABLE": "t",
    "ON_CALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
    "PYTHONPATH": str(REPO / "layers" / "common"),
}
PROBE = "import sys, json; sys.path.insert(0, sys.argv[1]); import app; print(json.dumps(sorted(sys.modules)))"


def loaded(handler: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "functions" / handler)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize("handler", ["on_alarm", "start_monitoring", "watch_canary"])
def test_handlers_that_read_no_csv_and_judge_no_instance_skip_those_modules(handler: str) -> None:
    modules = loaded(handler)
    assert "driftline.config" in modules  # the probe did load the handler's chain
    assert not {"driftline.datasets", "driftline.sizing", "driftline.instance_types"} & modules


@pytest.mark.parametrize(
    ("handler", "module"), [("on_data_uploaded", "driftline.datasets"), ("report_run", "driftline.sizing")]
)
def test_handlers_that_use_them_still_load_them_at_init(handler: str, module: str) -> None:
    assert module in loaded(handler)
