"""monitor.py: endpoint data capture and the training baseline in, Model Monitor files and a drift summary out."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from driftline_local.sample_data import generate_bank_marketing
from scipy.stats import ks_2samp

BASELINE_ROWS = 3000
WINDOW_ROWS = 1500
DRIFT_CHECK = re.compile(r"^Baseline drift distance \d+\.\d{4} \(PSI\) exceeds threshold [\d.]+$")
CHECK_TYPES = {
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
}


def bank(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Bank-marketing features as the baseline holds them (no target, no leaking duration)."""
    return generate_bank_marketing(rows, seed=seed, shift=shift).drop(columns=["y", "duration"])


def csv_rows(frame: pd.DataFrame) -> list[str]:
    return frame.to_csv(header=False, index=False).splitlines()


def capture_line(data: str, content_type: str = "text/csv", encoding: str = "CSV", compact: bool = True) -> str:
    """One data capture record as the endpoint writes it (compact JSON, input then output)."""
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding},
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": json.dumps({"predictions": [{"label": "no", "score": 0.1}]}),
                "encoding": "JSON",
            },
        },
        "eventMetadata": {"eventId": "8f1c7a52", "inferenceTime": "2026-01-01T00:00:00.000Z"},
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":") if compact else (", ", ": "))


def base64_line(text: str | bytes, content_type: str = "text/csv") -> str:
    raw = text.encode() if isinstance(text, str) else text
    return capture_line(base64.b64encode(raw).decode(), content_type, "BASE64")


def json_line(instances: list[Any]) -> str:
    return capture_line(json.dumps({"instances": instances}), "application/json", "JSON")


@dataclass
class Workspace:
    """The job's inputs and outputs laid out as the processing container sees them."""

    root: Path
    module: Any

    @property
    def capture(self) -> Path:
        return self.root / "capture"

    @property
    def output(self) -> Path:
        return self.root / "output"

    def write_baseline(self, frame: pd.DataFrame) -> None:
        baseline = self.root / "baseline"
        baseline.mkdir(parents=True, exist_ok=True)
        frame.to_csv(baseline / "baseline.csv", index=False)
        features = [
            {"name": name, "type": "numeric" if frame[name].dtype.kind in "if" else "categorical"}
            for name in frame.columns
        ]
        preprocessor = {"problem_type": "binary_classification", "features": features}
        (baseline / "preprocessor.json").write_text(json.dumps(preprocessor))

    def configure(self, **monitoring: Any) -> None:
        config = {"name": "bank-marketing", "problem_type": "binary_classification", "target": "y"}
        if monitoring:
            config["monitoring"] = monitoring
        (self.root / "config.json").write_text(json.dumps(config))

    def write_capture(self, lines: list[str], name: str = "AllTraffic/2026/01/01/00/00-00-000-a.jsonl") -> None:
        path = self.capture / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))

    def run(self, *extra: str) -> dict[str, Any]:
        exit_code = self.module.main(
            [
                "--baseline-dir",
                str(self.root / "baseline"),
                "--capture-dir",
                str(self.capture),
                "--config",
                str(self.root / "config.json"),
                "--output-dir",
                str(self.output),
                *extra,
            ]
        )
        assert exit_code == 0
        return self.read("drift_summary.json")

    def read(self, name: str) -> Any:
        return json.loads((self.output / name).read_text())

    def violations(self, check: str | None = None) -> list[dict[str, str]]:
        found = self.read("constraint_violations.json")["violations"]
        return [v for v in found if check is None or v["constraint_check_type"] == check]


@pytest.fixture(scope="module")
def monitor(harness):
    return harness.load_job_module("monitor")


@pytest.fixture(scope="module")
def baseline() -> pd.DataFrame:
    return bank(BASELINE_ROWS, seed=1)


@pytest.fixture(scope="module")
def window() -> pd.DataFrame:
    return bank(WINDOW_ROWS, seed=2)


