"""A moto server in this process with the SageMaker extension installed, and tiny job scripts.

The scripts are written here (not taken from jobs/) so these tests pin the local cloud's contract,
not the behaviour of the real Driftline jobs.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from driftline_local.context import LocalCloudContext

from .sagemaker_testkit import INFERENCE_PY, PROCESS_PY, TRAIN_PY, sourcedir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudContext]:
    from driftline_local import sagemaker
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    port = _free_port()
    os.environ["MOTO_PORT"] = str(port)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    ctx = LocalCloudContext(port=port, workdir=tmp_path_factory.mktemp("local-cloud"))
    sagemaker.install(ctx)
    yield ctx
    ctx.stop_event.set()
    time.sleep(0.2)
    server.stop()


@pytest.fixture(scope="session")
def aws(cloud: LocalCloudContext) -> Callable[[str], Any]:
    clients: dict[str, Any] = {}

    def make(service: str) -> Any:
        if service not in clients:
            clients[service] = boto3.client(service, endpoint_url=cloud.endpoint_url, region_name=cloud.region)
        return clients[service]

    return make


@pytest.fixture
def bucket(aws: Callable[[str], Any]) -> str:
    name = f"artifacts-{uuid.uuid4().hex[:10]}"
    aws("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def code(aws: Callable[[str], Any], bucket: str) -> str:
    """The job scripts published the way `driftline publish-jobs` does: a tarball plus loose files."""
    files = {"train.py": TRAIN_PY, "process.py": PROCESS_PY, "inference.py": INFERENCE_PY}
    aws("s3").put_object(Bucket=bucket, Key="code/jobs/sourcedir.tar.gz", Body=sourcedir(files))
    for name, text in files.items():
        aws("s3").put_object(Bucket=bucket, Key=f"code/jobs/src/{name}", Body=textwrap.dedent(text).encode())
    return f"s3://{bucket}/code/jobs"


@pytest.fixture
def event_queue(aws: Callable[[str], Any]) -> Callable[[dict[str, Any]], Callable[[], list[dict[str, Any]]]]:
    """An EventBridge rule with an SQS target; returns a reader of the events it caught."""

    def subscribe(pattern: dict[str, Any]) -> Callable[[], list[dict[str, Any]]]:
        name = f"events-{uuid.uuid4().hex[:8]}"
        queue_url = aws("sqs").create_queue(QueueName=name)["QueueUrl"]
        arn = aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        aws("events").put_rule(Name=name, EventPattern=json.dumps(pattern))
        aws("events").put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
        seen: list[dict[str, Any]] = []

        def read() -> list[dict[str, Any]]:
            messages = aws("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            seen.extend(json.loads(m["Body"]) for m in messages)
            return list(seen)

        return read

    return subscribe
