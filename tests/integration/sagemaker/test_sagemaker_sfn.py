"""The Step Functions interpreter runs the optimized SageMaker integrations (`.sync` and request-response)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .sagemaker_testkit import ROLE, processing_request, training_request, wait_for


def _run(aws: Any, definition: dict[str, Any], payload: dict[str, Any], timeout: float = 45.0) -> dict[str, Any]:
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(name=f"sm-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    return wait_for(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d, timeout)


def _from_input(path: str, request: dict[str, Any]) -> dict[str, str]:
    """Task Parameters that pass a request from the execution input field by field."""
    # "RoleArn.$" is mis-parsed by moto's ASL grammar (RoleArn is a keyword there), so it stays a literal.
    parameters: dict[str, str] = {f"{key}.$": f"{path}.{key}" for key in request if key != "RoleArn"}
    return {**parameters, "RoleArn": ROLE}


def _pipeline(catch: bool, processing: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    train: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": _from_input("$.training", training),
        "End": True,
    }
    if catch:
        train["Catch"] = [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Page on-call"}]
    return {
        "StartAt": "Preprocess the data",
        "States": {
            "Preprocess the data": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": _from_input("$.processing", processing),
                "ResultPath": "$.processing_result",
                "Next": "Train the model",
            },
            "Train the model": {
                **train,
                "ResultSelector": {
                    "status.$": "$.TrainingJobStatus",
                    "model.$": "$.ModelArtifacts.S3ModelArtifacts",
                },
            },
            **({"Page on-call": {"Type": "Pass", "End": True}} if catch else {}),
        },
    }


def test_pipeline_with_processing_and_training_sync_tasks_succeeds(aws, bucket, code):
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"1,2\n3,4\n")
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n")
    suffix = uuid.uuid4().hex[:8]
    payload = {
        "processing": processing_request(f"pre-{suffix}", bucket, code),
        "training": training_request(f"train-{suffix}", bucket, code, epochs=1),
    }

    execution = _run(aws, _pipeline(False, **payload), payload)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output == {"status": "Completed", "model": f"s3://{bucket}/runs/model/train-{suffix}/output/model.tar.gz"}
    assert aws("s3").get_object(Bucket=bucket, Key="runs/splits/train/train.csv")["Body"].read() == b"1,2\n3,4\n"


def test_failing_training_job_fails_the_task_and_goes_to_the_catch(aws, bucket, code):
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"1,2\n")
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n")
    suffix = uuid.uuid4().hex[:8]
    payload = {
        "processing": processing_request(f"pre-{suffix}", bucket, code),
        "training": training_request(f"train-{suffix}", bucket, code, fail="no label column"),
    }

    execution = _run(aws, _pipeline(True, **payload), payload)

    assert execution["status"] == "SUCCEEDED", execution
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert "ValueError: no label column" in cause["FailureReason"]


def test_api_error_fails_the_task_as_amazon_sagemaker_exception(aws, bucket, code):
    definition = {
        "StartAt": "Create the model",
        "States": {
            "Create the model": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createEndpointConfig",
                "Parameters": {
                    "EndpointConfigName": f"cfg-{uuid.uuid4().hex[:8]}",
                    "ProductionVariants": [
                        {
                            "VariantName": "AllTraffic",
                            "ModelName": "no-such-model",
                            "InstanceType": "ml.m5.large",
                            "InitialInstanceCount": 1,
                        }
                    ],
                },
                "End": True,
            }
        },
    }

    execution = _run(aws, definition, {})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "SageMaker.AmazonSageMakerException"
    assert "Could not find model" in execution["cause"]
    assert "Error Code: ValidationException" in execution["cause"]


def test_aws_sdk_describe_endpoint_of_a_missing_endpoint_fails_with_a_sagemaker_error(aws):
    definition = {
        "StartAt": "Describe the endpoint",
        "States": {
            "Describe the endpoint": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
                "Parameters": {"EndpointName": "no-such-endpoint"},
                "End": True,
            }
        },
    }

    execution = _run(aws, definition, {})

    # AWS answers ValidationException "Could not find endpoint"; the SDK models no such error for
    # SageMaker, so the aws-sdk integration names it after the service's base exception.
    assert execution["status"] == "FAILED"
    assert execution["error"] == "SageMaker.SageMakerException"
    assert "Could not find endpoint" in execution["cause"]
