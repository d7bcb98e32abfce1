"""The definitions `make validate` sends to Step Functions' validator are the deployed ones, fully substituted."""

from __future__ import annotations

import json

import pytest
from driftline_local.validate_asl import REPO_ROOT, substituted

ASL_FILES = sorted((REPO_ROOT / "statemachines").glob("*.asl.json"))


@pytest.mark.parametrize("path", ASL_FILES, ids=[p.name for p in ASL_FILES])
def test_every_substitution_becomes_a_well_formed_arn(path):
    text = substituted(path, "eu-west-1")

    assert "${" not in text
    definition = json.loads(text)
    resources = [
        s["Parameters"]["FunctionName"]
        for s in definition["States"].values()
        if isinstance(s.get("Parameters"), dict) and "FunctionName" in s["Parameters"]
    ]
    assert resources and all(r.startswith("arn:aws:lambda:eu-west-1:") for r in resources)
