"""A burst of uploads: 1,000 files for 20 models in one quiet window must become exactly 20 runs.

The real `on_data_uploaded` handler runs in-process against moto (S3, DynamoDB, Step Functions, SNS),
8 invocations at a time, the events in shuffled order (EventBridge does not promise order). The bench
checks the outcome first (20 executions, one per model, 20 "started" and 980 "joined", nothing
quarantined), for the burst and for the same burst delivered one at a time (the baseline), and only
then prints how long each took. Run: `.venv/bin/python bench/burst.py [--json PATH]`.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "layers" / "common"))
REGION = "us-east-1"
MODELS = 20
UPLOADS = 1_000
WORKERS = 8
DATA = b"age,job,duration,y\n" + b"41,admin.,120,no\n35,technician,300,yes\n52,retired,80,no\n" * 50

os.environ.update(
    {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "Driftline",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "DATA_BUCKET": "data",
        "ARTIFACT_BUCKET": "artifacts",
        "STATE_TABLE": "state",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from figures import Figures, add_json_argument, refuse  # noqa: E402
from moto import mock_aws  # noqa: E402


class _Context:
    function_name = "on_data_uploaded"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:on_data_uploaded"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _handler(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "functions" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def _stack() -> None:
    s3 = boto3.client("s3")
    for bucket in ("data", "artifacts"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    boto3.client("dynamodb").create_table(
        TableName="state",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    os.environ["ON_CALL_TOPIC_ARN"] = boto3.client("sns").create_topic(Name="on-call")["TopicArn"]
    os.environ["TRAINING_PIPELINE_ARN"] = boto3.client("stepfunctions").create_state_machine(
        name="pipeline",
        roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}),
    )["stateMachineArn"]


def _event(key: str, version: str, sequencer: int, moment: datetime) -> dict:
    sample = json.loads((REPO / "events" / "data_uploaded.json").read_text())
    sample.update(id=f"event-{sequencer}", time=moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    sample["detail"]["bucket"]["name"] = "data"
    sample["detail"]["object"].update(key=key, size=len(DATA), sequencer=f"{sequencer:018X}")
    sample["detail"]["object"]["version-id"] = version
    return sample


def run_burst(workers: int) -> tuple[float, list[tuple[str, float]], Counter]:
    """Deliver the burst to a fresh stack, `workers` handlers at a time; refuse unless it became 20 runs."""
    with mock_aws():
        _stack()
        s3 = boto3.client("s3")
        on_config, on_data = _handler("on_config_uploaded"), _handler("on_data_uploaded")
        models = [f"model-{i:02d}" for i in range(MODELS)]
        for model in models:
            text = f"name: {model}\nproblem_type: binary_classification\ntarget: y\n"
            key = f"models/{model}/model.yaml"
            version = s3.put_object(Bucket="data", Key=key, Body=text.encode())["VersionId"]
            config_event = json.loads((REPO / "events" / "config_uploaded.json").read_text())
            config_event["detail"]["bucket"]["name"] = "data"
            config_event["detail"]["object"].update({"key": key, "size": len(text), "version-id": version})
            if on_config(config_event, _Context())["outcome"] != "activated":
                refuse(f"the config of {model} was not activated")
        start = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
        events = []
        for i in range(UPLOADS):  # within 50 s: one quiet window (settle_seconds 60)
            key = f"incoming/{models[i % MODELS]}/part-{i:04d}.csv"
            version = s3.put_object(Bucket="data", Key=key, Body=DATA)["VersionId"]
            events.append(_event(key, version, i + 1, start + timedelta(seconds=i * 50 // UPLOADS)))
        random.Random(7).shuffle(events)

        def deliver(event: dict) -> tuple[str, float]:
            began = time.perf_counter()
            outcome = on_data(copy.deepcopy(event), _Context())["outcome"]
            return outcome, time.perf_counter() - began

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(deliver, events))
        elapsed = time.perf_counter() - began

        executions = boto3.client("stepfunctions").list_executions(
            stateMachineArn=os.environ["TRAINING_PIPELINE_ARN"], maxResults=1000
        )["executions"]
        per_model = Counter(e["name"].rsplit("-upload-", 1)[0] for e in executions)
        outcomes = Counter(outcome for outcome, _ in results)
        if per_model != Counter({model: 1 for model in models}):
            refuse(f"{len(executions)} runs for {MODELS} models ({workers} at a time): {dict(per_model)}")
        if outcomes != Counter({"started": MODELS, "joined": UPLOADS - MODELS}):
            refuse(f"unexpected outcomes ({workers} at a time): {dict(outcomes)}")
    return elapsed, results, outcomes


def main() -> None:
    parser = argparse.ArgumentParser()
    add_json_argument(parser)
    args = parser.parse_args()
    figures = Figures("burst")
    serial_elapsed, _, _ = run_burst(workers=1)
    elapsed, results, outcomes = run_burst(workers=WORKERS)
    latencies = sorted(seconds for _, seconds in results)
    median, p95 = statistics.median(latencies), latencies[int(0.95 * len(latencies))]
    print(
        f"{UPLOADS} uploads for {MODELS} models, {WORKERS} handlers at a time (moto, in-process): "
        f"{MODELS} runs, one per model; outcomes {dict(outcomes)}"
    )
    print(
        f"burst handled in {elapsed:.1f} s ({UPLOADS / elapsed:.0f} uploads/s; the same burst one at a time: "
        f"{serial_elapsed:.1f} s); per upload: median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms"
    )
    figures.add(
        f"runs opened by {UPLOADS:,} uploads for {MODELS} models in one quiet window, {WORKERS} at a time",
        MODELS,
        "runs",
        aim=f"exactly {MODELS} (one per model)",
        holds=True,
        note=f"outcomes {dict(outcomes)}; the same for the serial baseline",
    )
    figures.add(
        f"burst of {UPLOADS:,} uploads, {WORKERS} handlers at a time",
        elapsed,
        "s",
        baseline=serial_elapsed,
        baseline_name="the same events one at a time",
        note=f"per upload median {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (moto in-process, one GIL)",
    )
    figures.write_if_asked(args.json)


if __name__ == "__main__":
    main()