@pytest.fixture
def new_workspace(tmp_path, monitor, baseline):
    """Workspaces with the module's baseline and a config with drift_threshold 0.2 and min_records 100."""

    def make(name: str) -> Workspace:
        space = Workspace(tmp_path / name, monitor)
        space.write_baseline(baseline)
        space.configure(drift_threshold=0.2, min_records=100)
        return space

    return make


@pytest.fixture
def workspace(new_workspace) -> Workspace:
    return new_workspace("window")


def test_traffic_like_the_baseline_raises_no_violation(workspace, window):
    workspace.write_capture([capture_line(row) for row in csv_rows(window)])

    summary = workspace.run()

    assert summary["records"] == WINDOW_ROWS and summary["drift_judged"] and not summary["window_empty"]
    assert summary["drifted_feature_count"] == 0 and summary["share_drifted"] == 0.0
    assert summary["max_drift"] < 0.05
    assert workspace.violations() == []


def test_a_shifted_feature_is_the_only_one_reported_drifted(workspace, window):
    older = window.assign(age=window["age"] + 15)
    workspace.write_capture([capture_line(row) for row in csv_rows(older)])

    summary = workspace.run("--ks-test")

    assert summary["drifted_features"] == ["age"] and summary["max_drift_feature"] == "age"
    age = summary["features"]["age"]
    assert age["drifted"] and age["method"] == "PSI" and age["distance"] > 1.0 and age["threshold"] == 0.2
    assert age["ks_statistic"] > 0.3 and age["ks_p_value"] < 1e-6
    [drift] = workspace.violations("baseline_drift_check")
    assert drift["feature_name"] == "age" and DRIFT_CHECK.match(drift["description"])
    assert f"{age['distance']:.4f}" in drift["description"]


def test_a_population_shift_drifts_many_features(workspace):
    shifted = bank(WINDOW_ROWS, seed=2, shift=1.0)
    workspace.write_capture([capture_line(row) for row in csv_rows(shifted)])

    summary = workspace.run()

    drifted = set(summary["drifted_features"])
    assert {"age", "contact", "month", "euribor3m", "nr.employed"} <= drifted
    assert not drifted & {"day_of_week", "education", "housing", "loan"}
    assert summary["share_drifted"] == pytest.approx(len(drifted) / 19, abs=1e-6)
    assert {v["feature_name"] for v in workspace.violations("baseline_drift_check")} == drifted


@pytest.mark.parametrize("capture", ["empty directory", "no directory", "only blank lines"])
def test_an_empty_window_writes_every_output_and_judges_no_drift(workspace, capture):
    if capture == "empty directory":
        workspace.capture.mkdir()
    elif capture == "only blank lines":
        workspace.write_capture(["", "   "])

    summary = workspace.run()

    assert summary["window_empty"] and not summary["drift_judged"]
    assert summary["records"] == 0 and summary["malformed_records"] == 0
    assert summary["not_judged_reason"] == "no captured records in the window"
    assert summary["drifted_feature_count"] == 0 and summary["max_drift"] is None
    assert all(f["distance"] is None and not f["drifted"] for f in summary["features"].values())
    assert workspace.violations() == []
    assert workspace.read("statistics.json")["dataset"]["item_count"] == 0
    assert len(workspace.read("constraints.json")["features"]) == 19


def test_fewer_records_than_min_records_are_described_but_not_judged(workspace):
    shifted = bank(40, seed=2, shift=1.0)
    workspace.write_capture([capture_line(row) for row in csv_rows(shifted)])

    summary = workspace.run()

    assert not summary["drift_judged"] and not summary["window_empty"] and summary["records"] == 40
    assert "only 40 records" in summary["not_judged_reason"] and "min_records" in summary["not_judged_reason"]
    assert summary["drifted_feature_count"] == 0 and workspace.violations("baseline_drift_check") == []
    statistics = workspace.read("statistics.json")
    assert statistics["dataset"]["item_count"] == 40
    age = next(f for f in statistics["features"] if f["name"] == "age")
    assert age["numerical_statistics"]["mean"] == pytest.approx(shifted["age"].mean())


