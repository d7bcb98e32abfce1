"""Local upload-to-InService time and the share spent outside the SageMaker jobs (orchestration).

Run: `.venv/bin/python bench/loop.py [--rows 6000]`. Starts a fresh local cloud, onboards the sample
model, uploads a burst of files and follows the run to a served endpoint.
"""

from __future__ import annotations

import argparse
import tempfile

from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.demo import DEMO_CONFIG, MODEL
from driftline_local.loop import Clients, Stack, onboard_model, sagemaker_job_seconds, upload_frames, wait_for_run
from driftline_local.sample_data import generate_bank_marketing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, LocalCloud(port=0, workdir=workdir) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        clients = Clients(cloud.endpoint_url)
        stack = Stack.describe(clients)
        onboard_model(clients, stack, DEMO_CONFIG, MODEL)
        data = generate_bank_marketing(args.rows, seed=7)
        since = upload_frames(clients, stack, MODEL, [data.iloc[: args.rows // 2], data.iloc[args.rows // 2 :]])
        result = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None)
        jobs = sagemaker_job_seconds(clients, result.run_id)
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


if __name__ == "__main__":
    main()
