"""Where an operating command talks to: the AWS session, the stack's resources, and the errors a person makes.

Every command takes the aws CLI's connection flags (`--profile`, `--region`, `--endpoint-url`) plus
`--stack-name` (default `driftline`) and `--json`, and resolves the stack's resources from its CloudFormation
outputs, so the same command works on AWS (the usual credential chain and region) and on the local cloud.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

DEFAULT_STACK_NAME = "driftline"

# Exit codes, as the aws CLI uses them where it has one (AWS CLI user guide, "Command line return codes"):
# 1 what you asked for does not exist or was refused, 2 bad usage (argparse), 253 no credentials / no region /
# unknown profile, 254 the service returned an error, 255 any other failure (e.g. the endpoint does not answer).
EXIT_REFUSED = 1
EXIT_CONFIG = 253
EXIT_SERVICE = 254
EXIT_AWS = 255
ERRORS_HELP = "253 no credentials or region, 254 an AWS service error, 255 no answer from the endpoint."


class OpsError(Exception):
    """A mistake a person makes (unknown model, run, file; no such stack): a message and an exit code."""

    exit_code = EXIT_REFUSED


class ConfigError(OpsError):
    exit_code = EXIT_CONFIG


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every operating command takes (names as the aws CLI spells them)."""
    group = parser.add_argument_group("where")
    group.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="the Driftline stack (default: driftline)")
    group.add_argument("--profile", help="a named profile from your AWS config (default: the usual chain)")
    group.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / your profile)")
    group.add_argument("--endpoint-url", help="another endpoint, e.g. the local cloud's http://127.0.0.1:4566")
    parser.add_argument("--json", action="store_true", help="print one JSON document (for scripts)")


@dataclass
class Stack:
    """The stack's resources, from its CloudFormation outputs."""

    name: str
    data_bucket: str
    artifact_bucket: str
    state_table: str
    training_pipeline_arn: str
    canary_rollout_arn: str
    topic_arn: str
    region: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Driftline:
    """A session on one account/region (or the local cloud) and the stack deployed there."""

    session: boto3.Session
    endpoint_url: str | None
    stack_name: str
    _clients: dict[str, Any] = field(default_factory=dict)
    _stack: Stack | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Driftline:
        try:
            session = boto3.Session(profile_name=args.profile, region_name=args.region)
        except ProfileNotFound as exc:
            raise ConfigError(f"{exc}; see `aws configure list-profiles`") from exc
        return cls(session, args.endpoint_url, args.stack_name)

    @classmethod
    def for_local_cloud(cls, endpoint_url: str, region: str, stack_name: str = DEFAULT_STACK_NAME) -> Driftline:
        """A session on a local cloud this process runs (the demo): any key is accepted there."""
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
        return cls(session, endpoint_url, stack_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    @property
    def stack(self) -> Stack:
        if self._stack is None:
            self._stack = self._describe_stack()
        return self._stack

    def _describe_stack(self) -> Stack:
        cloudformation = self.client("cloudformation")
        region = cloudformation.meta.region_name
        try:
            described = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"][0]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationError":
                raise OpsError(
                    f"stack '{self.stack_name}' not found in {region}"
                    f"{' at ' + self.endpoint_url if self.endpoint_url else ''}: deploy it (`sam deploy`, or "
                    "`driftline local up` for the local cloud), or pass --stack-name / --region"
                ) from exc
            raise
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        wanted = {
            "DataBucketName": "data_bucket",
            "ArtifactBucketName": "artifact_bucket",
            "StateTableName": "state_table",
            "TrainingPipelineArn": "training_pipeline_arn",
            "CanaryRolloutArn": "canary_rollout_arn",
            "OnCallTopicArn": "topic_arn",
        }
        missing = sorted(k for k in wanted if k not in outputs)
        if missing:
            raise OpsError(
                f"stack '{self.stack_name}' ({described.get('StackStatus')}) lacks the outputs "
                f"{', '.join(missing)}: is it a Driftline stack, and has its deployment finished?"
            )
        fields = {attribute: outputs[key] for key, attribute in wanted.items()}
        return Stack(name=self.stack_name, region=region, outputs=outputs, **fields)

    # --- the state table (layout: layers/common/driftline/state.py) --------------------------------------

    def table(self) -> Any:
        resource = self.session.resource("dynamodb", endpoint_url=self.endpoint_url)
        return resource.Table(self.stack.state_table)

    def model_items(self, model: str) -> dict[str, dict[str, Any]]:
        """Every state-table item of a model, by sort key (CONFIG, PRODUCTION, RUN#<id>, MONITOR, ...)."""
        table = self.table()
        items: dict[str, dict[str, Any]] = {}
        query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(f"MODEL#{model}"), "ConsistentRead": True}
        while True:
            page = table.query(**query)
            for item in page.get("Items", []):
                items[str(item["sk"])] = plain(item)
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def models(self) -> list[str]:
        """Every onboarded model (one with an accepted config), by name."""
        from boto3.dynamodb.conditions import Attr

        table = self.table()
        scan: dict[str, Any] = {"FilterExpression": Attr("sk").eq("CONFIG"), "ProjectionExpression": "pk"}
        names: set[str] = set()
        while True:
            page = table.scan(**scan)
            names |= {str(i["pk"]).removeprefix("MODEL#") for i in page.get("Items", [])}
            if "LastEvaluatedKey" not in page:
                return sorted(names)
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def require_model(self, model: str) -> dict[str, dict[str, Any]]:
        """The model's items; an unknown model is refused with the models there are."""
        items = self.model_items(model)
        if "CONFIG" not in items:
            known = self.models()
            raise OpsError(
                f"unknown model '{model}' in stack '{self.stack_name}': "
                + (f"known models are {', '.join(known)}" if known else "no model is onboarded yet")
                + f" (onboard one with `aws s3 cp model.yaml s3://{self.stack.data_bucket}/models/{model}/model.yaml`)"
            )
        return items


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB's Decimals as ints/floats."""
    return json.loads(json.dumps(item, default=lambda d: int(d) if d == int(d) else float(d)))


def handles_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the errors a person makes into one `error: ...` line on stderr and the exit code for it."""

    @functools.wraps(command)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except BrokenPipeError:  # `driftline ... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except OpsError as exc:
            return _fail(str(exc), exc.exit_code)
        except (NoCredentialsError, PartialCredentialsError) as exc:
            return _fail(
                f"no AWS credentials found: {exc}. Configure them as for the aws CLI (`aws configure`, "
                "AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); the local cloud accepts any key, e.g. "
                "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
                EXIT_CONFIG,
            )
        except NoRegionError:
            return _fail(
                "no AWS region: pass --region or set AWS_DEFAULT_REGION (or a region in your profile)", EXIT_CONFIG
            )
        except EndpointConnectionError as exc:
            return _fail(
                f"cannot reach {exc.kwargs.get('endpoint_url')}: is the endpoint right "
                "(for the local cloud: is `driftline local up` running)?",
                EXIT_AWS,
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return _fail(f"{exc.operation_name} failed: {error.get('Code')}: {error.get('Message')}", EXIT_SERVICE)

    return wrapper


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
