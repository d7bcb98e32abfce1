"""Cold initialisation of every handler in a fresh interpreter, beside a bare boto3 handler.

Cold init = importing the handler module (and the layer), which creates the handler's AWS clients
(`aws.prepare(...)` in its app.py): what a Lambda cold start pays before the first event. The
baseline is a bare boto3 handler that creates the same clients, so the ratio is what Driftline's own
code and libraries add. Baseline and handler runs alternate, so a slow moment on a busy machine
hits both sides: the ratio is the median of the ratios of adjacent runs (this machine's speed drifts
by ±20 % within a minute, far more than the differences measured). Run: `.venv/bin/python bench/cold_start.py`.
"""

from __future__ import annotations

import ast
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 15
ENV = os.environ | {
    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x", "DATA_BUCKET": "d", "ARTIFACT_BUCKET": "a", "STATE_TABLE": "t",
    "ON_CALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "PYTHONPATH": str(REPO / "layers" / "common"),
}
BARE = """
import time; t = time.perf_counter()
import boto3
for service in {services!r}:
    boto3.resource("dynamodb").Table("t") if service == "dynamodb" else boto3.client(service)
print(time.perf_counter() - t)
"""
HANDLER = """
import sys, time; t = time.perf_counter()
sys.path.insert(0, {path!r})
import app
print(time.perf_counter() - t)
"""


def prepared_services(app: Path) -> tuple[str, ...]:
    """The clients a handler creates at init: the arguments of its `aws.prepare(...)`."""
    for node in ast.walk(ast.parse(app.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "prepare":
            return tuple(arg.value for arg in node.args if isinstance(arg, ast.Constant))
    return ()


def run_once(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure_pair(code: str, bare_code: str) -> tuple[float, float, float]:
    """Median cold init of the handler and of the bare baseline, and the median ratio of adjacent runs."""
    handler, bare = [], []
    for _ in range(RUNS):
        bare.append(run_once(bare_code))
        handler.append(run_once(code))
    ratio = statistics.median(h / b for h, b in zip(handler, bare, strict=True))
    return statistics.median(handler), statistics.median(bare), ratio


def main() -> None:
    print(f"{'handler':26} {'clients':37} {'cold init (ms)':>14} {'bare boto3 (ms)':>15} {'x bare':>7}")
    worst = 0.0
    for folder in sorted((REPO / "functions").iterdir()):
        services = prepared_services(folder / "app.py")
        seconds, baseline, ratio = measure_pair(HANDLER.format(path=str(folder)), BARE.format(services=services))
        worst = max(worst, ratio)
        print(f"{folder.name:26} {' '.join(services):37} {seconds * 1000:14.0f} {baseline * 1000:15.0f} {ratio:7.2f}")
    print(f"worst: {worst:.2f}x (median of {RUNS} fresh interpreters each, alternating with the baseline; "
          "aim: no handler above 1.5x)")


if __name__ == "__main__":
    main()