def test_malformed_records_are_counted_by_reason_and_skipped(workspace, window):
    rows = csv_rows(window.head(300))
    malformed = [
        '{"captureData": {"endpointInput": ',  # a line cut short
        "not json at all",
        capture_line(rows[0] + ",extra"),  # 20 columns for 19 features
        capture_line(rows[0].rsplit(",", 1)[0]),  # 18 columns
        capture_line(rows[0] + "\n" + rows[1] + ",extra"),  # one bad row rejects the whole request
        capture_line("!!! not base64 !!!", encoding="BASE64"),
        base64_line(b"\xff\xfe\x00 not utf-8"),
        capture_line(",,,,,,,,,,,,,,,,,,"),  # no values at all: no rows
        capture_line("[1, 2]", content_type="application/x-npy", encoding="BASE64"),
        json.dumps({"captureData": {"endpointOutput": {"data": "0.1", "encoding": "CSV"}}}),  # output only
        json_line([{"customer": 1}]),  # names none of the features
    ]
    workspace.write_capture([capture_line(row) for row in rows] + malformed)

    summary = workspace.run()

    assert summary["records"] == 300 and summary["capture_records"] == 300 + len(malformed)
    assert summary["malformed_records"] == len(malformed)
    assert summary["malformed_reasons"] == {
        "bad_json_body": 1,
        "bad_json_line": 2,
        "no_input_data": 1,
        "no_rows": 1,
        "undecodable_data": 2,
        "unsupported_content_type": 1,
        "wrong_column_count": 3,
    }
    assert summary["drifted_feature_count"] == 0


def test_every_request_form_the_endpoint_accepts_is_read_alike(workspace, new_workspace, window):
    rows = csv_rows(window.head(600))
    records = json.loads(window.head(600).to_json(orient="records"))
    lists = json.loads(window.head(600).to_json(orient="values"))
    mixed = (
        [capture_line(row) for row in rows[:100]]  # the endpoint's own layout
        + [capture_line(row, compact=False) for row in rows[100:200]]  # another JSON layout
        + [capture_line("\r\n".join(rows[200:250]))]  # several rows in one request
        + [base64_line("\n".join(rows[250:300]))]  # a content type the capture does not keep as text
        + [capture_line(f'"{row}"'.replace(",", '","')) for row in rows[300:350]]  # quoted cells
        + [json_line(records[350:450])]  # JSON objects keyed by name
        + [json_line(lists[450:550])]  # JSON rows in feature order
        + [base64_line(json.dumps({"instances": records[550:]}), "application/json; charset=utf-8")]
    )
    workspace.write_capture(mixed)
    plain = new_workspace("plain")
    plain.write_capture([capture_line(row) for row in rows])

    summary = workspace.run()
    plain.run()

    assert summary["records"] == 600 and summary["malformed_records"] == 0
    assert workspace.read("statistics.json") == plain.read("statistics.json")


def test_messy_cells_read_the_same_through_the_fast_and_the_general_parser(workspace, new_workspace, window):
    messy = window.head(280).astype(object)
    messy["age"] = [" 41", "41.0", "4.1e1", "NA", "?", "", "none"] * 40
    messy["job"] = [" admin.", "admin.", "ADMIN.", "Null", "?", "", "technician "] * 40
    rows = csv_rows(messy)
    workspace.write_capture([capture_line(row) for row in rows])  # the endpoint's layout: the fast path
    general = new_workspace("general")
    general.write_capture([capture_line(row, compact=False) for row in rows])  # the json module

    summary = workspace.run()
    general.run()

    assert workspace.read("statistics.json") == general.read("statistics.json")
    assert summary["features"]["age"]["present"] == 120 and summary["features"]["age"]["missing"] == 160
    assert summary["features"]["job"]["present"] == 160 and summary["malformed_records"] == 0
    assert workspace.violations("data_type_check") == []
    [unseen] = workspace.violations("categorical_values_check")
    assert "'ADMIN.'" in unseen["description"] and "40 of 160" in unseen["description"]


