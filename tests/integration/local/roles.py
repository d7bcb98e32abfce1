"""Roles the local cloud's callers act with: IAM is enforced, so a role a test names must exist."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def create_service_role(aws: Callable[[str], Any], role_arn: str, service: str, action: str) -> None:
    """Create `role_arn`, trusted by `service` (e.g. sagemaker.amazonaws.com), allowed `action` on everything."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
    }
    allowed = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    name = role_arn.rsplit("/", 1)[1]
    aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    aws("iam").put_role_policy(RoleName=name, PolicyName="test", PolicyDocument=json.dumps(allowed))
