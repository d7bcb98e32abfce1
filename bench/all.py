"""`make bench`: every bench at a size that fits in about 15 minutes on 2 cores, one table, one JSON file.

Each bench runs in its own interpreter with `--json`, one after another (they would slow each other
down), its output kept in `bench/out/<name>.log`. A bench that refuses to report (what it was about to
claim did not happen) or fails is a row saying so, and makes this exit non-zero. The figures go to
`bench/results.json` with the machine and commit they were measured on, and `--readme` rewrites the
README's performance section (between the `bench:begin`/`bench:end` markers) from that file, so the
README's figures are never typed by hand.

Run: `.venv/bin/python bench/all.py [--only spot,monitor [--merge]] [--readme]`, or
`.venv/bin/python bench/all.py --readme-only` to regenerate the README from the last results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results.json"
LOGS = BENCH / "out"
README = REPO / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]  # the size that fits `make bench`'s budget
    what: str  # one line for the README


BENCHES = (
    Bench("cold_start", ("--quick",), "each handler's init against a bare boto3 handler creating the same clients"),
    Bench("burst", (), "1,000 uploads for 20 models in one quiet window, against the same burst one at a time"),
    Bench("monitor", ("--quick",), "the drift monitor against Evidently and a plain numpy PSI floor"),
    Bench(
        "spot",
        ("--rows", "100000", "--rounds", "1000"),
        "spot interruptions (with and without notice) against an uninterrupted run",
    ),
    Bench("loop", ("--quick",), "upload to InService, warm and cold, and drift to retraining on the local cloud"),
    Bench(
        "rollout",
        (),
        "canary promotion and rollbacks under steady traffic; a faulty candidate under canary vs shadow-canary",
    ),
    Bench("tuning", ("--quick",), "the local tuning job's Bayesian search against its random search, same trials"),
    Bench(
        "scale",
        ("--sizes", "10000,100000,1000000"),
        "preprocessing (statistics/encode) and evaluation from 10k to 1M rows, one instance and two "
        "(10M: `bench/scale.py --sizes 1000000,10000000`)",
    ),
)


def run_bench(bench: Bench) -> dict[str, Any]:
    """Run one bench; its figures, or why there are none."""
    LOGS.mkdir(exist_ok=True)
    log = LOGS / f"{bench.name}.log"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, str(BENCH / f"{bench.name}.py"), *bench.args, "--json", str(out)]
        began = time.monotonic()
        with log.open("w") as sink:
            sink.write(f"$ {' '.join(command[1:])}\n")
            sink.flush()
            code = subprocess.run(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, check=False).returncode
        seconds = time.monotonic() - began
        figures = json.loads(out.read_text()) if code == 0 and out.exists() else []
    command_line = f".venv/bin/python bench/{bench.name}.py {' '.join(bench.args)}".strip()
    result: dict[str, Any] = {
        "bench": bench.name,
        "command": command_line,
        "seconds": round(seconds, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
    }
    if code != 0 or not figures:
        tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
        result["failed"] = f"exit {code}: {tail[0]}" if code else "no figures written"
    result["figures"] = figures
    print(f"  {bench.name}: {len(figures)} figures in {seconds:.0f} s" + (f"; {result['failed']}" if code else ""))
    return result


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for result in results:
        if result.get("failed"):
            rows.append([result["bench"], "REFUSED OR FAILED: " + result["failed"], "", "", "", "", "no"])
        for f in result["figures"]:
            holds = "" if f["holds"] is None else ("yes" if f["holds"] else "NO")
            baseline = _number(f["baseline"], f["unit"])
            if baseline and f.get("baseline_name"):
                baseline += f" ({f['baseline_name']})"
            ratio = "" if f["ratio"] is None else f"{f['ratio']:.2f}x"
            rows.append([f["bench"], f["name"], _number(f["value"], f["unit"]), baseline, ratio, f["aim"] or "", holds])
    return rows


HEADER = ["bench", "figure", "value", "baseline", "ratio", "aim", "holds?"]


def print_table(rows: list[list[str]]) -> None:
    widths = [min(max(len(row[i]) for row in [HEADER, *rows]), 70) for i in range(len(HEADER))]
    for row in [HEADER, ["-" * w for w in widths], *rows]:
        print("  ".join(cell[:70].ljust(width) for cell, width in zip(row, widths, strict=True)))


def readme_section(document: dict[str, Any]) -> str:
    machine = document["machine"]
    lines = [
        BEGIN,
        "<!-- generated by `make bench` (bench/all.py --readme) from bench/results.json: do not edit by hand -->",
        f"Measured {document['measured_at'][:16].replace('T', ' ')} UTC on commit `{document['commit'][:10]}`, "
        f"{machine['cpus']} CPUs, Python {machine['python']}, in {document['seconds'] / 60:.0f} min "
        "(`make bench`). Ratios are value / baseline, both measured in the same run.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for row in table_rows(document["results"]):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    lines += ["", "Each bench alone (figures beside their notes in `bench/results.json`):", ""]
    described = {bench.name: bench.what for bench in BENCHES}
    for result in document["results"]:
        when = ""
        if result.get("commit") and result["commit"] != document["commit"]:  # kept from an earlier run (--merge)
            when = f"; measured {result['measured_at'][:16].replace('T', ' ')} UTC on `{result['commit'][:10]}`"
        lines.append(f"- `{result['command']}`: {described.get(result['bench'], '')} ({result['seconds']:.0f} s{when})")
    lines.append(END)
    return "\n".join(lines)


def write_readme(document: dict[str, Any]) -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} section to regenerate")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + readme_section(document) + tail)


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated bench names (default: all)")
    parser.add_argument("--readme", action="store_true", help="rewrite the README's performance section")
    parser.add_argument("--readme-only", action="store_true", help="only regenerate the README from results.json")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --only: replace those benches' results in results.json and keep the others' (each result says "
        "when and on which commit it was measured; the README says so for any not from the latest run)",
    )
    args = parser.parse_args()
    if args.readme_only:
        write_readme(json.loads(RESULTS.read_text()))
        return 0
    chosen = set(args.only.split(",")) if args.only else {bench.name for bench in BENCHES}
    unknown = chosen - {bench.name for bench in BENCHES}
    if unknown:
        raise SystemExit(f"unknown bench {sorted(unknown)}; choose from {[b.name for b in BENCHES]}")
    print(f"Running {len(chosen)} benches one after another (logs in {LOGS.relative_to(REPO)}/):")
    results = [run_bench(bench) for bench in BENCHES if bench.name in chosen]
    if args.merge and RESULTS.exists():
        earlier = json.loads(RESULTS.read_text())
        # results written before each result carried its own stamp take the run's
        stamp = {"measured_at": earlier["measured_at"], "commit": earlier["commit"]}
        kept = {r["bench"]: stamp | r for r in earlier["results"] if r["bench"] not in chosen}
        fresh = {r["bench"]: r for r in results}
        results = [fresh.get(b.name) or kept[b.name] for b in BENCHES if b.name in fresh or b.name in kept]
    document: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "seconds": round(sum(float(r["seconds"]) for r in results), 1),
        "results": results,
    }
    print()
    print_table(table_rows(results))
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n{RESULTS.relative_to(REPO)} written ({document['seconds'] / 60:.1f} min)")
    if args.readme and (not args.only or args.merge):
        write_readme(document)
        print("README.md performance section regenerated")
    failed = [result["bench"] for result in results if result.get("failed")]
    if failed:
        print(f"refused or failed: {', '.join(failed)} (see {LOGS.relative_to(REPO)}/<name>.log)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
