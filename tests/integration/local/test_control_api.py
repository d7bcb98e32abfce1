"""`driftline local interrupt` and `driftline local fault` act on a running local cloud through its control
API (`POST /_driftline/<action>`), while every AWS request still reaches moto."""

from __future__ import annotations

import io
import json
import tarfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from driftline_local.cli import main
from driftline_local.cloud import free_port

from tests.integration.sagemaker.sagemaker_testkit import (
    IMAGE,
    INFERENCE_PY,
    ROLE,
    TRAIN_PY,
    sourcedir,
    training_request,
)

from .roles import create_service_role
from .waiting import eventually


@pytest.fixture(scope="module")
def code(aws) -> tuple[str, str]:
    """A bucket with the tiny training and inference scripts: (bucket, code URI), and the jobs' role.

    The local cloud stages a job's data with its role, as SageMaker does: the role must exist and
    trust SageMaker, or the job fails as it would on AWS.
    """
    create_service_role(aws, ROLE, "sagemaker.amazonaws.com", "s3:*")
    bucket = f"control-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(Bucket=bucket)
    files = {"train.py": TRAIN_PY, "inference.py": INFERENCE_PY}
    aws("s3").put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=sourcedir(files))
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n3,4\n")
    return bucket, f"s3://{bucket}/code"


@pytest.fixture(scope="module")
def endpoint(aws, code) -> str:
    """An InService endpoint with one variant, AllTraffic, predicting 2 * x."""
    bucket, code_uri = code
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps({"factor": 2}).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    aws("s3").put_object(Bucket=bucket, Key="model/model.tar.gz", Body=buffer.getvalue())
    name = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"{code_uri}/sourcedir.tar.gz",
            },
        },
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    aws("sagemaker").create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    aws("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName=name)
    eventually(lambda: aws("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService")
    return name


def test_an_endpoint_whose_model_role_sagemaker_cannot_assume_fails_to_deploy(aws, code):
    # Given a model whose execution role trusts Lambda, not SageMaker
    bucket, code_uri = code
    role = f"arn:aws:iam::123456789012:role/not-for-sagemaker-{uuid.uuid4().hex[:6]}"
    create_service_role(aws, role, "lambda.amazonaws.com", "s3:*")
    name = f"ep-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=role,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"{code_uri}/sourcedir.tar.gz",
            },
        },
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    aws("sagemaker").create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])

    # When the endpoint is created, then it fails: SageMaker fetches the model's data with that role
    aws("sagemaker").create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = eventually(
        lambda: (d := aws("sagemaker").describe_endpoint(EndpointName=name))["EndpointStatus"] != "Creating" and d
    )
    assert described["EndpointStatus"] == "Failed"
    assert role in described["FailureReason"]


def _invoke(aws: Any, endpoint: str) -> str:
    try:
        aws("sagemaker-runtime").invoke_endpoint(EndpointName=endpoint, Body="1", ContentType="text/csv")
        return "ok"
    except aws("sagemaker-runtime").exceptions.ModelError:
        return "ModelError"


def _cli(cloud: Any, *args: str) -> int:
    return main(["local", *args, "--endpoint-url", cloud.endpoint_url])


def test_cli_fault_fails_the_variant_until_cleared_and_its_alarm_follows(cloud, aws, endpoint, capsys):
    # Given an alarm on the variant's server-error rate, as a rollout would set it
    alarm = f"{endpoint}-5xx"
    aws("cloudwatch").put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.1,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )

    # When the CLI makes every invocation fail
    assert _cli(cloud, "fault", endpoint, "AllTraffic", "--error-rate", "1", "--latency-ms", "20") == 0
    assert "100% of invocations fail, +20 ms each" in capsys.readouterr().out

    # Then invocations fail and the alarm goes to ALARM from the published metrics
    def state_while_invoking(expected: str) -> Callable[[], bool]:
        def check() -> bool:
            _invoke(aws, endpoint)
            described = aws("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
            return described["StateValue"] == expected

        return check

    assert _invoke(aws, endpoint) == "ModelError"
    eventually(state_while_invoking("ALARM"))

    # When the fault is cleared, invocations succeed and the alarm returns to OK
    assert _cli(cloud, "fault", endpoint, "AllTraffic", "--clear") == 0
    assert _invoke(aws, endpoint) == "ok"
    eventually(state_while_invoking("OK"))


def test_cli_interrupt_reclaims_a_running_spot_training_job(cloud, aws, code, capsys):
    bucket, code_uri = code
    name = f"train-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_training_job(**training_request(name, bucket, code_uri, epochs=100, sleep=0.2))
    eventually(lambda: aws("sagemaker").describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training")

    code_ = _cli(cloud, "interrupt", name, "--notice-seconds", "1", "--outcome", "max_wait_exceeded")

    assert code_ == 0
    assert f"Interrupted training job {name}" in capsys.readouterr().out
    job = eventually(
        lambda: (
            (d := aws("sagemaker").describe_training_job(TrainingJobName=name))["TrainingJobStatus"] != "InProgress"
            and d
        )
    )
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxWaitTimeExceeded")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("interrupt", "no-such-job"),
            "training job arn:aws:sagemaker:us-east-1:123456789012:training-job/no-such-job",
        ),
        (("fault", "no-such-endpoint", "AllTraffic", "--error-rate", "0.5"), "Could not find endpoint"),
        (("fault", "{endpoint}", "Nope", "--latency-ms", "5"), 'has no variant "Nope"'),
        (("fault", "{endpoint}", "AllTraffic", "--error-rate", "2"), "error_rate must be between 0 and 1"),
    ],
)
def test_cli_reports_what_the_cloud_refused(cloud, endpoint, capsys, args, message):
    code_ = _cli(cloud, *(a.format(endpoint=endpoint) for a in args))

    assert code_ == 1
    assert message in capsys.readouterr().err


def test_cli_says_when_no_cloud_is_running(capsys):
    code_ = main(["local", "fault", "ep", "AllTraffic", "--clear", "--endpoint-url", f"http://127.0.0.1:{free_port()}"])

    assert code_ == 2
    error = capsys.readouterr().err
    assert "no local cloud answers at http://127.0.0.1:" in error and "driftline local up" in error


def test_control_api_answers_json_and_leaves_aws_requests_to_moto(cloud, aws):
    def post(action: str, body: bytes) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{cloud.endpoint_url}/_driftline/{action}", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    assert post("no_such_action", b"{}")[0] == 404
    assert post("no_such_action", b"{}")[1]["error"]["code"] == "UnknownAction"
    status, body = post("set_endpoint_fault", b'{"endpoint": "x"}')
    assert (status, body["error"]["message"]) == (400, "'variant' is required")
    assert post("set_endpoint_fault", b"not json")[0] == 400
    assert post("evaluate_alarms", b"")[0] == 200
    with urllib.request.urlopen(f"{cloud.endpoint_url}/_driftline/", timeout=10) as response:
        assert "interrupt_training_job" in json.loads(response.read())["actions"]
    assert "Buckets" in aws("s3").list_buckets()
