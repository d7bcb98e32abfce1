"""Sharded drift monitoring on moto: monitoring.instance_count > 1 starts a partial job on N instances over the
window's capture (ShardedByS3Key); its completion starts the merge, named like a single monitor job."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from driftline import aws, naming, state

from .conftest import REGION, invoke, put_config, sample

MODEL = "bank-marketing"
PRODUCTION_RUN = "bank-marketing-upload-20261128T050000"
VARIANT = "upload-20261128T050000"
TICK = {"model": MODEL, "scheduled_time": "2026-11-28T07:00:00Z"}
SHARDS = "bank-marketing-20261128T070000-monitor-shards"
MERGE = "bank-marketing-20261128T070000-monitor"
CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\nmonitoring:\n  instance_count: {n}\n"


@pytest.fixture
def requests(stack) -> list[dict[str, Any]]:
    """Every CreateProcessingJob request as sent (moto's Describe leaves out ProcessingResources)."""
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(copy.deepcopy(params))

    aws.client("sagemaker").meta.events.register("provide-client-params.sagemaker.CreateProcessingJob", record)
    return sent


def serving(stack, instances: int, captures: int, more_monitoring: str = "") -> None:
    """A model in production with `captures` capture objects in the hour before TICK."""
    put_config(stack, CONFIG.format(n=instances) + more_monitoring)
    state.put_production(MODEL, run_id=PRODUCTION_RUN, endpoint_name="driftline-bank-marketing", variant=VARIANT)
    s3 = boto3.client("s3", region_name=REGION)
    for number in range(captures):
        key = f"{MODEL}/datacapture/driftline-bank-marketing/{VARIANT}/2026/11/28/06/{number:02d}-00-000-x.jsonl"
        s3.put_object(Bucket=stack.artifact_bucket, Key=key, Body=b"{}\n")


def jobs() -> list[str]:
    summaries = boto3.client("sagemaker", region_name=REGION).list_processing_jobs()["ProcessingJobSummaries"]
    return sorted(j["ProcessingJobName"] for j in summaries)


def describe(job: str) -> dict[str, Any]:
    return boto3.client("sagemaker", region_name=REGION).describe_processing_job(ProcessingJobName=job)


def argument(job: dict[str, Any], name: str) -> str:
    arguments = job["AppSpecification"]["ContainerArguments"]
    return arguments[arguments.index(name) + 1]


def distributions(job: dict[str, Any]) -> dict[str, str]:
    return {i["InputName"]: i["S3Input"]["S3DataDistributionType"] for i in job["ProcessingInputs"]}


def ended(stack, job: str, status: str = "Completed", reason: str | None = None) -> dict[str, Any]:
    """`SageMaker Processing Job State Change` for one of the monitor's jobs (outputs in its report folder)."""
    event = sample("monitoring_job_completed.json")
    detail = event["detail"]
    report = f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{MERGE}"
    detail.update(
        {
            "ProcessingJobName": job,
            "ProcessingJobStatus": status,
            "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:processing-job/{job}",
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 2 if job == SHARDS else 1}},
        }
    )
    detail["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = report
    if reason:
        detail["FailureReason"] = reason
    event["resources"] = [detail["ProcessingJobArn"]]
    return event


# --- start_monitoring: the plan ------------------------------------------------------------------------------


def test_one_instance_starts_todays_single_monitor_job(stack, requests):
    serving(stack, instances=1, captures=3)

    outcome = invoke("start_monitoring", TICK)

    assert outcome["action"] == "started" and outcome["job"] == MERGE
    assert jobs() == [MERGE]
    job = describe(MERGE)
    assert "--stage" not in job["AppSpecification"]["ContainerArguments"]
    assert set(distributions(job).values()) == {"FullyReplicated"}
    assert requests[0]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1


def test_two_instances_start_a_partial_job_sharding_only_the_capture(stack, requests):
    serving(stack, instances=2, captures=3)

    outcome = invoke("start_monitoring", TICK)

    assert outcome["action"] == "started" and outcome["job"] == SHARDS and outcome["merge_job"] == MERGE
    assert jobs() == [SHARDS]
    job = describe(SHARDS)
    assert distributions(job) == {
        "code": "FullyReplicated",
        "baseline": "FullyReplicated",
        "preprocessor": "FullyReplicated",
        "config": "FullyReplicated",
        "capture-0": "ShardedByS3Key",
    }
    assert argument(job, "--stage") == "partial"
    assert argument(job, "--resource-config") == "/opt/ml/config/resourceconfig.json"
    assert argument(job, "--window-start") == "2026-11-28T06:00:00Z"
    # partials land in the merge job's report folder: <folder>/partials/<host>.json
    (output,) = job["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{MERGE}"
    assert requests[0]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2


def test_fewer_capture_objects_than_instances_run_on_one_instance(stack, requests):
    serving(stack, instances=4, captures=3)

    outcome = invoke("start_monitoring", TICK)

    assert outcome["job"] == MERGE and jobs() == [MERGE]
    assert "--stage" not in describe(MERGE)["AppSpecification"]["ContainerArguments"]
    assert requests[0]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1


def test_a_repeated_tick_starts_no_second_partial_job(stack):
    serving(stack, instances=2, captures=2)

    invoke("start_monitoring", TICK)
    invoke("start_monitoring", TICK)  # a repeated delivery names the same job (moto does not refuse the name)

    assert jobs() == [SHARDS]


def test_the_longest_model_name_keeps_both_job_names_whole():
    model = "m" * 32
    shards = naming.job_name(f"{model}-20261128T070000", "monitor-shards")
    assert shards == f"{model}-20261128T070000-monitor-shards" and len(shards) == naming.SAGEMAKER_NAME_LIMIT


# --- on_monitoring_completed: partial job -> merge job ---------------------------------------------------------


def test_the_partial_jobs_completion_starts_the_merge_over_the_same_window(stack, requests):
    serving(stack, instances=2, captures=3)
    invoke("start_monitoring", TICK)

    outcome = invoke("on_monitoring_completed", ended(stack, SHARDS))

    assert outcome["action"] == "merge-started" and outcome["merge_job"] == MERGE
    assert jobs() == [MERGE, SHARDS]
    partial, merge = describe(SHARDS), describe(MERGE)
    for name in ("--window-start", "--window-end"):
        assert argument(merge, name) == argument(partial, name)
    assert argument(merge, "--stage") == "merge"
    assert argument(merge, "--partials-dir") == "/opt/ml/processing/input/partials"
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in merge["ProcessingInputs"]}
    assert not [name for name in inputs if name.startswith("capture-")]
    assert inputs["partials"] == f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{MERGE}/partials/"
    assert inputs["baseline"] == f"s3://{stack.artifact_bucket}/{MODEL}/runs/{PRODUCTION_RUN}/baseline/"
    (output,) = merge["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{MERGE}"
    assert requests[-1]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1


def test_the_merge_keeps_the_ks_switch_of_the_partial_job(stack):
    serving(stack, instances=2, captures=2, more_monitoring="  ks_test: true\n")
    invoke("start_monitoring", TICK)

    invoke("on_monitoring_completed", ended(stack, SHARDS))

    assert "--ks-test" in describe(MERGE)["AppSpecification"]["ContainerArguments"]


def test_a_duplicated_completion_event_starts_one_merge(stack):
    serving(stack, instances=2, captures=3)
    invoke("start_monitoring", TICK)
    event = ended(stack, SHARDS)

    invoke("on_monitoring_completed", event)
    again = invoke("on_monitoring_completed", event)

    assert again["action"] == "duplicate"
    assert jobs() == [MERGE, SHARDS]


def test_a_failed_partial_job_pages_with_its_stage_and_reason_and_starts_no_merge(stack):
    serving(stack, instances=2, captures=3)
    invoke("start_monitoring", TICK)

    outcome = invoke(
        "on_monitoring_completed", ended(stack, SHARDS, "Failed", "AlgorithmError: See job logs for more information")
    )

    assert outcome["action"] == "paged"
    assert jobs() == [SHARDS]
    (message,) = stack.pages()
    assert message["Subject"].endswith(f"{MODEL}: drift monitor failed")
    assert "Stage: partial counts on 2 instances" in message["Message"]
    assert f"the merge job {MERGE} was not started" in message["Message"]
    assert "Why: AlgorithmError: See job logs for more information" in message["Message"]
    assert message["MessageAttributes"]["kind"]["Value"] == "monitor-failed"


def test_a_failed_merge_job_pages_as_a_failed_monitor_naming_the_merge(stack):
    serving(stack, instances=2, captures=3)
    invoke("start_monitoring", TICK)
    invoke("on_monitoring_completed", ended(stack, SHARDS))
    event = ended(stack, MERGE, "Failed", "AlgorithmError: no partial windows")
    event["detail"]["ProcessingInputs"] = describe(MERGE)["ProcessingInputs"]

    assert invoke("on_monitoring_completed", event)["action"] == "paged"

    (message,) = stack.pages()
    assert "Stage: merge of the sharded monitor's partial counts" in message["Message"]
    assert f"Job: {MERGE}" in message["Message"]


def test_a_look_alike_partial_job_writing_elsewhere_is_ignored(stack):
    serving(stack, instances=2, captures=3)
    event = ended(stack, SHARDS)
    event["detail"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = "s3://elsewhere/x"

    assert invoke("on_monitoring_completed", event)["action"] == "ignored"
    assert jobs() == []
