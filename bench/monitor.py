"""The drift monitor (jobs/monitor.py) beside Evidently and a plain numpy PSI pass, end to end and compute only.

Every side reads the same files: a 50,000-row reference (baseline.csv and preprocessor.json, as
preprocessing writes them) and N records of endpoint data capture (SageMaker's JSONL, one CSV request
per line, 20 bank-marketing columns). Four features are drifted by construction (a population shift of
age, contact, month and euribor3m); the other sixteen come from the reference's own distribution.

Sides:
- driftline: jobs/monitor.py as the drift monitor runs it (monitoring.ks_test: false, the default);
- driftline + KS: the same job with --ks-test (monitoring.ks_test: true);
- numpy PSI floor: the least work that gives the same verdicts: the capture's request bodies cut out
  with one regular expression per file (valid only for this clean data; nothing is validated), one
  pandas.read_csv, then PSI over the same bins as Driftline (the baseline's deciles, each distinct
  decile value a bucket of its own; one bucket per baseline category plus one for unseen values);
- evidently 0.7.23: what a user would do, as Evidently cannot read capture files: json.loads each
  line, pandas.read_csv the request bodies, then Report([DataDriftPreset()]) with its default tests
  (normed Wasserstein for numbers, Jensen-Shannon for categories above 1,000 rows).

Columns: "end to end" is a fresh process from start to exit (imports and reading included): wall clock
and CPU (the child's user + system time), each the best of --repeat runs (Evidently: one run). The
figures (--json) compare CPU seconds: every side is one process and mostly one thread, and on a shared
machine wall time measures the neighbours as much as the monitor (both are printed). "compute only"
is the statistics once the data is in memory (imports and reading excluded): Driftline's is measured
in a separate process that first reads everything with the job's own readers, then times folding the
frames into its summaries and building every report's content (statistics, constraints, violations,
drift summary); the floor's and Evidently's (Report.run) are timed inside their end-to-end run.
Memory is each end-to-end child's peak resident set (ru_maxrss from wait4); this process never holds
the data, so the children's figure is their own.

Checks before any figure is printed (otherwise the bench refuses): every side exits 0; Driftline flags
exactly the four shifted features; its verdicts and PSI values are the same with and without KS; its
compute-only run reproduces the end-to-end drift summary exactly; the floor's PSI equals Driftline's
(same inputs, same bins) on every feature; Evidently reports every feature.

Run: `.venv/bin/python bench/monitor.py` (100,000 and 1,000,000 records; 8 minutes on a busy 2-core
machine, Evidently's 1M run most of it) or `--quick` (100,000 records, Evidently included: under a minute);
`--json PATH` writes the figures (bench/figures.py). Evidently needs pandas < 3, so it runs from its own
venv: `make bench-deps` creates .venv/bench-evidently; without it the bench refuses (or pass
--skip-evidently for Driftline, KS and the floor alone).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from figures import Figures, add_json_argument, refuse

REPO = Path(__file__).resolve().parents[1]
JOBS = REPO / "jobs"
EVIDENTLY_PYTHON = REPO / ".venv" / "bench-evidently" / "bin" / "python"
EVIDENTLY = "evidently 0.7.23"
REFERENCE_ROWS = 50_000
DRIFTED = ("age", "contact", "month", "euribor3m")
RECORDS_PER_FILE = 50_000
OUTPUT = json.dumps(json.dumps({"predictions": [{"label": "no", "score": 0.0412}]}))
PSI_TOLERANCE = 2e-6  # Driftline's summary rounds to 6 digits
QUICK_SIZES = [100_000]

# The job's own readers fill frames; then the statistics are timed from those frames (see the docstring).
DRIFTLINE_COMPUTE = r"""
import json, sys, time
from pathlib import Path
jobs, baseline_dir, capture, config, result, ks = sys.argv[1:7]
sys.path.insert(0, jobs)
import numpy as np
import monitor as m

class Frames(m.Columns):
    def __init__(self, features):
        self.features, self.rows, self.frames = features, 0, []
    def add(self, frame):
        self.frames.append(frame)
        self.rows += len(frame)

