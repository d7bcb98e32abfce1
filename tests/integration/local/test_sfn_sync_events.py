"""A `.sync` SageMaker task learns that its job ended from the job's state-change event, as Step Functions
does on AWS through its managed EventBridge rule (`sagemaker.sfn_integration`)."""

from __future__ import annotations

import json
import textwrap
import uuid

from driftline_local.sagemaker import sfn_integration
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback

from ..sagemaker.sagemaker_testkit import PROCESS_PY, processing_request
from .roles import create_service_role
from .waiting import eventually

STATES_ROLE = "arn:aws:iam::123456789012:role/SyncEventsStatesRole"
JOB_ROLE = "arn:aws:iam::123456789012:role/SyncEventsJobRole"


def test_a_sync_task_completes_when_its_job_ends_without_polling_for_it(stack, aws, monkeypatch):
    # Given no polling at all: the interpreter's own .sync check and the task's fallback describe wait an hour
    monkeypatch.setattr(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 3600.0)
    monkeypatch.setattr(sfn_integration, "SYNC_FALLBACK_SECONDS", 3600.0)
    suffix = uuid.uuid4().hex[:8]
    create_service_role(aws, f"{STATES_ROLE}-{suffix}", "states.amazonaws.com", "*")
    create_service_role(aws, f"{JOB_ROLE}-{suffix}", "sagemaker.amazonaws.com", "*")
    bucket = f"sync-events-{suffix}"
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="code/src/process.py", Body=textwrap.dedent(PROCESS_PY).encode())
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"1,2\n3,4\n")
    request = processing_request(f"sync-events-{suffix}", bucket, f"s3://{bucket}/code")
    request["RoleArn"] = f"{JOB_ROLE}-{suffix}"
    definition = {
        "StartAt": "Preprocess the data",
        "States": {
            "Preprocess the data": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": request,
                "End": True,
            }
        },
    }
    sfn = aws("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"sync-events-{suffix}", definition=json.dumps(definition), roleArn=f"{STATES_ROLE}-{suffix}"
    )["stateMachineArn"]

    # When the execution waits on the processing job
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    # Then the job's end event completes the task with the job's description
    described = eventually(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d, timeout=120
    )
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["ProcessingJobStatus"] == "Completed"
    # through the rule Step Functions manages on the default bus, as on AWS
    rule = aws("events").describe_rule(Name="StepFunctionsGetEventsForSageMakerProcessingJobsRule")
    assert rule["ManagedBy"] == "states.amazonaws.com"
    assert json.loads(rule["EventPattern"])["detail-type"] == ["SageMaker Processing Job State Change"]
