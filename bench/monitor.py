"""The drift monitor (jobs/monitor.py) beside Evidently's data-drift report, on the same captured traffic.

Both run as fresh subprocesses on the same files: a 50,000-row reference (baseline.csv and
preprocessor.json, as preprocessing writes them) and N records of endpoint data capture (SageMaker's
JSONL, one CSV request per line, 20 bank-marketing columns). Four features are drifted by construction
(a population shift of age, contact, month and euribor3m); the other sixteen come from the reference's
own distribution. Time is wall-clock from start to exit; memory is the child's peak resident set
(ru_maxrss from wait4). Evidently cannot read capture files, so its side does what a user would do:
json.loads each line, pandas.read_csv the request bodies, then Report([DataDriftPreset()]) with its
default tests (normed Wasserstein for numbers, Jensen-Shannon for categories above 1,000 rows).

Run: `.venv/bin/python bench/monitor.py` (about two minutes; `--sizes 100000` for a quick look).
Evidently needs pandas < 3, so it runs from its own venv (see bench/requirements-evidently.txt); without
it, this prints the command that creates it and Driftline's figures alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EVIDENTLY_PYTHON = REPO / ".venv" / "bench-evidently" / "bin" / "python"
EVIDENTLY_SETUP = (
    f"python3.11 -m venv {REPO}/.venv/bench-evidently && "
    f"{REPO}/.venv/bench-evidently/bin/pip install -r {REPO}/bench/requirements-evidently.txt"
)
REFERENCE_ROWS = 50_000
DRIFTED = ("age", "contact", "month", "euribor3m")
RECORDS_PER_FILE = 50_000
OUTPUT = json.dumps(json.dumps({"predictions": [{"label": "no", "score": 0.0412}]}))

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
loaded = time.perf_counter()
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
verdicts = {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type", "").endswith(":ValueDrift"):
        method, value, threshold = config["method"], float(metric["value"]), float(config["threshold"])
        drifted = value < threshold if "p_value" in method else value >= threshold
        verdicts[config["column"]] = {"method": method, "value": value, "threshold": threshold, "drifted": drifted}
times = {"import": imported - started, "load": loaded - imported, "report": time.perf_counter() - loaded}
Path(result).write_text(json.dumps({"seconds": times, "features": verdicts}))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="captured records")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated files here")
    parser.add_argument("--write", nargs=2, metavar=("DIR", "RECORDS"), help=argparse.SUPPRESS)
    return parser.parse_args()


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


def prepare(command: list[str]) -> None:
    """Write test data in a child, so that this process stays small (see run_measured)."""
    subprocess.run(command, check=True)


def run_measured(command: list[str], log: Path) -> tuple[float, float, float]:
    """Run a child to completion: (wall seconds, CPU seconds, peak RSS in MiB); fails loudly if it fails.

    A child's ru_maxrss also counts what it shared with this process before exec, which is why this
    process never holds the generated data.
    """
    started = time.perf_counter()
    with open(log, "w") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{' '.join(command[:2])} exited {child.returncode}; see {log}:\n{log.read_text()[-3000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux reports kilobytes


def run_driftline(root: Path, capture: Path, out: Path) -> tuple[float, float, float, dict[str, Any]]:
    command = [
        sys.executable,
        str(REPO / "jobs" / "monitor.py"),
        "--baseline-dir",
        str(root / "baseline"),
        "--capture-dir",
        str(capture),
        "--config",
        str(root / "config.json"),
        "--output-dir",
        str(out),
    ]
    seconds, cpu, peak = run_measured(command, out.with_suffix(".log"))
    return seconds, cpu, peak, json.loads((out / "drift_summary.json").read_text())


def run_evidently(root: Path, capture: Path, result: Path) -> tuple[float, float, float, dict[str, Any]]:
    command = [
        str(EVIDENTLY_PYTHON),
        "-c",
        EVIDENTLY_SIDE,
        str(root / "baseline" / "baseline.csv"),
        str(root / "baseline" / "preprocessor.json"),
        str(capture),
        str(result),
    ]
    seconds, cpu, peak = run_measured(command, result.with_suffix(".log"))
    return seconds, cpu, peak, json.loads(result.read_text())


def drifted(verdicts: dict[str, Any]) -> list[str]:
    return [name for name, verdict in verdicts.items() if verdict["drifted"]]


def row(label: str, monitor: str, wall: float, cpu: float, peak: float, flagged: list[str]) -> str:
    return f"{label:>10}  {monitor:<18} {wall:>9.1f} {cpu:>8.1f} {peak:>15.0f}  {', '.join(flagged)}"


def compare(root: Path, size: int, names: list[str], evidently: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Both monitors on `size` captured records; prints their rows and how they compare."""
    capture = root / f"capture-{size}"
    if not capture.exists():
        prepare([sys.executable, __file__, "--write", str(capture), str(size)])
    wall, cpu, peak, ours = run_driftline(root, capture, root / f"driftline-{size}")
    print(row(f"{size:,}", "driftline (PSI)", wall, cpu, peak, drifted(ours["features"])))
    if not evidently:
        return ours, None
    their_wall, their_cpu, their_peak, theirs = run_evidently(root, capture, root / f"evidently-{size}.json")
    flagged = sorted(drifted(theirs["features"]), key=names.index)
    print(row("", "evidently 0.7.23", their_wall, their_cpu, their_peak, flagged))
    differ = [n for n in names if ours["features"][n]["drifted"] != theirs["features"][n]["drifted"]]
    print(
        f"{'':>10}  -> Driftline is {their_wall / wall:.1f}x faster by the clock, {their_cpu / cpu:.1f}x by CPU time, "
        f"with {peak / their_peak:.2f}x the peak memory;\n{'':>10}     verdicts agree on "
        f"{len(names) - len(differ)}/{len(names)} features" + (f" (differ: {', '.join(differ)})" if differ else "")
    )
    split = theirs["seconds"]
    print(
        f"{'':>10}     (Evidently's {their_wall:.1f} s: {split['import']:.1f} importing, "
        f"{split['load']:.1f} reading the capture, {split['report']:.1f} in Report.run)"
    )
    return ours, theirs