ks = ks == "1"
started = time.perf_counter()
settings = m.load_settings(Path(config))
baseline_path = m.find_file(Path(baseline_dir), [m.BASELINE_FILE])
features = m.resolve_features(baseline_path, m.find_file(Path(baseline_dir), [m.PREPROCESSOR_FILE]))
read = m.read_baseline(baseline_path, Frames(features))
window = m.Window(features, Frames(features))
m.read_window(Path(capture), window, m.DEFAULT_BLOCK_BYTES)
loaded, cpu = time.perf_counter(), time.process_time()
rng = np.random.default_rng(0)  # as monitor() seeds it: the same baseline sample
baseline = m.Columns(features, m.DEFAULT_SAMPLE, rng, edges={})
for frame in read.frames:
    baseline.add(frame)
edges = m.set_decile_edges(baseline)
frames, window.columns = window.columns.frames, m.Columns(features, m.DEFAULT_SAMPLE if ks else 0, rng, edges)
for frame in frames:
    window.columns.add(frame)
outputs = m.reports(features, baseline, window, settings, ks)
done, cpu = time.perf_counter(), time.process_time() - cpu
seconds = {"load": loaded - started, "compute": done - loaded, "compute_cpu": cpu}
Path(result).write_text(json.dumps({"seconds": seconds, "summary": outputs["drift_summary.json"]}))
"""

FLOOR_SIDE = r"""
import io, json, re, sys, time
from pathlib import Path
started = time.perf_counter()
import numpy as np
import pandas as pd
imported = time.perf_counter()
baseline, preprocessor, capture, result, threshold = sys.argv[1:6]
features = json.loads(Path(preprocessor).read_text())["features"]
names = [f["name"] for f in features]
numeric = {f["name"] for f in features if f["type"] == "numeric"}
dtypes = {n: "category" for n in names if n not in numeric}
reference = pd.read_csv(baseline, dtype=dtypes)
body = re.compile(rb'"endpointInput":\{[^{}]*?"data":"([^"\\]*)"')
bodies = []
for file in sorted(Path(capture).rglob("*.jsonl")):
    bodies += body.findall(file.read_bytes())
current = pd.read_csv(io.BytesIO(b"\n".join(bodies)), header=None, names=names, dtype=dtypes)
del bodies
loaded, cpu = time.perf_counter(), time.process_time()

def counts(values, edges):  # below e1, = e1, between e1 and e2, = e2, ..., above ek
    above = np.searchsorted(edges, values, side="right")
    on_edge = edges[np.maximum(above - 1, 0)] == values
    return np.bincount(2 * above - (on_edge & (above > 0)), minlength=2 * edges.size + 1)

def psi(expected, actual):
    p, q = expected / expected.sum(), actual / actual.sum()
    p, q = np.where(p > 0, p, 1e-4), np.where(q > 0, q, 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))

values = {}
for name in names:
    if name in numeric:
        base = reference[name].to_numpy(float)
        now = current[name].to_numpy(float)
        base, now = base[~np.isnan(base)], now[~np.isnan(now)]
        edges = np.unique(np.quantile(base, np.linspace(0.0, 1.0, 11)[1:-1]))
        values[name] = psi(counts(base, edges).astype(float), counts(now, edges).astype(float))
    else:
        expected = reference[name].value_counts(sort=False)
        observed = current[name].value_counts(sort=False)
        known = observed.index.isin(expected.index)
        seen = observed[known].reindex(expected.index, fill_value=0).to_numpy(float)
        actual = np.append(seen, observed[~known].sum())
        values[name] = psi(np.append(expected.to_numpy(float), 0.0), actual)