def test_json_rows_without_a_feature_or_with_an_unknown_key_raise_column_checks(workspace, window):
    records = json.loads(window.head(400).to_json(orient="records"))
    for i, record in enumerate(records):
        if i % 4 == 0:
            del record["age"]
        record["customer_id"] = i
    workspace.write_capture([json_line(records[i : i + 50]) for i in range(0, 400, 50)])

    summary = workspace.run()

    [missing] = workspace.violations("missing_column_check")
    assert missing["feature_name"] == "age" and "100 of 400 JSON rows" in missing["description"]
    [extra] = workspace.violations("extra_column_check")
    assert extra["feature_name"] == "customer_id" and "400 of 400" in extra["description"]
    assert summary["features"]["age"]["missing"] == 100 and summary["records"] == 400
    [completeness] = workspace.violations("completeness_check")
    assert completeness["feature_name"] == "age" and "75.0%" in completeness["description"]


def test_an_unseen_category_raises_a_values_check_and_counts_in_its_own_bucket(workspace, window):
    astronauts = window.copy()
    astronauts.loc[astronauts.index[::3], "job"] = "astronaut"
    workspace.write_capture([capture_line(row) for row in csv_rows(astronauts)])

    summary = workspace.run()

    [values] = workspace.violations("categorical_values_check")
    assert values["feature_name"] == "job" and "'astronaut'" in values["description"]
    assert "500 of 1500 values (33.3%)" in values["description"]
    assert summary["features"]["job"]["drifted"] and summary["drifted_features"] == ["job"]
    job = next(f for f in workspace.read("statistics.json")["features"] if f["name"] == "job")
    assert {"value": "astronaut", "count": 500} in job["string_statistics"]["distribution"]["categorical"]["buckets"]


def test_a_feature_threshold_overrides_the_default_threshold(workspace, window):
    workspace.configure(drift_threshold=0.2, feature_thresholds={"age": 50.0}, min_records=100)
    older = window.assign(age=window["age"] + 15, campaign=window["campaign"] + 3)
    workspace.write_capture([capture_line(row) for row in csv_rows(older)])

    summary = workspace.run()

    assert summary["features"]["age"]["threshold"] == 50.0 and not summary["features"]["age"]["drifted"]
    assert summary["features"]["campaign"]["threshold"] == 0.2 and summary["drifted_features"] == ["campaign"]
    constraints = {f["name"]: f for f in workspace.read("constraints.json")["features"]}
    assert constraints["age"]["monitoringConfigOverrides"] == {"comparison_threshold": 50.0}
    assert constraints["campaign"]["monitoringConfigOverrides"] == {}


def test_a_config_without_a_monitoring_block_uses_the_defaults(workspace, window):
    workspace.configure()
    workspace.write_capture([capture_line(row) for row in csv_rows(window.head(99))])

    summary = workspace.run()

    assert summary["drift_threshold"] == 0.2 and summary["min_records"] == 100 and not summary["drift_judged"]


def test_text_in_a_numeric_feature_raises_a_data_type_check(workspace, window):
    rows = csv_rows(window)
    rows[:30] = [row.replace(row.split(",")[0], "forty", 1) for row in rows[:30]]
    workspace.write_capture([capture_line(row) for row in rows])

    summary = workspace.run()

    [check] = workspace.violations("data_type_check")
    assert check["feature_name"] == "age" and "30 of 1500 values (2.0%) are not numbers" in check["description"]
    assert summary["features"]["age"]["present"] == 1470 and summary["features"]["age"]["missing"] == 30


def test_the_ks_statistic_is_the_one_scipy_computes(workspace, baseline):
    current = bank(WINDOW_ROWS, seed=5, shift=0.3)
    workspace.write_capture([capture_line(row) for row in csv_rows(current)])

    summary = workspace.run("--ks-test")

    for name in ("age", "euribor3m", "campaign"):
        expected = ks_2samp(baseline[name].to_numpy(float), current[name].to_numpy(float), method="asymp")
        assert summary["features"][name]["ks_statistic"] == pytest.approx(expected.statistic, abs=1e-5)
        assert summary["features"][name]["ks_p_value"] == pytest.approx(expected.pvalue, rel=0.1, abs=1e-9)


