"""Deploy Driftline to a sandbox account, run the loop once for real, then delete everything it made.

Skipped unless DRIFTLINE_AWS_TESTS=1 and AWS credentials are available (see conftest.py); run it with
`make aws-smoke`. It costs about one US dollar and takes 60-90 minutes (README, "Real-AWS smoke test").

Given a fresh stack, when the sample model is onboarded and its data uploaded, then a model is trained
on spot, gated and served; the endpoint answers with the content type asked for; one drift monitor
job runs on the captured traffic and publishes its metrics; a second upload rolls out a second
version through the canary; and the teardown leaves no endpoint, job output, rule, alarm or stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, predict, upload_frames, wait_for_run
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing

REPO = Path(__file__).resolve().parents[2]
REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
MODEL = "bank-marketing"
# The smallest loop that still judges drift: 500 captured rows per monitor window (monitoring.min_records).
SMOKE_CONFIG = SAMPLE_MODEL_YAML + FAST_TIMINGS + "monitoring:\n  schedule: rate(1 hour)\n  min_records: 300\n"
RUN_TIMEOUT = 3600


@dataclass
class AwsClients(Clients):
    """The same Clients the local loop uses, on the default credential chain and region."""

    endpoint_url: str = ""
    region: str = REGION
    _cache: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = boto3.client(service, region_name=self.region)
        return self._cache[service]


def _run(*command: str) -> str:
    return subprocess.run(command, cwd=REPO, check=True, text=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[AwsClients, Stack, str]]:
    clients = AwsClients()
    stack_name = os.environ.get("DRIFTLINE_AWS_STACK") or f"driftline-smoke-{uuid.uuid4().hex[:8]}"
    overrides = _run(str(REPO / ".venv/bin/driftline"), "images", "--region", REGION, "--format", "overrides").split()
    sam = str(REPO / ".venv/tools/bin/sam")
    try:
        _run(sam, "build")
        _run(
            sam,
            "deploy",
            "--stack-name",
            stack_name,
            "--region",
            REGION,
            "--resolve-s3",
            "--capabilities",
            "CAPABILITY_IAM",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            *overrides,
        )
        stack = Stack.describe(clients, stack_name)
        _run(str(REPO / ".venv/bin/driftline"), "publish-jobs", "--bucket", stack.artifact_bucket)
        yield clients, stack, stack_name
    finally:
        _tear_down(clients, stack_name)


def test_loop_runs_on_aws(deployed: tuple[AwsClients, Stack, str]) -> None:
    clients, stack, stack_name = deployed
    onboard_model(clients, stack, SMOKE_CONFIG, MODEL, timeout=120)

    # First version: trained on spot, gated and served.
    data = generate_bank_marketing(6000, seed=7)
    since = upload_frames(clients, stack, MODEL, [data.iloc[:3000], data.iloc[3000:]])
    first = wait_for_run(clients, stack, MODEL, since, print, timeout=RUN_TIMEOUT)
    assert first.status == "SUCCEEDED", first.error
    assert first.endpoint_name

    # The endpoint answers with the content type asked for (the serving container's contract).
    rows = generate_bank_marketing(600, seed=11).drop(columns=["y", "duration"])
    predictions = predict(clients, first.endpoint_name, rows.iloc[:3])
    assert len(predictions) == 3 and all(0.0 <= p["score"] <= 1.0 for p in predictions)
    csv_answer = clients("sagemaker-runtime").invoke_endpoint(
        EndpointName=first.endpoint_name,
        ContentType="text/csv",
        Accept="text/csv",
        Body=rows.iloc[:2].to_csv(index=False, header=False).encode(),
    )
    assert csv_answer["ContentType"].startswith("text/csv")

    # Traffic for one monitor window, then one monitor run started by hand (the schedule is hourly).
    for start in range(0, len(rows), 50):
        predict(clients, first.endpoint_name, rows.iloc[start : start + 50])
    _wait_for_capture(clients, stack, MODEL, records=len(rows))
    function = clients("cloudformation").describe_stack_resource(
        StackName=stack_name, LogicalResourceId="StartMonitoringFunction"
    )["StackResourceDetail"]["PhysicalResourceId"]
    started = json.loads(
        clients("lambda").invoke(FunctionName=function, Payload=json.dumps({"model": MODEL}).encode())["Payload"].read()
    )
    assert started.get("action") == "started", started
    job = started["job"]
    clients("sagemaker").get_waiter("processing_job_completed_or_stopped").wait(
        ProcessingJobName=job, WaiterConfig={"Delay": 30, "MaxAttempts": 60}
    )
    assert clients("sagemaker").describe_processing_job(ProcessingJobName=job)["ProcessingJobStatus"] == "Completed"
    _wait_for_metric(clients, "Driftline/Monitoring", MODEL)

    # Second version: rolled out through the canary beside the first.
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(6000, seed=8)], prefix="second")
    second = wait_for_run(clients, stack, MODEL, since, print, timeout=RUN_TIMEOUT)
    assert second.status == "SUCCEEDED", second.error
    endpoint = clients("sagemaker").describe_endpoint(EndpointName=first.endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    production = clients("dynamodb").get_item(
        TableName=stack.state_table, Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": "PRODUCTION"}}
    )["Item"]
    assert production["run_id"]["S"] == second.run_id


def _wait_for_capture(clients: AwsClients, stack: Stack, model: str, records: int, timeout: float = 900) -> None:
    """Data capture reaches S3 in batches within minutes; wait until every request sent is there."""
    s3 = clients("s3")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = 0
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=stack.artifact_bucket, Prefix=f"{model}/datacapture/"
        ):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=stack.artifact_bucket, Key=item["Key"])["Body"].read()
                seen += sum(
                    len(json.loads(line)["captureData"]["endpointInput"]["data"]) > 0
                    for line in body.splitlines()
                    if line.strip()
                )
        if seen * 50 >= records:  # one captured request per batch of 50 rows sent
            return
        time.sleep(30)
    raise TimeoutError(f"captured traffic for {model} did not reach S3 within {timeout:.0f}s")


def _wait_for_metric(clients: AwsClients, namespace: str, model: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = clients("cloudwatch").list_metrics(Namespace=namespace, Dimensions=[{"Name": "Model", "Value": model}])
        if listed["Metrics"]:
            return
        time.sleep(30)
    raise TimeoutError(f"no {namespace} metric for {model} within {timeout:.0f}s")


def _tear_down(clients: AwsClients, stack_name: str) -> None:
    """Delete what the run made outside the stack, then the stack and what it retains."""
    sagemaker = clients("sagemaker")
    prefix = f"driftline-{MODEL}"
    for endpoint in sagemaker.list_endpoints(NameContains=prefix)["Endpoints"]:
        sagemaker.delete_endpoint(EndpointName=endpoint["EndpointName"])
    for config in sagemaker.list_endpoint_configs(NameContains=MODEL)["EndpointConfigs"]:
        sagemaker.delete_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
    for model in sagemaker.list_models(NameContains=MODEL)["Models"]:
        sagemaker.delete_model(ModelName=model["ModelName"])
    try:
        for package in sagemaker.list_model_packages(ModelPackageGroupName=prefix)["ModelPackageSummaryList"]:
            sagemaker.delete_model_package(ModelPackageName=package["ModelPackageArn"])
        sagemaker.delete_model_package_group(ModelPackageGroupName=prefix)
    except sagemaker.exceptions.ClientError:
        pass  # no version was registered
    events = clients("events")
    for rule in events.list_rules(NamePrefix=prefix)["Rules"]:
        targets = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
        if targets:
            events.remove_targets(Rule=rule["Name"], Ids=targets)
        events.delete_rule(Name=rule["Name"])
    alarms = [a["AlarmName"] for a in clients("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]]
    if alarms:
        clients("cloudwatch").delete_alarms(AlarmNames=alarms)
    cloudformation = clients("cloudformation")
    try:
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    except cloudformation.exceptions.ClientError:
        return  # the deploy never created the stack
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    for bucket in (physical.get("DataBucket"), physical.get("ArtifactBucket")):
        if bucket:
            _empty_bucket(bucket)
    cloudformation.delete_stack(StackName=stack_name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name)
    # Retained on purpose in production (DeletionPolicy: Retain); a smoke stack removes them too.
    for bucket in (physical.get("DataBucket"), physical.get("ArtifactBucket")):
        if bucket:
            try:
                clients("s3").delete_bucket(Bucket=bucket)
            except clients("s3").exceptions.ClientError:
                pass  # already deleted with the stack
    if physical.get("StateTable"):
        try:
            clients("dynamodb").delete_table(TableName=physical["StateTable"])
        except clients("dynamodb").exceptions.ResourceNotFoundException:
            pass
    if physical.get("DriftlineKey"):
        clients("kms").schedule_key_deletion(KeyId=physical["DriftlineKey"], PendingWindowInDays=7)


def _empty_bucket(bucket: str) -> None:
    s3 = boto3.resource("s3", region_name=REGION)
    s3.Bucket(bucket).object_versions.delete()
