"""Handlers on moto (in-process): the real handler code against moto's AWS APIs.

An SQS queue subscribed to the on-call topic is the pager: a test reads what on-call would get.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[3]
REGION = "us-east-1"


@dataclass
class Stack:
    data_bucket: str
    artifact_bucket: str
    table: str
    topic_arn: str
    pager_url: str
    pipeline_arn: str

    def pages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        messages = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.pager_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            messages += [json.loads(m["Body"]) for m in batch]


class _Context:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:test"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def load_handler(name: str):
    """Import functions/<name>/app.py as its own module, as Lambda would."""
    path = REPO / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def invoke(name: str, event: dict) -> dict:
    return load_handler(name)(copy.deepcopy(event), _Context())


def sample(name: str) -> dict:
    return json.loads((REPO / "events" / name).read_text())


@pytest.fixture
def stack(monkeypatch) -> Stack:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Driftline")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("driftline-data-example", "driftline-artifacts-example"):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="driftline-state",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="driftline-on-call")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        pager = sqs.create_queue(QueueName="pager")["QueueUrl"]
        pager_arn = sqs.get_queue_attributes(QueueUrl=pager, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=pager_arn, Attributes={"RawMessageDelivery": "false"})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        pipeline = sfn.create_state_machine(
            name="driftline-training-pipeline",
            definition=json.dumps(
                {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
            ),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        env = {
            "DATA_BUCKET": "driftline-data-example",
            "ARTIFACT_BUCKET": "driftline-artifacts-example",
            "STATE_TABLE": "driftline-state",
            "ON_CALL_TOPIC_ARN": topic,
            "TRAINING_PIPELINE_ARN": pipeline,
            "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/driftline-sagemaker",
            "TRAINING_IMAGE_URI": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
            "PROCESSING_IMAGE_URI": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        _reset_cached_clients()
        yield Stack("driftline-data-example", "driftline-artifacts-example", "driftline-state", topic, pager, pipeline)
        _reset_cached_clients()


def _reset_cached_clients() -> None:
    """Clients and settings are cached per process (as in Lambda); each test gets a fresh 'process'."""
    for module_name in ("driftline.settings", "driftline.aws"):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for attr in ("settings", "client", "_dynamodb", "table"):
            cached = getattr(module, attr, None)
            if hasattr(cached, "cache_clear"):
                cached.cache_clear()


def put_config(stack: Stack, text: str, model: str = "bank-marketing") -> dict:
    """Upload a model.yaml and run the config trigger on it, as EventBridge would."""
    s3 = boto3.client("s3", region_name=REGION)
    key = f"models/{model}/model.yaml"
    version = s3.put_object(Bucket=stack.data_bucket, Key=key, Body=text.encode()).get("VersionId")
    event = sample("config_uploaded.json")
    event["detail"]["object"].update({"key": key, "size": len(text), "version-id": version})
    return invoke("on_config_uploaded", event)


def upload(stack: Stack, key: str, body: bytes, *, sequencer: str, time: str = "2026-11-28T05:00:00Z") -> dict:
    """Upload a data file and build its S3 `Object Created` event (not yet delivered)."""
    s3 = boto3.client("s3", region_name=REGION)
    version = s3.put_object(Bucket=stack.data_bucket, Key=key, Body=body).get("VersionId")
    event = sample("data_uploaded.json")
    event["id"] = f"event-{sequencer}"
    event["time"] = time
    event["detail"]["object"].update({"key": key, "size": len(body), "version-id": version, "sequencer": sequencer})
    return event


os.environ.setdefault("POWERTOOLS_DEV", "false")
