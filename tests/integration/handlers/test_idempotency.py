"""At-least-once delivery on moto: a crash or a fault leaves the retry its work; a true repeat does nothing.

A "kill" is an exception the handler cannot catch (a BaseException, as when Lambda's runtime stops the
process at its timeout): nothing after it runs, so the idempotency record stays "in progress" until the
killed invocation's deadline, exactly as on AWS.
"""

from __future__ import annotations

import time

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from botocore.exceptions import ClientError
from driftline import aws

from .conftest import REGION, invoke, load_handler, put_config, sample, upload

CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
GOOD = b"age,job,y\n41,admin.,no\n35,technician,yes\n52,retired,no\n"
BAD = b"age,job,y\n41,admin.,no,oops\n"
MODEL_DIR = "incoming/bank-marketing/"


class Killed(BaseException):
    """The runtime ends the process: no except/finally of the handler's own runs."""


class Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:test"
    aws_request_id = "req-killed"

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _executions(stack) -> list[dict]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.list_executions(stateMachineArn=stack.pipeline_arn)["executions"]


def _keys(stack, prefix: str) -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=stack.data_bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _fail_once(monkeypatch, client, method: str, error: BaseException) -> None:
    real = getattr(client, method)

    def failing(**kwargs):
        monkeypatch.setattr(client, method, real)
        raise error

    monkeypatch.setattr(client, method, failing)


def _in_progress_until(stack) -> float:
    """The in-progress expiry (epoch ms) of the one idempotency record in the table."""
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.table)
    [record] = [i for i in table.scan()["Items"] if str(i["pk"]).startswith("IDEMPOTENCY#")]
    assert record["status"] == "INPROGRESS"
    return float(record["in_progress_expiration"])


def test_a_handler_killed_mid_way_leaves_the_retry_its_work(stack, monkeypatch):
    put_config(stack, CONFIG)
    event = upload(stack, MODEL_DIR + "a.csv", GOOD, sequencer="01")
    handler = load_handler("on_data_uploaded")
    _fail_once(monkeypatch, aws.client("stepfunctions"), "start_execution", Killed())

    with pytest.raises(Killed):
        handler(event, Context(remaining_ms=300))  # killed with 0.3 s of its time left

    assert _executions(stack) == []
    deadline = _in_progress_until(stack)
    while time.time() * 1000 <= deadline:  # Lambda retries after the killed invocation's deadline
        time.sleep(0.05)
    retried = handler(event, Context(remaining_ms=60_000))
    repeated = handler(event, Context(remaining_ms=60_000))

    assert retried["outcome"] == "started"
    assert (repeated["outcome"], repeated["first_outcome"]) == ("duplicate", "started")
    assert [e["name"] for e in _executions(stack)] == [retried["run_id"]]


def test_a_redelivery_while_the_first_is_still_running_fails_so_it_is_retried_not_swallowed(stack, monkeypatch):
    put_config(stack, CONFIG)
    event = upload(stack, MODEL_DIR + "a.csv", GOOD, sequencer="01")
    handler = load_handler("on_data_uploaded")
    _fail_once(monkeypatch, aws.client("stepfunctions"), "start_execution", Killed())
    with pytest.raises(Killed):
        handler(event, Context(remaining_ms=60_000))

    with pytest.raises(IdempotencyAlreadyInProgressError):
        handler(event, Context(remaining_ms=60_000))

    assert _executions(stack) == []


def test_a_fault_after_the_copy_lets_the_retry_quarantine_and_page(stack, monkeypatch):
    put_config(stack, CONFIG)
    event = upload(stack, MODEL_DIR + "bad.csv", BAD, sequencer="01")
    throttled = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")
    _fail_once(monkeypatch, aws.client("sns"), "publish", throttled)

    with pytest.raises(ClientError):
        invoke("on_data_uploaded", event)
    assert _keys(stack, "incoming/") == [MODEL_DIR + "bad.csv"] and stack.pages() == []

    retried = invoke("on_data_uploaded", event)

    assert retried["outcome"] == "quarantined"
    assert _keys(stack, "incoming/") == []
    [page] = stack.pages()
    assert "line 2 has 4 fields" in page["Message"]
    kept = boto3.client("s3", region_name=REGION).get_object(Bucket=stack.data_bucket, Key=retried["quarantine_key"])
    assert kept["Body"].read() == BAD


def test_a_retry_after_the_version_was_quarantined_and_removed_reports_it_and_pages_once(stack, monkeypatch):
    put_config(stack, CONFIG)
    event = upload(stack, MODEL_DIR + "bad.csv", BAD, sequencer="01")
    handler = load_handler("on_data_uploaded")
    s3 = aws.client("s3")
    real_delete = s3.delete_object

    def delete_then_die(**kwargs):
        real_delete(**kwargs)
        raise Killed()  # after the last step, before the completion is recorded

    monkeypatch.setattr(s3, "delete_object", delete_then_die)
    with pytest.raises(Killed):
        handler(event, Context(remaining_ms=300))
    monkeypatch.setattr(s3, "delete_object", real_delete)
    deadline = _in_progress_until(stack)
    while time.time() * 1000 <= deadline:
        time.sleep(0.05)

    retried = handler(event, Context(remaining_ms=60_000))

    assert retried["outcome"] == "quarantined" and retried["quarantine_key"].endswith("/bad.csv")
    assert len(stack.pages()) == 1


def test_a_true_duplicate_of_a_monitor_result_publishes_once_and_a_failed_one_is_retried(stack, monkeypatch):
    put_config(stack, CONFIG)
    event = sample("monitoring_job_completed.json")
    report = "bank-marketing/monitoring/bank-marketing-20261128T070000-monitor/constraint_violations.json"
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.artifact_bucket, Key=report, Body=b'{"violations": []}'
    )
    throttled = ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "PutMetricData")
    load_handler("on_monitoring_completed")  # its init phase creates the clients
    _fail_once(monkeypatch, aws.client("cloudwatch"), "put_metric_data", throttled)

    with pytest.raises(ClientError):
        invoke("on_monitoring_completed", event)
    retried = invoke("on_monitoring_completed", event)
    repeated = invoke("on_monitoring_completed", event)

    assert retried["action"] == "published"
    assert (repeated["action"], repeated["first_action"]) == ("duplicate", "published")