def main() -> None:
    args = parse_args()
    if args.write:  # the data-writing child
        directory, records = Path(args.write[0]), int(args.write[1])
        write_reference(directory) if records == 0 else write_capture(directory, records)
        return
    evidently = EVIDENTLY_PYTHON.exists()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as scratch:
        root = args.workdir or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        prepare([sys.executable, __file__, "--write", str(root), "0"])
        names = [f["name"] for f in json.loads((root / "baseline" / "preprocessor.json").read_text())["features"]]
        print(
            f"Drift monitor on captured traffic: {len(names)} features (bank-marketing schema), "
            f"{REFERENCE_ROWS:,} reference rows;\ndrifted by construction: {', '.join(DRIFTED)}; "
            f"the other {len(names) - len(DRIFTED)} drawn from the reference distribution.\n"
        )
        if not evidently:
            print(f"Evidently's venv is missing, so only Driftline is measured. Create it with:\n  {EVIDENTLY_SETUP}\n")
        print(f"{'records':>10}  {'monitor':<18} {'wall (s)':>9} {'CPU (s)':>8} {'peak RSS (MiB)':>15}  drifted")
        results = [compare(root, size, names, evidently) for size in args.sizes]
        if results:
            print_features(names, *results[-1])


def print_features(names: list[str], ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    print(f"\nPer feature at {ours['records']:,} records (Driftline threshold {ours['drift_threshold']}):")
    header = f"{'feature':<16} {'PSI':>9} {'KS':>7} {'drift':>6}"
    print(header + ("   evidently method              value  drift" if theirs else ""))
    for name in names:
        mine = ours["features"][name]
        ks = f"{mine['ks_statistic']:.3f}" if mine.get("ks_statistic") is not None else "-"
        line = f"{name:<16} {mine['distance']:>9.4f} {ks:>7} {'yes' if mine['drifted'] else 'no':>6}"
        if theirs:
            other = theirs["features"][name]
            line += f"   {other['method']:<29} {other['value']:>6.3f} {'yes' if other['drifted'] else 'no':>6}"
        print(line)


if __name__ == "__main__":
    main()
