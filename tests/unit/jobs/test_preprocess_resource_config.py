"""A sharded stage (--stage statistics / encode) refuses to guess which host it is."""

from __future__ import annotations

import json
from pathlib import Path

from driftline_local.sample_data import generate_bank_marketing, write_csv


def _arguments(root: Path, *extra: str) -> list[str]:
    config = root / "config" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"name": "m", "problem_type": "binary_classification", "target": "y"}))
    write_csv(generate_bank_marketing(300, seed=5), root / "data" / "part-0.csv")
    return [
        "--config", str(config), "--data-dir", str(root / "data"), "--output-dir", str(root / "out"),
        "--exit-message", str(root / "message"), *extra,
    ]  # fmt: skip


def test_a_sharded_stage_without_sagemakers_resource_config_fails_and_says_why(tmp_path, harness):
    preprocess = harness.load_job_module("preprocess")
    missing = tmp_path / "no-such" / "resourceconfig.json"

    code = preprocess.main(_arguments(tmp_path, "--stage", "statistics", "--resource-config", str(missing)))

    assert code != 0
    assert str(missing) in (tmp_path / "message").read_text()
    assert not list((tmp_path / "out").rglob("*.json"))


def test_a_sharded_stage_names_its_statistics_after_its_host(tmp_path, harness):
    preprocess = harness.load_job_module("preprocess")
    resource = tmp_path / "resourceconfig.json"
    resource.write_text(json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))

    code = preprocess.main(_arguments(tmp_path, "--stage", "statistics", "--resource-config", str(resource)))

    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out" / "statistics").iterdir()) == ["algo-2-sample.csv", "algo-2.json"]
