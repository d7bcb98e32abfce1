"""monitor.py over a sharded capture: two instances' partial windows merge into the reports one instance writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from driftline_local.sample_data import generate_bank_marketing

CAPTURE = "2026/01/01/00/{minute:02d}-00-000-{name}.jsonl"


def bank(rows: int, seed: int, shift: float = 0.0):
    return generate_bank_marketing(rows, seed=seed, shift=shift).drop(columns=["y", "duration"])


def capture_line(data: str, content_type: str = "text/csv", encoding: str = "CSV") -> str:
    endpoint_input = {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding}
    record = {"captureData": {"endpointInput": endpoint_input}, "eventMetadata": {"eventId": "e"}, "eventVersion": "0"}
    return json.dumps(record, separators=(",", ":"))


def write_capture(root: Path, seed: int, files: int = 4) -> dict[str, list[Path]]:
    """Capture files of a drifted window (CSV rows, JSON rows, malformed lines), dealt to two hosts by file."""
    window = bank(2400, seed=seed, shift=0.6)
    names = list(window.columns)
    hosts: dict[str, list[Path]] = {"algo-1": [], "algo-2": []}
    step = len(window) // files
    for number in range(files):
        part = window.iloc[number * step : (number + 1) * step]
        csv = [capture_line(row) for row in part.iloc[: step // 2].to_csv(header=False, index=False).splitlines()]
        objects = json.loads(part.iloc[step // 2 :].to_json(orient="records"))
        lines = csv + [
            capture_line(json.dumps({"instances": objects[i : i + 3]}), "application/json", "JSON")
            for i in range(0, len(objects), 3)
        ]
        lines += [
            "not json",
            capture_line("1,2", "text/csv"),
            capture_line('{"instances": [{"x": 1}]}', "application/json", "JSON"),
        ]
        path = root / CAPTURE.format(minute=number, name=f"f{number}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        hosts["algo-1" if number % 2 == 0 else "algo-2"].append(path)
    assert names
    return hosts


def run(monitor, *args: str) -> None:
    assert monitor.main(list(args)) == 0


@pytest.mark.parametrize("ks", [False, True])
def test_two_instances_merged_judge_drift_as_one_instance(tmp_path, harness, ks):
    monitor = harness.load_job_module("monitor")
    (tmp_path / "baseline").mkdir()
    bank(3000, seed=1).to_csv(tmp_path / "baseline" / "baseline.csv", index=False)
    (tmp_path / "config.json").write_text(json.dumps({"monitoring": {"drift_threshold": 0.1, "min_records": 50}}))
    hosts = write_capture(tmp_path / "capture", seed=2)
    for host, files in hosts.items():
        for file in files:
            target = tmp_path / host / file.relative_to(tmp_path / "capture")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    common = ["--baseline-dir", str(tmp_path / "baseline"), "--config", str(tmp_path / "config.json")]
    common += ["--ks-test"] if ks else []

    run(monitor, *common, "--capture-dir", str(tmp_path / "capture"), "--output-dir", str(tmp_path / "one"))
    for host in hosts:
        (tmp_path / f"rc-{host}.json").write_text(json.dumps({"current_host": host, "hosts": list(hosts)}))
        run(
            monitor,
            *common,
            "--stage",
            "partial",
            "--capture-dir",
            str(tmp_path / host),
            "--output-dir",
            str(tmp_path / "partial-out"),
            "--resource-config",
            str(tmp_path / f"rc-{host}.json"),
        )
    run(
        monitor,
        *common,
        "--stage",
        "merge",
        "--partials-dir",
        str(tmp_path / "partial-out" / "partials"),
        "--output-dir",
        str(tmp_path / "merged"),
    )

    one, merged = (json.loads((tmp_path / d / "drift_summary.json").read_text()) for d in ("one", "merged"))
    assert one["drift_judged"] and one["drifted_features"] and one["malformed_records"] > 0
    ks_fields = ("ks_statistic", "ks_p_value")
    for summary in (one, merged):
        for entry in summary["features"].values():
            for field in ks_fields:
                entry.pop(field, None)  # informational, from samples drawn per shard
    assert merged == one
    for name in ("constraint_violations.json", "constraints.json"):
        assert (tmp_path / "merged" / name).read_text() == (tmp_path / "one" / name).read_text()
    statistics = [json.loads((tmp_path / d / "statistics.json").read_text()) for d in ("one", "merged")]
    assert statistics[1]["dataset"] == statistics[0]["dataset"]
    for a, b in zip(statistics[0]["features"], statistics[1]["features"], strict=True):
        if "numerical_statistics" in a:
            x, y = a["numerical_statistics"], b["numerical_statistics"]
            assert x["common"] == y["common"] and x["distribution"] == y["distribution"]
            assert (x["min"], x["max"]) == (y["min"], y["max"])
            for field in ("mean", "sum", "std_dev"):
                assert y[field] == pytest.approx(x[field], rel=1e-9, abs=1e-6)
        else:
            assert a == b
