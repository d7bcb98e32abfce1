"""Local upload-to-InService time, the share spent outside the SageMaker jobs, and drift-to-retraining latency.

Run: `.venv/bin/python bench/loop.py [--rows 6000]`. Starts a fresh local cloud (time scale 30), onboards
the sample model, uploads a burst of files and follows the run to a served endpoint. Then traffic from a
shifted population starts and the bench measures how long until the drift retrain starts, against the
monitoring interval (aim: within two intervals).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from driftline.monitoring import interval_seconds
from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.demo import DEMO_CONFIG, ENDPOINT, MODEL, TIME_SCALE
from driftline_local.loop import (
    Clients,
    Stack,
    Traffic,
    onboard_model,
    sagemaker_job_seconds,
    upload_frames,
    wait_for_run,
)
from driftline_local.sample_data import generate_bank_marketing

MONITOR_SCHEDULE = "rate(5 minutes)"  # DEMO_CONFIG's


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, LocalCloud(port=0, workdir=workdir, time_scale=TIME_SCALE) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        clients = Clients(cloud.endpoint_url)
        stack = Stack.describe(clients)
        onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="true"), MODEL)
        data = generate_bank_marketing(args.rows, seed=7)
        since = upload_frames(clients, stack, MODEL, [data.iloc[: args.rows // 2], data.iloc[args.rows // 2 :]])
        result = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None)
        jobs = sagemaker_job_seconds(clients, result.run_id)
        drift_latency = drift_to_retraining(clients, stack)
    settle = sum(s.seconds for s in result.steps if "settle" in s.step or "quiet window" in s.step)
    in_jobs = sum(jobs.values())
    total = result.seconds
    print(f"run {result.run_id}: {result.status}")
    print(f"upload -> InService (run succeeded)      {total:7.1f} s")
    for name, seconds in sorted(jobs.items()):
        print(f"  SageMaker job {name:45} {seconds:6.1f} s")
    print(f"inside SageMaker jobs                     {in_jobs:7.1f} s")
    print(f"configured quiet window (settle_seconds)  {settle:7.1f} s")
    outside = total - in_jobs
    print(f"outside the jobs                          {outside:7.1f} s  ({outside / total:.0%} of total)")
    print(f"outside the jobs, quiet window excluded   {outside - settle:7.1f} s  "
          f"({(outside - settle) / (total - settle):.0%}; aim <= 10%)")
    interval = interval_seconds(MONITOR_SCHEDULE) / TIME_SCALE
    print(f"drift -> retraining started               {drift_latency:7.1f} s  "
          f"({drift_latency / interval:.1f} monitoring intervals of {interval:.0f} s: {MONITOR_SCHEDULE} at "
          f"time scale {TIME_SCALE}; aim <= 2)")


def drift_to_retraining(clients: Clients, stack: Stack, timeout: float = 300) -> float:
    """Seconds from the first shifted request to the start of the drift retraining run."""
    onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="false"), MODEL)
    upload_frames(clients, stack, MODEL, [generate_bank_marketing(4000, seed=8, shift=1.0)], prefix="shifted")
    rows = generate_bank_marketing(300, seed=10, shift=1.0).drop(columns=["y", "duration"])
    sfn = clients("stepfunctions")
    with Traffic(clients, ENDPOINT, rows, per_second=15):
        started = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for execution in sfn.list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]:
                if "-drift-" in execution["name"]:
                    return execution["startDate"].timestamp() - started
            time.sleep(0.5)
    raise TimeoutError(f"no drift retrain within {timeout:.0f}s")


if __name__ == "__main__":
    main()
