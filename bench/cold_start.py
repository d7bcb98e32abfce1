"""Cold initialisation of every handler in a fresh interpreter, beside a bare boto3 handler.

Cold init = importing the handler module (and the layer) plus creating its first AWS clients, which
is what a Lambda cold start pays before the first event. Run: `.venv/bin/python bench/cold_start.py`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 5
ENV = os.environ | {
    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x", "DATA_BUCKET": "d", "ARTIFACT_BUCKET": "a", "STATE_TABLE": "t",
    "ON_CALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t", "PYTHONPATH": str(REPO / "layers" / "common"),
}
BARE = """
import time; t = time.perf_counter()
import boto3
boto3.client("s3")
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


def measure(code: str) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> None:
    baseline = measure(BARE)
    print(f"{'handler':28} {'cold init (ms)':>15} {'x bare boto3':>13}")
    print(f"{'bare boto3 handler':28} {baseline * 1000:15.0f} {1.0:13.2f}")
    for folder in sorted((REPO / "functions").iterdir()):
        seconds = measure(HANDLER.format(path=str(folder)))
        print(f"{folder.name:28} {seconds * 1000:15.0f} {seconds / baseline:13.2f}")
    print(f"(median of {RUNS} fresh interpreters each; aim: no handler above 1.5x)")


if __name__ == "__main__":
    main()