done, cpu = time.perf_counter(), time.process_time() - cpu
verdicts = {n: {"value": v, "drifted": v > float(threshold)} for n, v in values.items()}
times = {"import": imported - started, "load": loaded - imported, "compute": done - loaded, "compute_cpu": cpu}
Path(result).write_text(json.dumps({"seconds": times, "records": len(current), "features": verdicts}))
"""

EVIDENTLY_SIDE = r"""
import io, json, sys, time
from pathlib import Path
started = time.perf_counter()
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
imported = time.perf_counter()
baseline, preprocessor, capture, result = sys.argv[1:5]
features = json.loads(Path(preprocessor).read_text())["features"]
names = [f["name"] for f in features]
numeric = [f["name"] for f in features if f["type"] == "numeric"]
categorical = [n for n in names if n not in numeric]
dtypes = {n: str for n in categorical}
reference = pd.read_csv(baseline, dtype=dtypes)
bodies = []
for file in sorted(Path(capture).rglob("*.jsonl")):
    with open(file, encoding="utf-8") as handle:
        for line in handle:
            bodies.append(json.loads(line)["captureData"]["endpointInput"]["data"])
current = pd.read_csv(io.StringIO("\n".join(bodies)), header=None, names=names, dtype=dtypes)
del bodies
loaded, cpu = time.perf_counter(), time.process_time()
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
done, cpu = time.perf_counter(), time.process_time() - cpu
verdicts = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type", "").endswith(":ValueDrift"):
        method, value, threshold = config["method"], float(metric["value"]), float(config["threshold"])
        drifted = value < threshold if "p_value" in method else value >= threshold
        verdicts[config["column"]] = {"method": method, "value": value, "threshold": threshold, "drifted": drifted}
