"""Run in its own interpreter by test_iam_enforcement.py: a fresh local cloud with IAM enforced.

    python iam_scenario.py <template> <workdir> [--no-iam]

Deploys the template (a SAM template whose local paths resolve from its own directory or are
absolute), then, as the account's administrator, drives two callers and prints one JSON line:
- `config`: OnConfigUploadedFunction invoked on a valid models/<model>/model.yaml (its role reads S3);
- `plan_task`: a TrainingPipeline execution's "Plan the run" task (the machine's role invokes
  PrepareRunFunction): the first TaskSucceeded/TaskFailed after it was scheduled;
- `sagemaker_role`: what a SageMaker job's S3 staging (`sagemaker._aws.client` with the job's RoleArn)
  may read: training data under incoming/, not model configs; and whether Lambda may assume it.
A cloud per interpreter: moto's backends and the Lambda runtime are process-wide.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
from driftline_local.cloud import LocalCloud
from driftline_local.images import resolve_image_uris

from tests.integration.local.waiting import eventually

REPO_ROOT = Path(__file__).resolve().parents[3]
TASK_TIMEOUT_SECONDS = 120.0


def _client(cloud: LocalCloud, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint_url,
        region_name=cloud.ctx.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _config_outcome(cloud: LocalCloud, deployed: Any) -> dict[str, Any]:
    bucket = deployed.outputs["DataBucketName"]
    key = "models/churn/model.yaml"
    body = b"name: churn\nproblem_type: binary_classification\ntarget: y\n"
    _client(cloud, "s3").put_object(Bucket=bucket, Key=key, Body=body)
    event = json.loads((REPO_ROOT / "events" / "config_uploaded.json").read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    event["detail"]["object"].pop("version-id", None)
    response = _client(cloud, "lambda").invoke(
        FunctionName=deployed.resources["OnConfigUploadedFunction"], Payload=json.dumps(event).encode()
    )
    return {"function_error": response.get("FunctionError"), "payload": json.loads(response["Payload"].read())}


def _plan_task_outcome(cloud: LocalCloud, deployed: Any) -> dict[str, Any]:
    sfn = _client(cloud, "stepfunctions")
    payload = {"model": "churn", "run_id": "churn-iam-1", "trigger": "upload", "settle_seconds": 0}
    arn = sfn.start_execution(stateMachineArn=deployed.outputs["TrainingPipelineArn"], input=json.dumps(payload))[
        "executionArn"
    ]

    def plan_outcome() -> dict[str, Any] | None:
        events = sfn.get_execution_history(executionArn=arn)["events"]
        entered = [i for i, e in enumerate(events) if e["type"] == "TaskStateEntered"]
        if not entered or events[entered[0]]["stateEnteredEventDetails"]["name"] != "Plan the run":
            return None
        for event in events[entered[0] :]:
            if event["type"] == "TaskSucceeded":
                return {"outcome": "TaskSucceeded"}
            if event["type"] == "TaskFailed":
                details = event["taskFailedEventDetails"]
                return {"outcome": "TaskFailed", "error": details.get("error"), "cause": details.get("cause")}
        return None

    try:
        return dict(eventually(plan_outcome, timeout=TASK_TIMEOUT_SECONDS, interval=0.1))
    finally:
        sfn.stop_execution(executionArn=arn)


def _sagemaker_role_outcome(cloud: LocalCloud, deployed: Any) -> dict[str, Any]:
    from botocore.exceptions import ClientError
    from driftline_local import iam
    from driftline_local.sagemaker import _aws

    role_arn = f"arn:aws:iam::{cloud.ctx.account_id}:role/{deployed.resources['SageMakerExecutionRole']}"
    bucket = deployed.outputs["DataBucketName"]
    _client(cloud, "s3").put_object(Bucket=bucket, Key="incoming/churn/a.csv", Body=b"x,y\n1,0\n")
    s3 = _aws.client(cloud.ctx, "s3", role_arn)
    outcome: dict[str, Any] = {}
    for key in ("incoming/churn/a.csv", "models/churn/model.yaml"):
        try:
            s3.get_object(Bucket=bucket, Key=key)
            outcome[key] = "read"
        except ClientError as exc:
            outcome[key] = exc.response["Error"]["Code"]
    try:
        iam.credentials_for_role(role_arn, "lambda.amazonaws.com")
        outcome["lambda_assumes_it"] = True
    except iam.RoleNotAssumable:
        outcome["lambda_assumes_it"] = False
    return outcome


def _admin_role_outcome(cloud: LocalCloud, deployed: Any) -> dict[str, str]:
    """One call per kind of request the code makes, as a role allowed everything: each must pass IAM
    (no SignatureDoesNotMatch, no AccessDenied), whatever the service then answers."""
    from botocore.exceptions import ClientError
    from driftline_local import iam

    admin = _client(cloud, "iam")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    admin.create_role(RoleName="everything", AssumeRolePolicyDocument=json.dumps({"Statement": [trust]}))
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    admin.put_role_policy(RoleName="everything", PolicyName="all", PolicyDocument=json.dumps(allow_all))
    session = iam.boto3_session(f"arn:aws:iam::{cloud.ctx.account_id}:role/everything", "lambda.amazonaws.com")

    def c(service: str) -> Any:
        return session.client(service, endpoint_url=cloud.endpoint_url)

    bucket, table = deployed.outputs["DataBucketName"], deployed.outputs["StateTableName"]
    topic, pipeline = deployed.outputs["OnCallTopicArn"], deployed.outputs["TrainingPipelineArn"]
    function = deployed.resources["OnConfigUploadedFunction"]
    calls = {
        "s3.put_object": lambda: c("s3").put_object(Bucket=bucket, Key="incoming/x/ü b.csv", Body=b"a\n"),
        "s3.head_object": lambda: c("s3").head_object(Bucket=bucket, Key="incoming/x/ü b.csv"),
        "s3.copy": lambda: c("s3").copy({"Bucket": bucket, "Key": "incoming/x/ü b.csv"}, bucket, "quarantine/x.csv"),
        "s3.list_objects_v2": lambda: c("s3").list_objects_v2(Bucket=bucket, Prefix="incoming/"),
        "s3.delete_object": lambda: c("s3").delete_object(Bucket=bucket, Key="quarantine/x.csv"),
        "dynamodb.put_item": lambda: c("dynamodb").put_item(TableName=table, Item={"pk": {"S": "k"}, "sk": {"S": "s"}}),
        "dynamodb.query": lambda: c("dynamodb").query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "k"}}
        ),
        "sns.publish": lambda: c("sns").publish(TopicArn=topic, Subject="[Driftline] x", Message="a\nb — c"),
        "stepfunctions.list_executions": lambda: c("stepfunctions").list_executions(stateMachineArn=pipeline),
        "sagemaker.list_training_jobs": lambda: c("sagemaker").list_training_jobs(),
        "cloudwatch.put_metric_data": lambda: c("cloudwatch").put_metric_data(
            Namespace="Driftline", MetricData=[{"MetricName": "m", "Value": 1.0}]
        ),
        "cloudwatch.describe_alarms": lambda: c("cloudwatch").describe_alarms(AlarmNamePrefix="driftline-"),
        "events.put_events": lambda: c("events").put_events(
            Entries=[{"Source": "driftline", "DetailType": "t", "Detail": "{}"}]
        ),
        "lambda.get_function": lambda: c("lambda").get_function(FunctionName=function),
    }
    outcome = {}
    for name, call in calls.items():
        try:
            call()
            outcome[name] = "ok"
        except ClientError as exc:
            outcome[name] = exc.response["Error"]["Code"]
    return outcome


def main() -> None:
    template, workdir = Path(sys.argv[1]), Path(sys.argv[2])
    with LocalCloud(port=0, workdir=workdir, enforce_iam="--no-iam" not in sys.argv[3:]) as cloud:
        deployed = cloud.deploy(template, "driftline", {**resolve_image_uris(cloud.ctx.region)})
        result = {
            "config": _config_outcome(cloud, deployed),
            "plan_task": _plan_task_outcome(cloud, deployed),
            "sagemaker_role": _sagemaker_role_outcome(cloud, deployed),
            "admin_role": _admin_role_outcome(cloud, deployed),
        }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
