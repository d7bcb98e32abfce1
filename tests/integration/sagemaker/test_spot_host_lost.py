"""A spot host lost without notice: the real training job restarts in place from its last periodic checkpoint.

EC2 gives its two-minute spot notice on a best-effort basis only; without it the job gets no SIGTERM and
cannot checkpoint on the way out. What a restart can resume from is then only what jobs/train.py wrote
every `checkpoint_interval` rounds and SageMaker's CheckpointConfig sync uploaded before the loss.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftline.config import parse_model_config
from driftline.sagemaker_requests import RunContext, preprocess_request, training_request
from driftline_local.publish import publish_jobs
from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption, runner
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing

from .sagemaker_testkit import ROLE, at_least, job_log

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
JOBS = Path(__file__).resolve().parents[3] / "jobs"
INTERVAL, LOST_AT, ROUNDS = 10, 60, 150
ROUND = re.compile(r"\bround=(\d+)\b")  # jobs/train.py logs it at every checkpoint round
STARTED = re.compile(r"training on \d+ rows")  # each attempt logs it once, when its data is loaded
RESUMED = re.compile(r"resuming from checkpoint-(\d+)\.json")


def _prepared_run(aws: Callable[[str], Any], bucket: str) -> RunContext:
    """The real preprocessing job's splits for a spot run checkpointing every INTERVAL rounds."""
    publish_jobs(aws("s3"), bucket, JOBS)
    config = parse_model_config(SAMPLE_MODEL_YAML)
    training = config.training.model_copy(
        update={
            "use_spot": True,
            "checkpoint_interval": INTERVAL,
            "hyperparameters": {**config.training.hyperparameters, "num_round": ROUNDS},
        }
    )
    config = config.model_copy(update={"training": training})
    ctx = RunContext(config, f"host-lost-{uuid.uuid4().hex[:8]}", bucket, bucket, ROLE, XGBOOST, SKLEARN)
    csv = generate_bank_marketing(4000, seed=3).to_csv(index=False).encode()
    aws("s3").put_object(Bucket=bucket, Key=f"incoming/{ctx.model}/part-1.csv", Body=csv)
    aws("s3").put_object(
        Bucket=bucket, Key=ctx.config_uri.removeprefix(f"s3://{bucket}/"), Body=config.model_dump_json().encode()
    )
    request = preprocess_request(ctx)
    aws("sagemaker").create_processing_job(**request)
    assert runner().wait("processing", request["ProcessingJobName"], timeout=180)
    done = aws("sagemaker").describe_processing_job(ProcessingJobName=request["ProcessingJobName"])
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    return ctx


def _attempts(log: str) -> list[list[str]]:
    """The job's log split at each start of training (the first attempt, then one per restart)."""
    attempts: list[list[str]] = []
    for line in log.splitlines():
        if STARTED.search(line):
            attempts.append([])
        if attempts:
            attempts[-1].append(line)
    return attempts


def test_a_host_lost_without_notice_resumes_from_the_last_periodic_checkpoint(aws, bucket, event_queue):
    # Given a prepared spot run and a host that will be lost, without notice, once training reaches round 60
    ctx = _prepared_run(aws, bucket)
    request = training_request(ctx)
    name = request["TrainingJobName"]
    events = event_queue({"source": ["aws.sagemaker"], "detail": {"TrainingJobName": [name]}})
    plan = plan_training_interruption(
        PlannedInterruption(name, ROUND, at_least=LOST_AT, notice=False, outcome="resume")
    )

    # When the training job runs and its host is lost, and spot capacity comes back
    aws("sagemaker").create_training_job(**request)
    assert runner().wait("training", name, timeout=300)

    # Then the loss happened, and SageMaker restarted the job in place, as after a spot interruption
    job = aws("sagemaker").describe_training_job(TrainingJobName=name)
    assert plan.fired.is_set(), f"the host loss planned at round {LOST_AT} never landed"
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses == [
        "Starting", "Downloading", "Training", "Interrupted", "Starting", "Downloading", "Training", "Uploading",
        "Completed",
    ]  # fmt: skip
    secondary = [e["detail"]["SecondaryStatus"] for e in at_least(events, 3)]
    assert secondary == ["Starting", "Interrupted", "Completed"]

    # and the lost attempt got no chance to checkpoint: the restart resumed from a periodic checkpoint
    log = job_log(aws, name, group="/aws/sagemaker/TrainingJobs")
    assert "SIGTERM" not in log
    lost, restarted = _attempts(log)
    lost_round = max(int(m.group(1)) for line in lost if (m := ROUND.search(line)))
    resumed = [int(m.group(1)) for line in restarted if (m := RESUMED.search(line))]
    assert lost_round >= LOST_AT
    assert resumed, f"the restart trained from scratch: no checkpoint survived the host lost at round {lost_round}"
    redone = lost_round - resumed[0]
    assert 0 <= redone <= INTERVAL, f"resumed from round {resumed[0]} after losing round {lost_round}"
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics["train:rounds_completed"] == ROUNDS
