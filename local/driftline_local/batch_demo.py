"""Batch predictions on the local cloud, the way a team uses them: drop a CSV in batch/<model>/, read
predictions/<model>/<name>.out.

For `make demo` (and the e2e test): `show_batch_predictions(clients, stack, model, frame)` drops a file of
unlabelled rows with an id column, waits for its transform job to write the `.out` object (or for the job to
fail, whose reason it raises), and prints the first rows: each output row is its input row (id first, then
the production model's features in its order) followed by the prediction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from boto3.dynamodb.types import TypeDeserializer

from driftline_local.loop import Clients, Stack

Progress = Callable[[str], None]


class BatchFailed(Exception):
    """The drop was quarantined or its transform job failed; the message says which and why."""


@dataclass
class BatchResult:
    model: str
    key: str
    output_key: str
    job_name: str
    rows: list[list[str]]  # the .out file: id, features in the model's order, prediction
    seconds: float


def drop_batch(clients: Clients, stack: Stack, model: str, frame: pd.DataFrame, name: str = "batch-001.csv") -> str:
    """Upload `frame` (with its header) as batch/<model>/<name>; returns the key."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    key = f"batch/{model}/{name}"
    clients("s3").put_object(Bucket=stack.data_bucket, Key=key, Body=buffer.getvalue().encode())
    return key


def wait_for_predictions(
    clients: Clients, stack: Stack, model: str, key: str, since: float, timeout: float = 600
) -> BatchResult:
    """Wait for the batch record of `key` to finish; the .out rows, or BatchFailed with the reason."""
    table = clients("dynamodb")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = _latest_batch(table, stack, model, key, since)
        if record and record.get("status") == "COMPLETED":
            body = clients("s3").get_object(Bucket=stack.data_bucket, Key=record["output_key"])["Body"].read()
            rows = list(csv.reader(io.StringIO(body.decode())))
            return BatchResult(model, key, record["output_key"], record["job"], rows, time.time() - since)
        if record and record.get("status") in {"FAILED", "STOPPED"}:
            raise BatchFailed(f"transform job {record['job']} {record['status']}: {record.get('failure_reason')}")
        problem = _quarantined_or_kept(clients, stack, model, key, since)
        if problem:
            raise BatchFailed(problem)
        time.sleep(0.5)
    raise TimeoutError(f"no predictions for {key} within {timeout:.0f}s")


def show_batch_predictions(
    clients: Clients, stack: Stack, model: str, frame: pd.DataFrame, shown: int = 5, progress: Progress = print
) -> BatchResult:
    """Drop `frame` as a batch file, wait for its predictions and print the first `shown` rows."""
    since = time.time()
    key = drop_batch(clients, stack, model, frame)
    progress(f"dropped s3://{stack.data_bucket}/{key} ({len(frame)} rows); waiting for the transform job")
    result = wait_for_predictions(clients, stack, model, key, since)
    progress(
        f"{len(result.rows)} predictions in s3://{stack.data_bucket}/{result.output_key} "
        f"(job {result.job_name}, {result.seconds:.1f} s); the first {min(shown, len(result.rows))}:"
    )
    for row in result.rows[:shown]:
        progress(f"  id {row[0]}: {', '.join(row[1:4])}, ... -> prediction {row[-1]}")
    return result


def _latest_batch(table: Any, stack: Stack, model: str, key: str, since: float) -> dict[str, Any] | None:
    items = table.query(
        TableName=stack.state_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": f"MODEL#{model}"}, ":sk": {"S": "BATCH#"}},
        ConsistentRead=True,
    )["Items"]
    records = [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in items]
    mine = [r for r in records if r.get("file") == key and str(r.get("started_at", "")) >= _iso(since)]
    return max(mine, key=lambda r: str(r.get("started_at")), default=None)


def _quarantined_or_kept(clients: Clients, stack: Stack, model: str, key: str, since: float) -> str | None:
    listing = clients("s3").list_objects_v2(Bucket=stack.data_bucket, Prefix=f"quarantine/{model}/")
    name = key.rsplit("/", 1)[-1]
    for obj in listing.get("Contents", []):
        if obj["Key"].endswith(f"/{name}.reason.json") and obj["LastModified"].timestamp() >= since - 1:
            reason = clients("s3").get_object(Bucket=stack.data_bucket, Key=obj["Key"])["Body"].read().decode()
            return f"the batch file was quarantined: {reason}"
    return None


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment - 1, dt.UTC).isoformat()
