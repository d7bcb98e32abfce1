"""Spot interruptions: rounds redone, training time and model quality against an uninterrupted run.

Run: `.venv/bin/python bench/spot.py [--rows 30000] [--rounds 600] [--seed 1]`. Starts a fresh local cloud
(no stack: the real preprocess job once, then one real training job per k), and for k = 0, 1, 2, 3
reclaims the job's spot capacity k times at random points. Capacity comes back each time, so SageMaker
(here the local cloud) restarts the job in place and jobs/train.py resumes from the newest checkpoint.
k = 0 is the uninterrupted baseline of the same run.

Printed per k:
- rounds redone per interruption (aim: <= the checkpoint interval): rounds done when the job was
  stopped minus the round it resumed from;
- training time (TrainingStartTime -> TrainingEndTime) against k = 0, and the same without the restart
  overhead (from the SIGTERM checkpoint to the resumed job's first round, read from the job's log: the
  notice period, new instance, process start, data and checkpoint load), aim <= 1.2x plus that overhead;
- test AUC against k = 0 (aim: the same to the reported precision) and the largest prediction difference.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from driftline.config import ModelConfig
from driftline.sagemaker_requests import RunContext, preprocess_request, training_request
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.images import resolve_image_uris
from driftline_local.loop import Clients
from driftline_local.publish import publish_jobs
from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption, runner
from driftline_local.sample_data import generate_bank_marketing
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(REPO_ROOT / "jobs"))
from _common import read_label_first  # noqa: E402  (job code, imported as the container would)

MODEL = "bench-spot"
ROLE_NAME = "bench-spot-jobs"
DATA_BUCKET, ARTIFACT_BUCKET = "bench-data", "bench-artifacts"
NOTICE_SECONDS = 2.0  # SageMaker gives two minutes; the local cloud scales it down
SIGTERM_LINE = re.compile(r"SIGTERM received: checkpoint-(\d+)\.json written")
RESUME_LINE = re.compile(r"resuming from checkpoint-(\d+)\.json")
ROUND_LINE = re.compile(r"\bround=(\d+)")
EARLY_SIGTERM_LINE = re.compile(r"SIGTERM received before training started")
FIRST_ROUND_LINE = re.compile(r"training on \d+ rows")  # data loaded: a fresh start after an early stop


@dataclass
class Outcome:
    k: int
    seconds: float
    overhead: float
    redone: list[int]
    auc: float
    predictions: np.ndarray


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--interval", type=int, default=10, help="checkpoint interval (rounds)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    config = ModelConfig.model_validate({
        "name": MODEL, "problem_type": "binary_classification", "target": "y", "drop_columns": ["duration"],
        "training": {"checkpoint_interval": args.interval, "hyperparameters": {"num_round": args.rounds}},
    })
    with tempfile.TemporaryDirectory() as workdir, LocalCloud(port=0, workdir=workdir) as cloud:
        clients = Clients(cloud.endpoint_url)
        prepared = prepare(clients, config, args.rows)
        outcomes: list[Outcome] = []
        for k in range(4):
            points = interruption_rounds(rng, k, args.rounds, args.interval)
            outcomes.append(train(clients, prepared, config, k, points))
            print(f"k={k} done in {outcomes[-1].seconds:.1f}s", file=sys.stderr)
        report(outcomes, args)


def interruption_rounds(rng: random.Random, k: int, rounds: int, interval: int) -> list[int]:
    """k rounds between 10 % and 90 % of training, at least two checkpoints apart (each must land)."""
    while True:
        points = sorted(int(rng.uniform(0.1, 0.9) * rounds) for _ in range(k))
        if all(b - a >= 2 * interval for a, b in zip(points, points[1:], strict=False)):
            return points


def context(config: ModelConfig, run: str) -> RunContext:
    images = resolve_image_uris("us-east-1")
    return RunContext(config=config, run_id=run, data_bucket=DATA_BUCKET, artifact_bucket=ARTIFACT_BUCKET,
                      role_arn=f"arn:aws:iam::123456789012:role/{ROLE_NAME}", training_image=images["TrainingImageUri"],
                      processing_image=images["ProcessingImageUri"])


def prepare(clients: Clients, config: ModelConfig, rows: int) -> RunContext:
    """The real preprocessing job once; every k trains on its outputs."""
    s3 = clients("s3")
    for bucket in (DATA_BUCKET, ARTIFACT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    # The local cloud enforces IAM: SageMaker stages the jobs' data with their role, so it must exist.
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "sagemaker.amazonaws.com"}}]}
    clients("iam").create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    clients("iam").put_role_policy(RoleName=ROLE_NAME, PolicyName="bench-buckets", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*",
                       "Resource": [f"arn:aws:s3:::{b}{suffix}" for b in (DATA_BUCKET, ARTIFACT_BUCKET)
                                    for suffix in ("", "/*")]}],
    }))
    publish_jobs(s3, ARTIFACT_BUCKET, REPO_ROOT / "jobs")
    buffer = io.StringIO()
    generate_bank_marketing(rows, seed=5).to_csv(buffer, index=False)
    s3.put_object(Bucket=DATA_BUCKET, Key=f"incoming/{MODEL}/data.csv", Body=buffer.getvalue().encode())
    ctx = context(config, f"{MODEL}-prepared")
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ctx.config_uri.split("/", 3)[3], Body=config.model_dump_json().encode())
    request = preprocess_request(ctx)
    clients("sagemaker").create_processing_job(**request)
    runner().wait("processing", request["ProcessingJobName"], timeout=600)
    status = clients("sagemaker").describe_processing_job(ProcessingJobName=request["ProcessingJobName"])
    if status["ProcessingJobStatus"] != "Completed":
        raise SystemExit(f"preprocessing failed: {status.get('FailureReason')}")
    return ctx


def train(clients: Clients, prepared: RunContext, config: ModelConfig, k: int, points: list[int]) -> Outcome:
    ctx = context(config, f"{MODEL}-k{k}")
    s3 = clients("s3")
    source_prefix = prepared.artifacts().split("/", 3)[3]
    for item in s3.list_objects_v2(Bucket=ARTIFACT_BUCKET, Prefix=source_prefix).get("Contents", []):
        s3.copy_object(Bucket=ARTIFACT_BUCKET, CopySource={"Bucket": ARTIFACT_BUCKET, "Key": item["Key"]},
                       Key=item["Key"].replace(f"/runs/{prepared.run_id}/", f"/runs/{ctx.run_id}/", 1))
    request = training_request(ctx)
    name = request["TrainingJobName"]
    # Each interruption lands where training got to that round (not seconds after the start: a busy machine
    # can finish the job first, and the bench would report an interruption that never happened).
    plans = [
        plan_training_interruption(
            PlannedInterruption(name, ROUND_LINE, at_least=r, notice_seconds=NOTICE_SECONDS, outcome="resume")
        )
        for r in points
    ]
    clients("sagemaker").create_training_job(**request)
    runner().wait("training", name, timeout=1800)
    described = clients("sagemaker").describe_training_job(TrainingJobName=name)
    if described["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"{name} ended {described['TrainingJobStatus']}: {described.get('FailureReason')}")
    seconds = (described["TrainingEndTime"] - described["TrainingStartTime"]).total_seconds()
    auc, predictions = score(clients, ctx, described["ModelArtifacts"]["S3ModelArtifacts"])
    redone, lost = rounds_redone(clients, name)
    if not all(plan.fired.is_set() for plan in plans) or len(redone) != k:
        raise SystemExit(f"k={k}: {sum(p.fired.is_set() for p in plans)} of {k} interruptions landed and "
                         f"{len(redone)} restarts were logged; the figures would not be about {k} interruptions")
    return Outcome(k, seconds, lost, redone, auc, predictions)


def rounds_redone(clients: Clients, job: str) -> tuple[list[int], float]:
    """Per interruption, rounds done when it was stopped minus the round the restart resumed from; and the
    seconds from each stop to training again (notice, new instance, process start, checkpoint load)."""
    logs = clients("logs")
    events: list[dict[str, Any]] = []
    for stream in logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                            logStreamNamePrefix=job)["logStreams"]:
        events += logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                      logStreamName=stream["logStreamName"], startFromHead=True)["events"]
    redone: list[int] = []
    lost = 0.0
    stopped, stopped_at, restarted_at = 0, None, None
    for event in sorted(events, key=lambda e: e["timestamp"]):
        line, at = event["message"], event["timestamp"] / 1000
        if match := SIGTERM_LINE.search(line):
            stopped, stopped_at = int(match.group(1)), at
        elif EARLY_SIGTERM_LINE.search(line):
            stopped, stopped_at = 0, at
        elif stopped_at is not None and FIRST_ROUND_LINE.search(line):
            restarted_at = at  # the restarted job has loaded its data
        elif restarted_at is not None and (RESUME_LINE.search(line) or ROUND_LINE.search(line)):
            match = RESUME_LINE.search(line)
            redone.append(max(0, stopped - (int(match.group(1)) if match else 0)))
            lost += restarted_at - stopped_at
            stopped_at, restarted_at = None, None
    return redone, lost


def score(clients: Clients, ctx: RunContext, model_uri: str) -> tuple[float, np.ndarray]:
    s3 = clients("s3")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bucket, key = model_uri.removeprefix("s3://").split("/", 1)
        with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
            tar.extractall(work / "model", filter="data")
        prefix = ctx.artifacts("test/").split("/", 3)[3]
        for item in s3.list_objects_v2(Bucket=ARTIFACT_BUCKET, Prefix=prefix)["Contents"]:
            target = work / "test" / Path(item["Key"]).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=ARTIFACT_BUCKET, Key=item["Key"])["Body"].read())
        labels, features = read_label_first(work / "test")
        booster = xgb.Booster(model_file=str(next((work / "model").rglob("xgboost-model.json"))))
        predictions = booster.predict(xgb.DMatrix(features))
    return float(roc_auc_score(labels, predictions)), predictions


def report(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    base = outcomes[0]
    print(f"spot interruptions: {args.rows} rows, {args.rounds} rounds, checkpoint every {args.interval} rounds, "
          f"notice {NOTICE_SECONDS:.0f}s, seed {args.seed}")
    print(f"{'k':>2} {'rounds redone per interruption':>32} {'training s':>11} {'x k=0':>6} "
          f"{'restart s':>10} {'x k=0 w/o restart':>18} {'test AUC':>9} {'max |pred diff|':>16}")
    for o in outcomes:
        redone = ",".join(str(r) for r in o.redone) or "-"
        print(f"{o.k:>2} {redone:>32} {o.seconds:>11.1f} {o.seconds / base.seconds:>6.2f} {o.overhead:>10.1f} "
              f"{(o.seconds - o.overhead) / base.seconds:>18.2f} {o.auc:>9.4f} "
              f"{float(np.max(np.abs(o.predictions - base.predictions))):>16.2e}")
    worst = max((r for o in outcomes for r in o.redone), default=0)
    print(json.dumps({"max_rounds_redone": worst, "aim_rounds_redone": args.interval,
                      "same_auc": all(f"{o.auc:.4f}" == f"{base.auc:.4f}" for o in outcomes)}))


if __name__ == "__main__":
    main()
