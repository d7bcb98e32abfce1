"""Local upload-to-InService time, the share spent outside the SageMaker jobs, and drift-to-retraining latency.

Run: `.venv/bin/python bench/loop.py [--rows 6000]`. Starts a fresh local cloud (time scale 30), lets its
Lambda environments initialize, onboards the sample model, uploads a burst of files and follows the run
to a served endpoint. Upload -> InService is split into the SageMaker jobs, the quiet window, the
endpoint's provisioning, the Lambda steps and the rest (Step Functions transitions, event delivery,
polls). Then traffic from a
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
from driftline_local.lambda_runtime import active_runtime
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
MIN_RECORDS = 300  # DEMO_CONFIG's


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--drift-rps", type=float, default=80.0,
                        help="shifted requests per second asked for (one thread serves what it can, about 50 here): "
                             "one monitoring interval should hold well over min_records")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, LocalCloud(port=0, workdir=workdir, time_scale=TIME_SCALE) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        active_runtime().wait_until_initialized()  # data arrives long after a deploy, not during it
        clients = Clients(cloud.endpoint_url)
        stack = Stack.describe(clients)
        onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="true"), MODEL)
        data = generate_bank_marketing(args.rows, seed=7)
        since = upload_frames(clients, stack, MODEL, [data.iloc[: args.rows // 2], data.iloc[args.rows // 2 :]])
        result = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None)
        jobs = sagemaker_job_seconds(clients, result.run_id)
        endpoint = clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
        in_service = endpoint["LastModifiedTime"].timestamp()  # a first deployment: nothing updates it later
        provisioning = in_service - endpoint["CreationTime"].timestamp()
        lambdas = lambda_task_seconds(clients, stack, result.execution_arn, until=in_service)
        drift_latency, served_rps = drift_to_retraining(clients, stack, args.drift_rps)
    settle = sum(s.seconds for s in result.steps if "settle" in s.step or "quiet window" in s.step)
    in_jobs = sum(jobs.values())
    total = in_service - since
    print(f"run {result.run_id}: {result.status}")
    print(f"upload -> endpoint InService                {total:7.1f} s")
    print(f"upload -> run finished (promoted, reported) {result.seconds:7.1f} s")
    for name, seconds in sorted(jobs.items()):
        print(f"  SageMaker job {name:45} {seconds:6.1f} s")
    print(f"inside SageMaker jobs                       {in_jobs:7.1f} s")
    print(f"configured quiet window (settle_seconds)    {settle:7.1f} s")
    outside = total - in_jobs - settle
    print(f"outside the jobs, quiet window excluded     {outside:7.1f} s  "
          f"({outside / (total - settle):.0%} of upload -> InService; aim <= 10%)")
    print(f"  endpoint provisioning (Create -> InService) {provisioning:5.1f} s")
    print(f"  {len(lambdas)} Lambda steps                           {sum(lambdas):5.1f} s  "
          f"({', '.join(f'{s:.2f}' for s in lambdas)})")
    print(f"  the rest: transitions, events, polls        {outside - provisioning - sum(lambdas):5.1f} s")
    orchestration = outside - provisioning
    print(f"outside the jobs and endpoint provisioning  {orchestration:7.1f} s  "
          f"({orchestration / (total - settle):.0%})")
    interval = interval_seconds(MONITOR_SCHEDULE) / TIME_SCALE
    print(f"drift -> retraining started                 {drift_latency:7.1f} s  "
          f"({drift_latency / interval:.1f} monitoring intervals of {interval:.0f} s: {MONITOR_SCHEDULE} at "
          f"time scale {TIME_SCALE}; aim <= 2)")
    print(f"  traffic {served_rps:.0f} req/s served = {served_rps * interval:.0f} requests per interval "
          f"(the monitor judges a window of at least min_records {MIN_RECORDS})")


def lambda_task_seconds(clients: Clients, stack: Stack, pipeline_arn: str, until: float) -> list[float]:
    """Duration of each Lambda task the run (and its rollout) started before `until`, in order.

    Lambdas started by events rather than by a state (on_data_uploaded, on_training_state_change) are
    in "the rest"."""
    sfn = clients("stepfunctions")
    arns = [pipeline_arn] + [e["executionArn"] for e in sfn.list_executions(stateMachineArn=stack.canary_rollout_arn)
                             ["executions"] if e["name"] == pipeline_arn.rsplit(":", 1)[-1]]
    durations = []
    for arn in arns:
        scheduled = None
        for event in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]:
            details = event.get("taskScheduledEventDetails") or {}
            # a waitForTaskToken task lasts as long as its job: that time is the job's, not the Lambda's
            if (details.get("resourceType") == "lambda" and not details.get("resource", "").endswith("TaskToken")
                    and event["timestamp"].timestamp() < until):
                scheduled = event["timestamp"]
            elif scheduled and event["type"] in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
                durations.append((event["timestamp"] - scheduled).total_seconds())
                scheduled = None
    return durations


def drift_to_retraining(clients: Clients, stack: Stack, per_second: float,
                        timeout: float = 300) -> tuple[float, float]:
    """Seconds from the first shifted request to the start of the drift retraining run, and the
    rate the endpoint actually served meanwhile.

    Schedules run at the time scale, traffic in real time: below min_records requests per interval no
    monitor can judge a window in time, whatever the pipeline does, so the rate is a parameter."""
    onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="false"), MODEL)
    upload_frames(clients, stack, MODEL, [generate_bank_marketing(4000, seed=8, shift=1.0)], prefix="shifted")
    rows = generate_bank_marketing(300, seed=10, shift=1.0).drop(columns=["y", "duration"])
    sfn = clients("stepfunctions")
    with Traffic(clients, ENDPOINT, rows, per_second=per_second) as traffic:
        started = time.time()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for execution in sfn.list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]:
                if "-drift-" in execution["name"]:
                    latency = execution["startDate"].timestamp() - started
                    served = sum(traffic.log.served_by(started, started + latency).values())
                    return latency, served / latency
            time.sleep(0.5)
    raise TimeoutError(f"no drift retrain within {timeout:.0f}s")


if __name__ == "__main__":
    main()
