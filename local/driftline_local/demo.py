"""`driftline demo`: the whole training loop on a fresh local cloud, with progress and a summary."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.loop import FAST_TIMINGS, Clients, RunResult, Stack, onboard_model, predict, upload_frames, wait_for_run
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing
from driftline_local.sns import read_mailbox

MODEL = "bank-marketing"
# Fewer boosting rounds keep the demo to a couple of minutes on two cores; everything else is default.
DEMO_CONFIG = SAMPLE_MODEL_YAML + FAST_TIMINGS + "training:\n  hyperparameters:\n    num_round: 60\n"


class Console:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)


def run_demo(rows: int = 6000, files: int = 3, workdir: Path | None = None) -> int:
    say = Console()
    workdir = workdir or REPO_ROOT / ".local-cloud" / "demo"
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh cloud: no pages or jobs from an earlier demo
    say("starting the local cloud (moto + Driftline's execution extensions)")
    with LocalCloud(port=0, workdir=workdir) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        clients = Clients(cloud.endpoint_url, cloud.ctx.region)
        stack = Stack.describe(clients)
        say(f"stack 'driftline' deployed at {cloud.endpoint_url}; data bucket {stack.data_bucket}")

        say(f"onboarding model '{MODEL}': s3://{stack.data_bucket}/models/{MODEL}/model.yaml")
        onboard_model(clients, stack, DEMO_CONFIG, MODEL)

        data = generate_bank_marketing(rows, seed=7)
        size = -(-len(data) // files)
        parts = [data.iloc[i : i + size] for i in range(0, len(data), size)]
        say(f"uploading {rows} labelled rows as a burst of {files} CSV files, plus one broken file")
        since = upload_frames(clients, stack, MODEL, parts)
        clients("s3").put_object(Bucket=stack.data_bucket, Key=f"incoming/{MODEL}/broken.csv",
                                 Body=b"age,job,outcome\n41,admin.,no\n")
        result = wait_for_run(clients, stack, MODEL, since, say)
        say(f"run finished: {result.status} in {result.seconds:.1f}s from the first upload")

        predictions = []
        if result.status == "SUCCEEDED" and result.endpoint_name:
            fresh = generate_bank_marketing(5, seed=99)
            predictions = predict(clients, result.endpoint_name, fresh.drop(columns=["y", "duration"]))
            for (_, row), prediction in zip(fresh.iterrows(), predictions, strict=True):
                say(f"predict: age={row['age']:<3} job={row['job']:<13} -> P(yes)={prediction['score']:.3f} "
                    f"(actual {row['y']})")
        _summary(result, read_mailbox(cloud.ctx), cloud.endpoint_url)
        return 0 if result.status == "SUCCEEDED" and predictions else 1


def _summary(result: RunResult, mailbox: list[dict], endpoint_url: str) -> None:
    print("\n=== Driftline demo summary ===")
    print(f"run            {result.run_id}  ({result.status})")
    if result.metrics:
        print("test metrics   " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items())))
    if result.gate:
        print(f"quality gate   {'passed' if result.gate.get('passed') else 'FAILED'}: {'; '.join(result.gate.get('reasons', []))}")
    print(f"model version  {result.model_package_arn}")
    print(f"endpoint       {result.endpoint_name}  (local cloud {endpoint_url})")
    print(f"upload -> InService: {result.seconds:.1f}s")
    for step in result.steps:
        print(f"  {step.seconds:7.1f}s  {step.step}")
    print("pages to on-call:")
    for message in mailbox:
        print(f"  - {message.get('subject')}")
    if result.error:
        print(f"error          {result.error}")
