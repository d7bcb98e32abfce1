"""A sharded model quality run on moto: with monitoring.instance_count > 1 the quality job's partial stage runs on
N instances over the window's capture (ShardedByS3Key), and its completion starts the merge, named like a single
quality job, so publishing and the quality alarm read it as before."""

from __future__ import annotations

import boto3
from driftline import state

from .conftest import REGION, invoke, put_config
from .test_monitoring_shards import MODEL, PRODUCTION_RUN, TICK, VARIANT, argument, describe, distributions, ended, jobs

SHARDS = "bank-marketing-20261128T070000-quality-shards"
MERGE = "bank-marketing-20261128T070000-quality"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\nmonitoring:\n  instance_count: {n}\n"


def labelled(stack, instances: int, captures: int) -> None:
    """In production, labels dropped, `captures` capture objects in the judged hour (no label delay)."""
    put_config(stack, CONFIG.format(n=instances))
    state.put_production(MODEL, run_id=PRODUCTION_RUN, endpoint_name="driftline-bank-marketing", variant=VARIANT)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=stack.data_bucket, Key=f"labels/{MODEL}/day.csv", Body=b"inference_id,y\nr-1,yes\n")
    for number in range(captures):
        key = f"{MODEL}/datacapture/driftline-bank-marketing/{VARIANT}/2026/11/28/06/{number:02d}-00-000-x.jsonl"
        s3.put_object(Bucket=stack.artifact_bucket, Key=key, Body=b"{}\n")


def quality_ended(stack, job: str, status: str = "Completed", reason: str | None = None) -> dict:
    event = ended(stack, job, status, reason)
    report = f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{MERGE}"
    event["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = report
    event["detail"]["ProcessingResources"] = {"ClusterConfig": {"InstanceCount": 2 if job == SHARDS else 1}}
    return event


def test_two_instances_start_a_partial_quality_job_sharding_only_the_capture(stack):
    labelled(stack, instances=2, captures=3)

    outcome = invoke("start_monitoring", TICK)["quality"]

    assert outcome["action"] == "started" and outcome["job"] == SHARDS and outcome["merge_job"] == MERGE
    job = describe(SHARDS)
    assert distributions(job) == {
        "code": "FullyReplicated",
        "evaluation": "FullyReplicated",
        "preprocessor": "FullyReplicated",
        "config": "FullyReplicated",
        "labels": "FullyReplicated",
        "capture-0": "ShardedByS3Key",
    }
    assert argument(job, "--stage") == "partial"
    assert argument(job, "--resource-config") == "/opt/ml/config/resourceconfig.json"
    (output,) = job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{MERGE}"


def test_one_instance_starts_todays_single_quality_job(stack):
    labelled(stack, instances=1, captures=3)

    assert invoke("start_monitoring", TICK)["quality"]["job"] == MERGE
    assert "--stage" not in describe(MERGE)["AppSpecification"]["ContainerArguments"]


def test_the_partial_quality_jobs_completion_starts_the_merge_with_the_labels(stack):
    labelled(stack, instances=2, captures=3)
    invoke("start_monitoring", TICK)

    outcome = invoke("on_monitoring_completed", quality_ended(stack, SHARDS))

    assert outcome["action"] == "merge-started" and outcome["merge_job"] == MERGE
    assert [j for j in jobs() if "-quality" in j] == [MERGE, SHARDS]
    partial, merge = describe(SHARDS), describe(MERGE)
    for name in ("--window-start", "--window-end"):
        assert argument(merge, name) == argument(partial, name)
    assert argument(merge, "--stage") == "merge"
    assert argument(merge, "--partials-dir") == "/opt/ml/processing/input/partials"
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in merge["ProcessingInputs"]}
    assert not [name for name in inputs if name.startswith("capture-")]
    assert inputs["partials"] == f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{MERGE}/partials/"
    assert inputs["labels"] == f"s3://{stack.data_bucket}/labels/{MODEL}/"
    assert inputs["evaluation"] == f"s3://{stack.artifact_bucket}/{MODEL}/runs/{PRODUCTION_RUN}/evaluation/"


def test_a_duplicated_partial_quality_completion_starts_one_merge(stack):
    labelled(stack, instances=2, captures=3)
    invoke("start_monitoring", TICK)
    event = quality_ended(stack, SHARDS)

    invoke("on_monitoring_completed", event)

    assert invoke("on_monitoring_completed", event)["action"] == "duplicate"
    assert [j for j in jobs() if "-quality" in j] == [MERGE, SHARDS]


def test_a_failed_partial_quality_job_pages_like_a_failed_quality_job(stack):
    labelled(stack, instances=2, captures=3)
    invoke("start_monitoring", TICK)

    outcome = invoke("on_monitoring_completed", quality_ended(stack, SHARDS, "Stopped", "MaxRuntimeExceeded"))

    assert outcome["action"] == "paged"
    assert [j for j in jobs() if "-quality" in j] == [SHARDS]
    (message,) = stack.pages()
    assert message["Subject"].endswith(f"{MODEL}: model quality monitor stopped")
    assert "Stage: partial joins on 2 instances" in message["Message"]
    assert "Why: MaxRuntimeExceeded" in message["Message"]
    assert message["MessageAttributes"]["kind"]["Value"] == "quality-monitor-failed"
