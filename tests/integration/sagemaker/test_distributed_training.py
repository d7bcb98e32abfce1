"""jobs/train.py on two instances: XGBoost's collective across the hosts, resumed from rank 0's checkpoints.

The real preprocessing job prepares the bank-marketing splits; its train split is then stored as several
files, so that ShardedByS3Key gives each of the two hosts its own share of the rows.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftline.config import parse_model_config
from driftline.sagemaker_requests import RunContext, preprocess_request, training_request
from driftline_local.publish import publish_jobs
from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption, runner
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing

from .sagemaker_testkit import ROLE, job_log

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
JOBS = Path(__file__).resolve().parents[3] / "jobs"
ROWS, ROUNDS, INTERVAL, TRAIN_FILES = 8000, 200, 10, 4
ROUND = re.compile(r"\bround=(\d+)\b")
RESUMED = re.compile(r"resuming from checkpoint-(\d+)\.json")
STOPPED = re.compile(r"SIGTERM received: (?:checkpoint-|stopping at round )(\d+)")
AUC_TOLERANCE = 0.005  # issue 15: the distributed model's AUC within 0.005 of the single-instance one


def _prepared_run(aws: Callable[[str], Any], bucket: str, instances: int) -> RunContext:
    publish_jobs(aws("s3"), bucket, JOBS)
    config = parse_model_config(SAMPLE_MODEL_YAML)
    training = config.training.model_copy(
        update={
            "instance_count": instances,
            "checkpoint_interval": INTERVAL,
            "hyperparameters": {**config.training.hyperparameters, "num_round": ROUNDS},
        }
    )
    config = config.model_copy(update={"training": training})
    ctx = RunContext(config, f"dist-{uuid.uuid4().hex[:8]}", bucket, bucket, ROLE, XGBOOST, SKLEARN)
    csv = generate_bank_marketing(ROWS, seed=11).to_csv(index=False).encode()
    aws("s3").put_object(Bucket=bucket, Key=f"incoming/{ctx.model}/part-1.csv", Body=csv)
    aws("s3").put_object(
        Bucket=bucket, Key=ctx.config_uri.removeprefix(f"s3://{bucket}/"), Body=config.model_dump_json().encode()
    )
    request = preprocess_request(ctx)
    aws("sagemaker").create_processing_job(**request)
    assert runner().wait("processing", request["ProcessingJobName"], timeout=300)
    done = aws("sagemaker").describe_processing_job(ProcessingJobName=request["ProcessingJobName"])
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    _store_train_split_as_files(aws, bucket, ctx, TRAIN_FILES)
    return ctx


def _store_train_split_as_files(aws: Callable[[str], Any], bucket: str, ctx: RunContext, files: int) -> None:
    """The train split as `files` CSV files (rows dealt in turn), as a sharded preprocessing output is."""
    prefix = ctx.artifacts("train/").removeprefix(f"s3://{bucket}/")
    keys = [o["Key"] for o in aws("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    rows = [
        line
        for key in sorted(keys)
        for line in aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        if line
    ]
    for key in keys:
        aws("s3").delete_object(Bucket=bucket, Key=key)
    for index in range(files):
        body = "\n".join(rows[index::files]) + "\n"
        aws("s3").put_object(Bucket=bucket, Key=f"{prefix}train-{index:04d}.csv", Body=body.encode())


def _train(aws: Callable[[str], Any], request: dict[str, Any]) -> dict[str, Any]:
    aws("sagemaker").create_training_job(**request)
    assert runner().wait("training", request["TrainingJobName"], timeout=600)
    return aws("sagemaker").describe_training_job(TrainingJobName=request["TrainingJobName"])


def _summary(aws: Callable[[str], Any], job: dict[str, Any]) -> dict[str, Any]:
    model = job["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = model.removeprefix("s3://").split("/", 1)
    body = aws("s3").get_object(Bucket=bucket, Key=key.rsplit("/", 1)[0] + "/output.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        member = tar.extractfile("training_summary.json")
        assert member is not None
        return json.loads(member.read())


def test_two_instances_train_a_model_as_good_as_one(aws, bucket):
    # Given the bank-marketing splits, the train split in four files
    ctx = _prepared_run(aws, bucket, instances=2)
    distributed = training_request(ctx)
    single_ctx = RunContext(
        ctx.config.model_copy(
            update={"training": ctx.config.training.model_copy(update={"instance_count": 1})}
        ),
        ctx.run_id, ctx.data_bucket, ctx.artifact_bucket, ROLE, XGBOOST, SKLEARN,
    )  # fmt: skip
    single = training_request(single_ctx, attempt=2)
    single["CheckpointConfig"]["S3Uri"] = ctx.artifacts("checkpoints-single/")  # its own rounds, not resumed

    # When the same data trains one model on two instances and one on a single instance
    two = _train(aws, distributed)
    one = _train(aws, single)

    # Then both complete; each host trained on its own half of the rows; the AUCs agree within 0.005
    assert two["TrainingJobStatus"] == "Completed", two.get("FailureReason")
    assert one["TrainingJobStatus"] == "Completed", one.get("FailureReason")
    two_summary, one_summary = _summary(aws, two), _summary(aws, one)
    assert two_summary["hosts"] == ["algo-1", "algo-2"]
    assert all(rows > 0 for rows in two_summary["train_rows_per_host"])
    assert sum(two_summary["train_rows_per_host"]) == one_summary["train_rows"]
    assert two_summary["rounds_completed"] == one_summary["rounds_completed"] == ROUNDS
    two_auc, one_auc = two_summary["validation_metrics"]["auc"], one_summary["validation_metrics"]["auc"]
    print(f"validation AUC: 1 instance {one_auc:.6f}, 2 instances {two_auc:.6f}, difference {two_auc - one_auc:+.6f}")
    assert abs(two_auc - one_auc) <= AUC_TOLERANCE


def test_two_instances_resume_from_rank_zeros_checkpoint_after_a_spot_interruption(aws, bucket):
    # Given a 2-instance spot run, and spot capacity reclaimed once training reaches round 60
    ctx = _prepared_run(aws, bucket, instances=2)
    request = training_request(ctx)
    name = request["TrainingJobName"]
    plan = plan_training_interruption(
        PlannedInterruption(name, ROUND, at_least=60, outcome="resume", notice_seconds=60)
    )

    # When the job runs, is interrupted on every host, and capacity comes back
    job = _train(aws, request)

    # Then it completes after the interruption, and every host resumed from the same checkpoint
    assert plan.fired.is_set(), "the planned interruption never landed"
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "Interrupted" in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    resumed_by_host, stopped_by_host = {}, {}
    logs = aws("logs")
    for stream in logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name)[
        "logStreams"
    ]:
        host = stream["logStreamName"].split("/", 1)[1].rsplit("-", 1)[0]
        text = job_log(aws, stream["logStreamName"], group="/aws/sagemaker/TrainingJobs")
        resumed_by_host[host] = [int(m.group(1)) for m in RESUMED.finditer(text)]
        stopped_by_host[host] = [int(m.group(1)) for m in STOPPED.finditer(text)]
    assert sorted(resumed_by_host) == ["algo-1", "algo-2"]
    assert resumed_by_host["algo-1"] == resumed_by_host["algo-2"]
    assert resumed_by_host["algo-1"] and resumed_by_host["algo-1"][0] >= 60
    # the hosts agreed on the round to stop at; rank 0 alone wrote its checkpoint, and all resumed from it
    assert stopped_by_host["algo-1"] == stopped_by_host["algo-2"] == resumed_by_host["algo-1"]
    assert "checkpoint-" not in "".join(
        line
        for line in job_log(aws, f"{name}/algo-2", group="/aws/sagemaker/TrainingJobs").splitlines()
        if "SIGTERM" in line
    )
    summary = _summary(aws, job)
    assert summary["rounds_completed"] == ROUNDS
    assert summary["resumed_from_round"] == resumed_by_host["algo-1"][0]
