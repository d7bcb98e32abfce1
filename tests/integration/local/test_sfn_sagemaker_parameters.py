"""Step Functions in the local cloud refuses what AWS refuses for optimized SageMaker integrations;
`aws-sdk:sagemaker:*` tasks take the whole API."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .roles import create_service_role
from .waiting import eventually

REPO = Path(__file__).resolve().parents[3]
ROLE = "arn:aws:iam::123456789012:role/states"


@pytest.fixture(scope="module", autouse=True)
def states_role(aws) -> None:
    """The state machines' role: Step Functions acts with it (IAM is enforced), so it must exist."""
    create_service_role(aws, ROLE, "states.amazonaws.com", "sagemaker:*")


def _task(resource: str, parameters: dict, **extra) -> str:
    return json.dumps(
        {
            "StartAt": "Make the config",
            "States": {"Make the config": {"Type": "Task", "Resource": resource, "Parameters": parameters, **extra}},
        }
    )


def _substituted(path: Path) -> str:
    """The ASL as deployed: every ${Substitution} replaced by a function ARN."""
    return re.sub(r"\$\{(\w+)\}", lambda m: f"arn:aws:lambda:us-east-1:123456789012:function:{m[1]}", path.read_text())


def test_create_state_machine_refuses_a_field_the_optimized_integration_does_not_support(aws):
    definition = _task(
        "arn:aws:states:::sagemaker:createEndpointConfig",
        {"EndpointConfigName": "c", "ProductionVariants": [], "DataCaptureConfig.$": "$.capture"},
        End=True,
    )

    with pytest.raises(ClientError) as error:
        aws("stepfunctions").create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=ROLE
        )

    assert error.value.response["Error"]["Code"] == "InvalidDefinition"
    assert error.value.response["Error"]["Message"] == (
        'Invalid State Machine Definition: \'SCHEMA_VALIDATION_FAILED: The field "DataCaptureConfig" is not '
        "supported by Step Functions at /States/Make the config/Parameters'"
    )


def test_update_state_machine_refuses_it_too(aws):
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}",
        roleArn=ROLE,
        definition=_task(
            "arn:aws:states:::sagemaker:updateEndpoint",
            {"EndpointName": "e", "EndpointConfigName": "c"},
            End=True,
        ),
    )["stateMachineArn"]

    with pytest.raises(ClientError) as error:
        sfn.update_state_machine(
            stateMachineArn=arn,
            definition=_task(
                "arn:aws:states:::sagemaker:updateEndpoint",
                {"EndpointName": "e", "EndpointConfigName": "c", "DeploymentConfig": {}},
                End=True,
            ),
        )

    assert error.value.response["Error"]["Code"] == "InvalidDefinition"
    assert '"DeploymentConfig"' in error.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", ["canary_rollout.asl.json", "training_pipeline.asl.json"])
def test_driftlines_state_machines_are_accepted(aws, name):
    created = aws("stepfunctions").create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", definition=_substituted(REPO / "statemachines" / name), roleArn=ROLE
    )

    assert created["stateMachineArn"]


def test_sdk_sagemaker_task_takes_fields_the_optimized_one_refuses_and_its_errors_reach_the_catch(aws):
    # Given an aws-sdk UpdateEndpoint (DeploymentConfig allowed there) on an endpoint that does not exist
    sfn = aws("stepfunctions")
    definition = json.dumps(
        {
            "StartAt": "Update",
            "States": {
                "Update": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint",
                    "Parameters": {
                        "EndpointName": f"missing-{uuid.uuid4().hex[:6]}",
                        "EndpointConfigName": "c",
                        "DeploymentConfig": {
                            "BlueGreenUpdatePolicy": {
                                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
                            }
                        },
                    },
                    "Catch": [
                        {"ErrorEquals": ["SageMaker.SageMakerException"], "ResultPath": "$.error", "Next": "Caught"}
                    ],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        }
    )
    arn = sfn.create_state_machine(name=f"sm-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]

    # When it runs
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    done = eventually(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d)

    # Then the Catch took SageMaker's error (unmodelled codes are named after the SDK's base exception)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["error"]["Error"] == "SageMaker.SageMakerException"