def test_ks_is_off_by_default_and_the_summary_says_so(workspace, window):
    workspace.write_capture([capture_line(row) for row in csv_rows(window.assign(age=window["age"] + 15))])

    summary = workspace.run()

    assert summary["ks_test"] is False and summary["drifted_features"] == ["age"]
    assert not any("ks_statistic" in f or "ks_p_value" in f for f in summary["features"].values())


def test_the_ks_test_changes_no_verdict_and_no_other_output(workspace, new_workspace):
    shifted = bank(WINDOW_ROWS, seed=2, shift=0.5)
    lines = [capture_line(row) for row in csv_rows(shifted)]
    workspace.write_capture(lines)
    with_ks = new_workspace("with-ks")
    with_ks.write_capture(lines)

    without = workspace.run()
    summary = with_ks.run("--ks-test")

    assert summary["ks_test"] is True and without["drifted_feature_count"] > 0
    numeric = [name for name, f in summary["features"].items() if f["type"] == "numeric"]
    assert all(summary["features"][name]["ks_statistic"] is not None for name in numeric)
    for entry in summary["features"].values():
        entry.pop("ks_statistic", None), entry.pop("ks_p_value", None)
    assert summary | {"ks_test": False} == without
    for name in ("statistics.json", "constraints.json", "constraint_violations.json"):
        assert with_ks.read(name) == workspace.read(name)


def test_a_category_seen_once_in_the_baseline_is_in_its_domain_however_small_the_sample(workspace, baseline, window):
    rare = baseline.copy()
    rare.loc[rare.index[1234], "job"] = "astronaut"  # one row in 3,000; the numeric sample below holds 500
    workspace.write_baseline(rare)
    astronauts = window.copy()
    astronauts.loc[astronauts.index[:3], "job"] = "astronaut"
    workspace.write_capture([capture_line(row) for row in csv_rows(astronauts)])

    summary = workspace.run("--sample", "500")

    assert workspace.violations("categorical_values_check") == [] and summary["drifted_feature_count"] == 0
    domains = {
        f["name"]: f.get("string_constraints", {}).get("domains")
        for f in workspace.read("constraints.json")["features"]
    }
    assert "astronaut" in domains["job"]


def test_reading_in_small_blocks_changes_nothing(workspace):
    shifted = bank(WINDOW_ROWS, seed=2, shift=0.5)
    lines = [capture_line(row) for row in csv_rows(shifted)]
    lines[7] = capture_line("\n".join(csv_rows(shifted.iloc[7:8]) * 40))  # one line longer than a block
    workspace.write_capture(lines[:700], "a.jsonl")
    workspace.write_capture(lines[700:], "b/c.jsonl")
    unterminated = workspace.capture / "b" / "c.jsonl"  # a file whose last line has no newline
    unterminated.write_text(unterminated.read_text().rstrip("\n"))
    whole = workspace.run()

    pieces = workspace.run("--block-bytes", "4096")

    assert whole["records"] == WINDOW_ROWS + 39 and whole["drifted_feature_count"] > 0
    assert pieces == whole