times = {"import": imported - started, "load": loaded - imported, "compute": done - loaded, "compute_cpu": cpu}
Path(result).write_text(json.dumps({"seconds": times, "records": len(current), "features": verdicts}))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="captured records")
    parser.add_argument("--quick", action="store_true", help=f"only {QUICK_SIZES[0]:,} records (about a minute)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per Driftline and floor measurement (best kept)")
    parser.add_argument("--skip-evidently", action="store_true", help="measure Driftline, KS and the floor only")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated files here")
    parser.add_argument("--write", nargs=2, metavar=("DIR", "RECORDS"), help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args()
    if args.quick:
        args.sizes = QUICK_SIZES
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


# --- test data (written by a child, so that this process stays small) ------------------------------------


def generate(rows: int, seed: int, shift: float = 0.0) -> Any:
    sys.path.insert(0, str(REPO / "local"))
    from driftline_local.sample_data import generate_bank_marketing

    return generate_bank_marketing(rows, seed=seed, shift=shift)


def write_reference(root: Path) -> None:
    reference = generate(REFERENCE_ROWS, seed=1).drop(columns=["y"])
    baseline = root / "baseline"
    baseline.mkdir(parents=True, exist_ok=True)
    reference.to_csv(baseline / "baseline.csv", index=False)
    features = [
        {"name": name, "type": "numeric" if reference[name].dtype.kind in "if" else "categorical"}
        for name in reference.columns
    ]
    preprocessor = {"problem_type": "binary_classification", "features": features}
    (baseline / "preprocessor.json").write_text(json.dumps(preprocessor))
    config = {"name": "bench", "problem_type": "binary_classification", "target": "y", "monitoring": {}}
    (root / "config.json").write_text(json.dumps(config))


def write_capture(directory: Path, records: int) -> None:
    """`records` CSV requests in the endpoint's capture layout, RECORDS_PER_FILE per hourly-prefixed file."""
    current = generate(records, seed=2).drop(columns=["y"])
    shifted = generate(records, seed=3, shift=1.0)
    for name in DRIFTED:
        current[name] = shifted[name].to_numpy()
    bodies = current.to_csv(header=False, index=False).splitlines()
    for start in range(0, records, RECORDS_PER_FILE):
        hour = directory / "AllTraffic" / "2026" / "01" / "01" / f"{start // RECORDS_PER_FILE:02d}"
        hour.mkdir(parents=True, exist_ok=True)
        lines = [
            '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":'
            + json.dumps(body)
            + ',"encoding":"CSV"},"endpointOutput":{"observedContentType":"application/json","mode":"OUTPUT",'
            + f'"data":{OUTPUT},"encoding":"JSON"}}}},"eventMetadata":{{"eventId":"{uuid.uuid4()}",'
            + f'"inferenceTime":"2026-01-01T{start // RECORDS_PER_FILE:02d}:00:00.000Z"}},"eventVersion":"0"}}\n'
            for body in bodies[start : start + RECORDS_PER_FILE]
        ]
        (hour / f"00-00-000-{uuid.uuid4()}.jsonl").write_text("".join(lines), encoding="utf-8")


# --- running the sides -------------------------------------------------------------------------------------


class Run:
    """One side's measurements at one size: the best wall and CPU times of its runs, the largest peak."""

    def __init__(self) -> None:
        self.wall = float("inf")
        self.cpu = 0.0
        self.peak = 0.0
        self.compute: float | None = None  # seconds of statistics with the data in memory (wall clock)
        self.compute_cpu: float | None = None  # the same, CPU seconds (steadier on a busy machine)
        self.result: dict[str, Any] = {}
        self.runs = 0

    def add(self, wall: float, cpu: float, peak: float, result: dict[str, Any], seconds: dict | None = None) -> None:
        self.wall = min(self.wall, wall)
        self.cpu = min(self.cpu, cpu) if self.runs else cpu
        if seconds is not None:
            self.compute = min(seconds["compute"], self.compute or math.inf)
            self.compute_cpu = min(seconds["compute_cpu"], self.compute_cpu or math.inf)
        self.peak = max(self.peak, peak)
        self.result = result
        self.runs += 1


def run_measured(command: list[str], log: Path) -> tuple[float, float, float]:
    """Run a child to completion: (wall seconds, CPU seconds, peak RSS in MiB); refuses if it fails.

    A child's ru_maxrss also counts what it shared with this process before exec, which is why this
    process never holds the generated data.
    """
    started = time.perf_counter()
    with open(log, "w") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        refuse(f"{Path(command[1]).name if command[1] != '-c' else 'a side'} exited {code}; see {log}:\n"
               f"{log.read_text()[-3000:]}")  # fmt: skip
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux reports kilobytes


class Bench:
    def __init__(self, root: Path, repeat: int, evidently: bool) -> None:
        self.root = root
        self.repeat = repeat
        self.evidently = evidently
        self.baseline = root / "baseline"

    def driftline(self, capture: Path, run: Run, ks: bool, tag: str) -> None:
        out = self.root / f"driftline-{tag}"
        command = [sys.executable, str(JOBS / "monitor.py"), "--baseline-dir", str(self.baseline)]
        command += ["--capture-dir", str(capture), "--config", str(self.root / "config.json")]
        command += ["--output-dir", str(out)] + (["--ks-test"] if ks else [])
        wall, cpu, peak = run_measured(command, out.with_suffix(".log"))
        run.add(wall, cpu, peak, json.loads((out / "drift_summary.json").read_text()))

    def driftline_compute(self, capture: Path, run: Run, ks: bool, tag: str) -> None:
        result = self.root / f"compute-{tag}.json"
        command = [sys.executable, "-c", DRIFTLINE_COMPUTE, str(JOBS), str(self.baseline), str(capture)]
        command += [str(self.root / "config.json"), str(result), "1" if ks else "0"]
        wall, cpu, peak = run_measured(command, result.with_suffix(".log"))
        found = json.loads(result.read_text())
        run.add(wall, cpu, peak, found["summary"], found["seconds"])

    def floor(self, capture: Path, run: Run, threshold: float, tag: str) -> None:
        result = self.root / f"floor-{tag}.json"
        command = [sys.executable, "-c", FLOOR_SIDE, str(self.baseline / "baseline.csv")]
        command += [str(self.baseline / "preprocessor.json"), str(capture), str(result), str(threshold)]
        wall, cpu, peak = run_measured(command, result.with_suffix(".log"))
        found = json.loads(result.read_text())
        run.add(wall, cpu, peak, found, found["seconds"])

    def evidently_side(self, capture: Path, run: Run, tag: str) -> None:
        result = self.root / f"evidently-{tag}.json"
        command = [str(EVIDENTLY_PYTHON), "-c", EVIDENTLY_SIDE, str(self.baseline / "baseline.csv")]
        command += [str(self.baseline / "preprocessor.json"), str(capture), str(result)]
        wall, cpu, peak = run_measured(command, result.with_suffix(".log"))
        found = json.loads(result.read_text())
        run.add(wall, cpu, peak, found, found["seconds"])

    def measure(self, size: int) -> dict[str, Run]:
        capture = self.root / f"capture-{size}"
        if not capture.exists():
            subprocess.run([sys.executable, __file__, "--write", str(capture), str(size)], check=True)
        runs = {name: Run() for name in ("driftline", "driftline+ks", "compute", "compute+ks", "floor", "evidently")}
        for attempt in range(self.repeat):  # interleaved, so that a busy spell hits every side alike
            tag = f"{size}-{attempt}"
            self.driftline(capture, runs["driftline"], False, tag)
            threshold = runs["driftline"].result["drift_threshold"]
            check_driftline(runs["driftline"].result, size, ks=False)
            self.driftline(capture, runs["driftline+ks"], True, tag + "-ks")
            check_driftline(runs["driftline+ks"].result, size, ks=True)
            self.driftline_compute(capture, runs["compute"], False, tag)
            self.driftline_compute(capture, runs["compute+ks"], True, tag + "-ks")
            self.floor(capture, runs["floor"], threshold, tag)
        if self.evidently:
            self.evidently_side(capture, runs["evidently"], str(size))
        check_sides(runs, size)
        return runs


# --- checks: nothing is reported that did not happen --------------------------------------------------------


def flagged(verdicts: dict[str, Any]) -> list[str]:
    return [name for name, verdict in verdicts.items() if verdict["drifted"]]


def check_driftline(summary: dict[str, Any], size: int, ks: bool) -> None:
    label = "Driftline with KS" if ks else "Driftline"
    if summary["records"] != size or summary["malformed_records"] or not summary["drift_judged"]:
        refuse(
            f"{label} read {summary['records']:,} of {size:,} records ({summary['malformed_records']} malformed, "
            f"judged: {summary['drift_judged']})"
        )
    if sorted(summary["drifted_features"]) != sorted(DRIFTED):
        refuse(f"{label} flagged {summary['drifted_features']} at {size:,} records, not the shifted {list(DRIFTED)}")
    numeric = [f for f in summary["features"].values() if f["type"] == "numeric"]
    if summary["ks_test"] is not ks or any((f.get("ks_statistic") is not None) is not ks for f in numeric):
        refuse(f"{label} {'lacks' if ks else 'reports'} KS statistics at {size:,} records")


def check_sides(runs: dict[str, Run], size: int) -> None:
    plain, with_ks = runs["driftline"].result, runs["driftline+ks"].result
    for name, feature in plain["features"].items():
        other = with_ks["features"][name]
        if (feature["distance"], feature["drifted"]) != (other["distance"], other["drifted"]):
            refuse(f"the KS test changed {name}'s verdict at {size:,} records: {feature} vs {other}")
    for label, compute, e2e in (("", "compute", "driftline"), (" with KS", "compute+ks", "driftline+ks")):
        if runs[compute].result != runs[e2e].result:
            refuse(f"Driftline's compute-only run{label} did not reproduce its end-to-end summary at {size:,}")
    floor = runs["floor"].result
    if floor["records"] != size or set(floor["features"]) != set(plain["features"]):
        refuse(f"the numpy floor read {floor['records']:,} records and {len(floor['features'])} features")
    for name, feature in plain["features"].items():
        theirs = floor["features"][name]
        if abs(theirs["value"] - feature["distance"]) > PSI_TOLERANCE or theirs["drifted"] != feature["drifted"]:
            refuse(f"the numpy floor's PSI of {name} is {theirs['value']:.6f}, Driftline's {feature['distance']}")
    if runs["evidently"].runs:
        evidently = runs["evidently"].result
        missing = sorted(set(plain["features"]) - set(evidently["features"]))
        if evidently["records"] != size or missing:
            refuse(f"Evidently read {evidently['records']:,} records and has no verdict on {missing}")


# --- output --------------------------------------------------------------------------------------------------


def table_row(label: str, side: str, run: Run, drifted: list[str]) -> str:
    assert run.compute is not None and run.compute_cpu is not None
    times = f"{run.wall:>6.2f} {run.cpu:>6.2f}  {run.compute:>7.3f} {run.compute_cpu:>6.3f}"
    return f"{label:>10}  {side:<27} {times} {run.peak:>7.0f}  {', '.join(drifted)}"


def report(size: int, runs: dict[str, Run], names: list[str], figures: Figures) -> None:
    """Print one size's rows and comparisons; add its figures (times in CPU seconds: see the docstring)."""
    ours, ks, floor, evidently = runs["driftline"], runs["driftline+ks"], runs["floor"], runs["evidently"]
    for side, compute in ((ours, runs["compute"]), (ks, runs["compute+ks"])):
        side.compute, side.compute_cpu = compute.compute, compute.compute_cpu
    assert ours.compute_cpu and ks.compute_cpu and floor.compute_cpu
    print(table_row(f"{size:,}", "driftline (ks_test: false)", ours, ours.result["drifted_features"]))
    print(table_row("", "driftline (ks_test: true)", ks, ks.result["drifted_features"]))
    print(table_row("", "numpy PSI floor", floor, flagged(floor.result["features"])))
    if evidently.runs:
        print(table_row("", EVIDENTLY, evidently, sorted(flagged(evidently.result["features"]), key=names.index)))
    n = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
    share = (ks.compute_cpu - ours.compute_cpu) / ks.compute_cpu
    print(
        f"{'':>10}  -> Driftline (CPU): {ours.cpu / floor.cpu:.2f}x the floor end to end, "
        f"{ours.compute_cpu / floor.compute_cpu:.2f}x compute only; {ours.peak / floor.peak:.2f}x its memory"
    )
    print(
        f"{'':>10}  -> the KS test is {share:.0%} of Driftline's compute with it on "
        f"({ks.compute_cpu - ours.compute_cpu:.3f} of {ks.compute_cpu:.3f} CPU s; {ks.cpu - ours.cpu:+.2f} s end to "
        f"end);\n{'':>10}     verdicts and PSI values identical with and without it"
    )
    figures.add(
        f"KS test's share of Driftline's compute, {n} records",
        100 * share,
        "%",
        aim="stated; off by default (monitoring.ks_test: false), as it decides nothing",
        note=f"compute CPU {ks.compute_cpu:.3f} s with KS, {ours.compute_cpu:.3f} s without; verdicts identical",
    )
    figures.add(
        f"Driftline end to end (CPU) with monitoring.ks_test: true, {n} records",
        ks.cpu,
        "s",
        baseline=ours.cpu,
        baseline_name="ks_test: false (the default)",
        note=f"wall {ks.wall:.2f} s vs {ours.wall:.2f} s on a shared machine",
    )
    for what, value, base, wall in (
        ("end to end (CPU)", ours.cpu, floor.cpu, (ours.wall, floor.wall)),
        ("compute only (CPU)", ours.compute_cpu, floor.compute_cpu, (ours.compute, floor.compute)),
        ("peak memory", ours.peak, floor.peak, None),
    ):
        figures.add(
            f"Driftline {what} vs the numpy PSI floor, {n} records",
            value,
            "MiB" if wall is None else "s",
            baseline=base,
            baseline_name="numpy PSI over the same bins (pandas.read_csv to parse)",
            note=f"largest of {ours.runs} runs"
            if wall is None
            else f"best of {ours.runs}; wall {wall[0]:.2f} vs {wall[1]:.2f} s",
        )
    if not evidently.runs:
        return
    assert evidently.compute_cpu and evidently.compute
    split = evidently.result["seconds"]
    agree = sum(
        ours.result["features"][name]["drifted"] == evidently.result["features"][name]["drifted"] for name in names
    )
    print(
        f"{'':>10}  -> against Evidently (CPU): {evidently.cpu / ours.cpu:.1f}x faster end to end, "
        f"{evidently.compute_cpu / ours.compute_cpu:.1f}x compute only; {ours.peak / evidently.peak:.2f}x its memory;"
        f"\n{'':>10}     verdicts agree on {agree}/{len(names)} features. Evidently's {evidently.wall:.1f} s wall: "
        f"{split['import']:.1f} importing, {split['load']:.1f} reading the capture, {split['compute']:.1f} in "
        "Report.run"
    )
    for what, value, base, wall in (
        ("end to end (CPU)", ours.cpu, evidently.cpu, (ours.wall, evidently.wall)),
        ("compute only (CPU)", ours.compute_cpu, evidently.compute_cpu, (ours.compute, evidently.compute)),
        ("peak memory", ours.peak, evidently.peak, None),
    ):
        figures.add(
            f"Driftline {what} vs Evidently, {n} records",
            value,
            "MiB" if wall is None else "s",
            baseline=base,
            baseline_name=f"{EVIDENTLY} DataDriftPreset" + (" (Report.run)" if "compute" in what else ""),
            aim="below Evidently's",
            holds=value < base,
            note=f"Evidently: one run; verdicts agree on {agree}/{len(names)} features"
            + ("" if wall is None else f"; wall {wall[0]:.2f} vs {wall[1]:.2f} s"),
        )


def print_features(names: list[str], runs: dict[str, Run]) -> None:
    ours, ks = runs["driftline"].result, runs["driftline+ks"].result
    floor, evidently = runs["floor"].result, runs["evidently"].result if runs["evidently"].runs else None
    print(f"\nPer feature at {ours['records']:,} records (Driftline threshold {ours['drift_threshold']}):")
    header = f"{'feature':<16} {'PSI':>9} {'floor PSI':>10} {'KS':>7} {'drift':>6}"
    print(header + ("   evidently method              value  drift" if evidently else ""))
    for name in names:
        mine = ours["features"][name]
        statistic = ks["features"][name].get("ks_statistic")
        line = (
            f"{name:<16} {mine['distance']:>9.4f} {floor['features'][name]['value']:>10.4f} "
            f"{'-' if statistic is None else f'{statistic:.3f}':>7} {'yes' if mine['drifted'] else 'no':>6}"
        )
        if evidently:
            other = evidently["features"][name]
            line += f"   {other['method']:<29} {other['value']:>6.3f} {'yes' if other['drifted'] else 'no':>6}"
        print(line)


def main() -> None:
    args = parse_args()
    if args.write:  # the data-writing child
        directory, records = Path(args.write[0]), int(args.write[1])
        write_reference(directory) if records == 0 else write_capture(directory, records)
        return
    evidently = not args.skip_evidently
    if evidently and not EVIDENTLY_PYTHON.exists():
        refuse(
            f"Evidently's venv {EVIDENTLY_PYTHON.parent.parent} is missing: run `make bench-deps` (or --skip-evidently)"
        )
    figures = Figures("monitor")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as scratch:
        root = args.workdir or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, __file__, "--write", str(root), "0"], check=True)
        names = [f["name"] for f in json.loads((root / "baseline" / "preprocessor.json").read_text())["features"]]
        print(
            f"Drift monitor on captured traffic: {len(names)} features (bank-marketing schema), "
            f"{REFERENCE_ROWS:,} reference rows;\ndrifted by construction: {', '.join(DRIFTED)}; "
            f"the other {len(names) - len(DRIFTED)} drawn from the reference distribution. "
            f"Times: best of {args.repeat} (Evidently: 1).\n"
        )
        print(f"{'':>10}  {'':<27} {'end to end (s)':<14} {'compute only (s)':<17}")
        print(f"{'records':>10}  {'monitor':<27} {'wall':>6} {'CPU':>6}  {'wall':>7} {'CPU':>6} {'MiB':>7}  drifted")
        bench = Bench(root, args.repeat, evidently)
        measured = {}
        for size in args.sizes:
            measured[size] = bench.measure(size)
            report(size, measured[size], names, figures)
        print_features(names, measured[args.sizes[-1]])
    print(f"\nbench/monitor.py took {time.perf_counter() - started:.0f} s")
    figures.write_if_asked(args.json)


if __name__ == "__main__":
    main()
