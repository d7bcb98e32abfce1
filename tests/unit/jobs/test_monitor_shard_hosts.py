"""monitor.py --stage partial on SageMaker's hosts: it refuses to guess which host it is, and a host whose
ShardedByS3Key share holds no capture object still writes its (empty) partial, which the merge adds as nothing."""

from __future__ import annotations

import json
from pathlib import Path

from driftline_local.sample_data import generate_bank_marketing


def write_capture(root: Path, seed: int, files: int = 4) -> None:
    """A drifted window's CSV requests as SageMaker capture files (one hour folder, one file per minute)."""
    window = generate_bank_marketing(1200, seed=seed, shift=0.6).drop(columns=["y", "duration"])
    step = len(window) // files
    for number in range(files):
        rows = window.iloc[number * step : (number + 1) * step].to_csv(header=False, index=False).splitlines()
        lines = [
            json.dumps(
                {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": row,
                            "encoding": "CSV",
                        }
                    },
                    "eventMetadata": {"eventId": f"e{number}"},
                    "eventVersion": "0",
                }
            )
            for row in rows
        ]
        path = root / f"2026/01/01/00/{number:02d}-00-000-f{number}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


def _common(root: Path) -> list[str]:
    (root / "baseline").mkdir(parents=True)
    frame = generate_bank_marketing(2000, seed=1).drop(columns=["y", "duration"])
    frame.to_csv(root / "baseline" / "baseline.csv", index=False)
    (root / "config.json").write_text(json.dumps({"monitoring": {"min_records": 50}}))
    return ["--baseline-dir", str(root / "baseline"), "--config", str(root / "config.json")]


def _resource_config(root: Path, host: str) -> str:
    path = root / f"rc-{host}.json"
    path.write_text(json.dumps({"current_host": host, "hosts": ["algo-1", "algo-2"]}))
    return str(path)


def test_a_partial_stage_without_sagemakers_resource_config_fails_and_says_why(tmp_path, harness):
    monitor = harness.load_job_module("monitor")
    missing = tmp_path / "no-such" / "resourceconfig.json"
    write_capture(tmp_path / "capture", seed=2)

    arguments = ["--stage", "partial", "--resource-config", str(missing), "--capture-dir", str(tmp_path / "capture")]
    arguments += ["--output-dir", str(tmp_path / "out"), "--exit-message", str(tmp_path / "message")]

    code = monitor.main([*_common(tmp_path), *arguments])

    assert code != 0
    assert str(missing) in (tmp_path / "message").read_text()
    assert not (tmp_path / "out" / "partials").exists()


def test_a_partial_stage_whose_resource_config_does_not_name_this_host_among_its_hosts_fails(tmp_path, harness):
    monitor = harness.load_job_module("monitor")
    broken = tmp_path / "resourceconfig.json"
    broken.write_text(json.dumps({"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]}))
    write_capture(tmp_path / "capture", seed=2)

    arguments = ["--stage", "partial", "--resource-config", str(broken), "--capture-dir", str(tmp_path / "capture")]
    arguments += ["--output-dir", str(tmp_path / "out"), "--exit-message", str(tmp_path / "message")]

    # it used to trust any current_host (and call itself algo-1 when the file could not be read)
    assert monitor.main([*_common(tmp_path), *arguments]) != 0
    assert "not one of its hosts" in (tmp_path / "message").read_text()
    assert not (tmp_path / "out" / "partials").exists()


def test_a_host_with_an_empty_shard_adds_nothing_to_the_merge(tmp_path, harness):
    monitor = harness.load_job_module("monitor")
    common = _common(tmp_path)
    write_capture(tmp_path / "capture", seed=2)
    # algo-1 got every capture object, algo-2 none (fewer objects in a channel than instances): SageMaker gives
    # it no files, maybe not even the channel's directory
    runs = {"algo-1": tmp_path / "capture", "algo-2": tmp_path / "no-objects-here"}

    whole = ["--capture-dir", str(tmp_path / "capture"), "--output-dir", str(tmp_path / "one")]
    assert monitor.main([*common, *whole]) == 0
    for host, capture in runs.items():
        arguments = ["--stage", "partial", "--resource-config", _resource_config(tmp_path, host)]
        arguments += ["--capture-dir", str(capture), "--output-dir", str(tmp_path / "shards")]
        assert monitor.main([*common, *arguments]) == 0
    merge = ["--stage", "merge", "--partials-dir", str(tmp_path / "shards" / "partials")]
    assert monitor.main([*common, *merge, "--output-dir", str(tmp_path / "merged")]) == 0

    empty = json.loads((tmp_path / "shards" / "partials" / "algo-2.json").read_text())
    assert empty["capture_records"] == 0
    one, merged = (json.loads((tmp_path / d / "drift_summary.json").read_text()) for d in ("one", "merged"))
    assert merged == one and one["records"] > 0
