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
