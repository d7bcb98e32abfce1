"""monitoring.instance_count: 2 from model.yaml alone: every drift monitor and model quality run is a partial job
on two instances (each a share of the window's capture objects) and a merge job. Drifted traffic fires the drift
alarm, wrong labels the quality alarm, and the merged reports of a window equal one instance's over the same inputs."""

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, Traffic, onboard_model, upload_frames, wait_for_run
from driftline_local.quality_demo import quality_story
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import wait_for_mail

pytestmark = pytest.mark.e2e

MODEL = "shardmon"
CONFIG = (
    f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
    + FAST_TIMINGS
    + "training:\n  hyperparameters:\n    num_round: 20\n"
    # rate(10 minutes) at the e2e cloud's time scale 30: a monitor run (three job processes) every 20 real seconds,
    # each over the last 60 real seconds of capture (about 900 records at 15/s)
    + "monitoring:\n  schedule: rate(10 minutes)\n  window_seconds: 1800\n  min_records: 150\n  instance_count: 2\n"
    + "  quality: {min_labels: 100, max_score_drop: 0.05}\n"
)


def pause(cloud) -> None:
    """`driftline pause`: the drift alarm pages but starts no retrain (no training run competing for the CPU)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": os.devnull}
    command = [sys.executable, "-m", "driftline_local.cli", "pause", MODEL, "--reason", "sharded monitor test"]
    command += ["--endpoint-url", cloud.endpoint_url, "--region", "us-east-1"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def wait_for_job(sagemaker: Any, job: str, timeout: float = 600) -> dict[str, Any]:
    """The job's description once it exists and has ended."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            described = sagemaker.describe_processing_job(ProcessingJobName=job)
        except sagemaker.exceptions.ClientError:
            described = {"ProcessingJobStatus": "not created yet"}
        if described["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        assert time.monotonic() < deadline, f"{job}: {described['ProcessingJobStatus']} after {timeout:.0f}s"
        time.sleep(0.5)


def partial_jobs(sagemaker: Any, kind: str) -> list[str]:
    """MODEL's sharded `kind` (monitor, quality) runs so far, by their partial jobs, oldest first (the name carries
    the window's end)."""
    pages = sagemaker.get_paginator("list_processing_jobs").paginate(NameContains=f"{MODEL}-")
    names = [j["ProcessingJobName"] for page in pages for j in page["ProcessingJobSummaries"]]
    return sorted(name for name in names if name.endswith(f"-{kind}-shards"))


def settled_run(sagemaker: Any, kind: str, timeout: float = 600) -> str:
    """A sharded run over a window that no longer changes, once the traffic has stopped: the second run started
    from now on (the first may start before the endpoint flushed its last capture records, every 2 s)."""
    seen = set(partial_jobs(sagemaker, kind))
    deadline = time.monotonic() + timeout
    while True:
        new = [name for name in partial_jobs(sagemaker, kind) if name not in seen]
        if len(new) >= 2:
            return new[1]
        assert time.monotonic() < deadline, f"{len(new)} new sharded {kind} run(s) of {MODEL} in {timeout:.0f}s"
        time.sleep(0.5)


def one_instance_copy(partial: dict[str, Any], job: str, report_uri: str) -> dict[str, Any]:
    """The partial job's request on one instance, unsharded, without --stage: today's single job over exactly
    the same inputs and window, writing its reports to `report_uri`."""
    arguments = list(partial["AppSpecification"]["ContainerArguments"])
    for flag in ("--stage", "--resource-config"):
        at = arguments.index(flag)
        del arguments[at : at + 2]
    inputs = []
    for item in partial["ProcessingInputs"]:
        s3_input = dict(item["S3Input"], S3DataDistributionType="FullyReplicated")
        inputs.append({"InputName": item["InputName"], "S3Input": s3_input})
    (output,) = partial["ProcessingOutputConfig"]["Outputs"]
    output = {"OutputName": output["OutputName"], "S3Output": dict(output["S3Output"], S3Uri=report_uri)}
    cluster = dict(partial["ProcessingResources"]["ClusterConfig"], InstanceCount=1)
    return {
        "ProcessingJobName": job,
        "RoleArn": partial["RoleArn"],
        "AppSpecification": dict(partial["AppSpecification"], ContainerArguments=arguments),
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": dict(partial["ProcessingOutputConfig"], Outputs=[output]),
        "ProcessingResources": {"ClusterConfig": cluster},
        "NetworkConfig": partial["NetworkConfig"],
        "StoppingCondition": partial["StoppingCondition"],
    }


def sharded_and_single(clients: Clients, stack: Stack, shards: str) -> tuple[str, str, dict[str, Any]]:
    """Wait for the sharded run `shards` (partial job, then merge), run one instance over the same inputs; the two
    report folders (merged, one instance) and the partial job's description."""
    sagemaker = clients("sagemaker")
    partial = wait_for_job(sagemaker, shards)
    assert partial["ProcessingJobStatus"] == "Completed", partial.get("FailureReason")
    merge = wait_for_job(sagemaker, shards.removesuffix("-shards"))
    assert merge["ProcessingJobStatus"] == "Completed", merge.get("FailureReason")
    single = f"{merge['ProcessingJobName']}-single"
    report = f"s3://{stack.artifact_bucket}/{MODEL}/monitoring/{single}"
    sagemaker.create_processing_job(**one_instance_copy(partial, single, report))
    alone = wait_for_job(sagemaker, single)
    assert alone["ProcessingJobStatus"] == "Completed", alone.get("FailureReason")
    return f"{MODEL}/monitoring/{merge['ProcessingJobName']}/", f"{MODEL}/monitoring/{single}/", partial


@pytest.mark.timeout(2400)
def test_two_monitor_instances_judge_drift_and_quality_as_one_instance(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    sagemaker, s3 = clients("sagemaker"), clients("s3")

    def read(key: str) -> Any:
        return json.loads(s3.get_object(Bucket=stack.artifact_bucket, Key=key)["Body"].read())

    onboard_model(clients, stack, CONFIG, MODEL)
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(3000, seed=61)])
    first = wait_for_run(clients, stack, MODEL, since, progress=None, timeout=600)
    assert first.status == "SUCCEEDED", first.error
    pause(cloud)
    shifted = generate_bank_marketing(300, seed=62, shift=1.0).drop(columns=["y", "duration"])

    # Given drifted traffic, the sharded monitor's runs fire the drift alarm
    with Traffic(clients, f"driftline-{MODEL}", shifted, per_second=15):
        alarm_page = wait_for_mail(cloud.ctx, f"{MODEL}: drift alarm", timeout=900)
    assert "Drifted features:" in alarm_page["message"]

    # When a scheduled run over a settled window goes through both jobs, and one instance reads the same inputs
    folder, single, partial = sharded_and_single(clients, stack, settled_run(sagemaker, "monitor"))

    # Then the partial job ran on two instances, each with its share of the capture
    assert partial["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    captures = [i["S3Input"] for i in partial["ProcessingInputs"] if i["InputName"].startswith("capture-")]
    assert captures and all(c["S3DataDistributionType"] == "ShardedByS3Key" for c in captures)
    hosts = {host: read(f"{folder}partials/{host}.json") for host in ("algo-1", "algo-2")}
    assert all(window["capture_records"] > 0 for window in hosts.values()), {
        h: w["capture_records"] for h, w in hosts.items()
    }
    # and the merged verdicts are one instance's: same records, drifted features and per-feature distances
    merged, one = read(f"{folder}drift_summary.json"), read(f"{single}drift_summary.json")
    assert merged["drift_judged"] and merged["drifted_features"], merged
    assert (merged["records"], merged["drifted_features"]) == (one["records"], one["drifted_features"])
    distances = [{name: f["distance"] for name, f in s["features"].items()} for s in (merged, one)]
    assert distances[0] == distances[1]
    for name in ("constraint_violations.json", "constraints.json"):
        assert read(f"{folder}{name}") == read(f"{single}{name}")

    # Given served predictions with inference ids whose labels (dropped later) say the model is wrong,
    # the sharded quality runs fire the quality alarm
    story = quality_story(
        clients, stack, cloud.ctx, MODEL, generate_bank_marketing(300, seed=63), say=lambda message: None
    )
    assert "Quality violations:" in story.page["message"]

    # When a sharded quality run over a settled window goes through both jobs, and one instance reads the same
    folder, single, partial = sharded_and_single(clients, stack, settled_run(sagemaker, "quality"))

    # Then its report is one instance's report
    assert partial["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    summary = read(f"{folder}quality_summary.json")
    assert summary == read(f"{single}quality_summary.json")
    assert summary["predictions_with_id"] > 0, summary
    for name in ("constraint_violations.json", "constraints.json"):
        assert read(f"{folder}{name}") == read(f"{single}{name}")