def test_outputs_have_the_model_monitor_shape(workspace, window):
    older = window.assign(age=window["age"] + 15)
    workspace.write_capture([capture_line(row) for row in csv_rows(older)])

    workspace.run()

    statistics = workspace.read("statistics.json")
    assert set(statistics) == {"version", "dataset", "features"} and statistics["dataset"] == {"item_count": 1500}
    for feature in statistics["features"]:
        assert feature["inferred_type"] in {"Integral", "Fractional", "String"}
        if feature["inferred_type"] == "String":
            stats = feature["string_statistics"]
            assert {"common", "distinct_count", "distribution"} <= set(stats)
            assert all(set(b) == {"value", "count"} for b in stats["distribution"]["categorical"]["buckets"])
        else:
            stats = feature["numerical_statistics"]
            assert {"common", "mean", "sum", "std_dev", "min", "max", "distribution"} <= set(stats)
            buckets = stats["distribution"]["kll"]["buckets"]
            assert sum(b["count"] for b in buckets) == stats["common"]["num_present"]
            assert all(b["lower_bound"] <= b["upper_bound"] for b in buckets)
        assert set(stats["common"]) == {"num_present", "num_missing"}
    age = next(f for f in statistics["features"] if f["name"] == "age")
    assert age["inferred_type"] == "Integral"
    assert age["numerical_statistics"]["std_dev"] == pytest.approx(older["age"].std(ddof=0), rel=1e-6)

    constraints = workspace.read("constraints.json")
    assert constraints["version"] == 0
    for feature in constraints["features"]:
        assert {"name", "inferred_type", "completeness", "monitoringConfigOverrides"} <= set(feature)
        assert "num_constraints" in feature or feature["string_constraints"]["domains"]
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] == 0.2

    violations = workspace.read("constraint_violations.json")["violations"]
    assert violations and all(set(v) == {"feature_name", "constraint_check_type", "description"} for v in violations)
    assert {v["constraint_check_type"] for v in violations} <= CHECK_TYPES


def test_reads_the_baseline_and_preprocessor_that_preprocessing_writes(pipelines, monitor, tmp_path):
    processed = pipelines.preprocessed.bank.processed  # baseline/baseline.csv, preprocessor/preprocessor.json
    rows = pd.read_csv(processed / "baseline" / "baseline.csv", dtype=str, keep_default_na=False).head(500)
    capture = tmp_path / "capture" / "part.jsonl"
    capture.parent.mkdir()
    capture.write_text("".join(capture_line(row) + "\n" for row in csv_rows(rows)))

    exit_code = monitor.main(
        ["--baseline-dir", str(processed), "--capture-dir", str(capture.parent)]
        + ["--config", str(pipelines.preprocessed.bank.config_path), "--output-dir", str(tmp_path / "out")]
    )

    summary = json.loads((tmp_path / "out" / "drift_summary.json").read_text())
    assert exit_code == 0 and summary["records"] == 500 and summary["malformed_records"] == 0
    assert list(summary["features"]) == pipelines.preprocessed.bank.preprocessor["feature_names"]
    assert summary["drifted_feature_count"] == 0


def test_a_missing_baseline_fails_the_job_with_a_message(monitor, tmp_path, caplog):
    exit_code = monitor.main(["--baseline-dir", str(tmp_path / "nothing"), "--output-dir", str(tmp_path / "out")])

    assert exit_code == 1
    assert "no baseline.csv" in caplog.text
    assert not (tmp_path / "out").exists()


def test_the_sample_for_ks_is_uniform_and_bounded(monitor):
    summary = monitor.NumericSummary(sample_size=1000, rng=np.random.default_rng(0))
    for start in range(0, 100_000, 7_000):
        summary.add(np.arange(start, min(start + 7_000, 100_000), dtype=float), 0)

    sample = summary.sample

    assert sample.size == 1000 and np.unique(sample).size == 1000
    assert 45_000 < sample.mean() < 55_000 and sample.min() < 5_000 and sample.max() > 95_000
    assert summary.present == 100_000 and summary.mean == pytest.approx(49_999.5)


def test_capture_files_outside_the_window_are_skipped(tmp_path, harness):
    monitor = harness.load_job_module("monitor")
    hour = tmp_path / "ep" / "variant" / "2026" / "11" / "28" / "06"
    hour.mkdir(parents=True)
    for name in ("00-10-000-a.jsonl", "30-00-000-b.jsonl", "59-59-999-c.jsonl"):
        (hour / name).write_text("{}\n")
    start, end = monitor.utc_time("2026-11-28T06:00:30Z"), monitor.utc_time("2026-11-28T06:59:59Z")

    kept = monitor.capture_files(tmp_path, start, end)

    assert [p.name for p in kept] == ["30-00-000-b.jsonl"]
