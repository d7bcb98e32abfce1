"""Cold initialisation of every handler in a fresh interpreter, beside a bare boto3 handler.

Cold init = importing the handler module (and the layer) plus creating its first AWS clients, which
is what a Lambda cold start pays before the first event. The baseline is a bare boto3 handler that
creates the same first clients (S3 and the DynamoDB table), so the ratio is what Driftline's own
code and libraries add. Baseline and handler runs alternate, so a slow moment on a busy machine
hits both sides: the ratio is the median of the ratios of adjacent runs (this machine's speed drifts
by ±20 % within a minute, far more than the differences measured). Run: `.venv/bin/python bench/cold_start.py`.
"""

from __future__ import annotations

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
boto3.client("s3"); boto3.resource("dynamodb").Table("t")
print(time.perf_counter() - t)
"""
HANDLER = """
import sys, time; t = time.perf_counter()
sys.path.insert(0, {path!r})
import app
from driftline import aws
aws.client("s3"); aws.table("t")
print(time.perf_counter() - t)
"""


def run_once(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def measure_pair(code: str) -> tuple[float, float, float]:
    """Median cold init of the handler and of the bare baseline, and the median ratio of adjacent runs."""
    handler, bare = [], []
    for _ in range(RUNS):
        bare.append(run_once(BARE))
        handler.append(run_once(code))
    ratio = statistics.median(h / b for h, b in zip(handler, bare, strict=True))
    return statistics.median(handler), statistics.median(bare), ratio


def main() -> None:
    print(f"{'handler':28} {'cold init (ms)':>15} {'bare boto3 (ms)':>16} {'x bare boto3':>13}")
    worst = 0.0
    for folder in sorted((REPO / "functions").iterdir()):
        seconds, baseline, ratio = measure_pair(HANDLER.format(path=str(folder)))
        worst = max(worst, ratio)
        print(f"{folder.name:28} {seconds * 1000:15.0f} {baseline * 1000:16.0f} {ratio:13.2f}")
    print(f"worst: {worst:.2f}x (median of {RUNS} fresh interpreters each, alternating with the baseline; "
          "aim: no handler above 1.5x)")


if __name__ == "__main__":
    main()
