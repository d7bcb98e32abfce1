"""The interpreter's tasks reuse one SDK client per (region, service, role), as a service keeps its clients,
and never share a client between roles."""

from __future__ import annotations

from types import SimpleNamespace

from moto.stepfunctions.parser.asl.utils import boto_client

from .roles import create_service_role


def test_tasks_of_one_role_share_a_client_and_other_roles_get_their_own(stack, aws, cloud):
    arns = [f"arn:aws:iam::{cloud.ctx.account_id}:role/client-cache-{n}" for n in ("first", "second")]
    for arn in arns:
        create_service_role(aws, arn, "states.amazonaws.com", "lambda:InvokeFunction")
    role, other = (SimpleNamespace(role_arn=arn) for arn in arns)

    first = boto_client.boto_client_for(cloud.ctx.region, "lambda", role)
    again = boto_client.boto_client_for(cloud.ctx.region, "lambda", role)
    for_other_role = boto_client.boto_client_for(cloud.ctx.region, "lambda", other)

    assert again is first
    assert for_other_role is not first
    assert for_other_role._request_signer._credentials.access_key != first._request_signer._credentials.access_key


def test_a_machines_task_clients_are_made_when_it_is_created_not_by_its_first_execution(stack, aws, cloud, monkeypatch):
    import json
    import threading

    import boto3
    from driftline_local import states

    from .waiting import eventually

    arn = f"arn:aws:iam::{cloud.ctx.account_id}:role/clients-ahead"
    create_service_role(aws, arn, "states.amazonaws.com", "*")
    definition = {
        "StartAt": "Plan",
        "States": {
            "Plan": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Look"},
            "Look": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint", "End": True},
        },
    }
    assert states.task_services(json.dumps(definition)) == ["lambda", "sagemaker"]
    # Given a machine was just created
    aws("stepfunctions").create_state_machine(name="clients-ahead", definition=json.dumps(definition), roleArn=arn)
    role = SimpleNamespace(role_arn=arn)
    test_thread = threading.get_ident()
    real_client = boto3.client

    def no_client_made_here(*args, **kwargs):
        if threading.get_ident() == test_thread:
            raise AssertionError(f"a task made a client: {kwargs.get('service_name') or args[0]}")
        return real_client(*args, **kwargs)

    monkeypatch.setattr(boto3, "client", no_client_made_here)

    # When its tasks ask for their clients (once the background work is done)
    def tasks_get_clients_without_making_one():
        try:
            return [boto_client.boto_client_for(cloud.ctx.region, s, role) for s in ("lambda", "sagemaker")]
        except AssertionError:
            return None

    clients = eventually(tasks_get_clients_without_making_one)
    # Then each client acts as the machine's role, one per service
    keys = {c._request_signer._credentials.access_key for c in clients}
    assert len(keys) == 1 and keys != {"testing"}
    assert [c.meta.service_model.service_name for c in clients] == ["lambda", "sagemaker"]
