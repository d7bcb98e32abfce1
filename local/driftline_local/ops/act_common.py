"""What the act commands (retrain, rollback, promote, pause, resume) share: the layer's code, run in this process.

The commands do not reimplement Driftline: they call `driftline.operations`, the same code the Lambda
functions run, pointed at the stack this session resolved (its outputs become the layer's settings; the layer's
clients are made from this session, so its credentials, region and --endpoint-url). So they act with the
caller's own credentials and identity.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import NoCredentialsError

from driftline_local.ops import format as fmt
from driftline_local.ops.session import Driftline, OpsError, add_connection_arguments, handles_errors

_SETTINGS = {
    "DATA_BUCKET": "data_bucket",
    "ARTIFACT_BUCKET": "artifact_bucket",
    "STATE_TABLE": "state_table",
    "ON_CALL_TOPIC_ARN": "topic_arn",
    "TRAINING_PIPELINE_ARN": "training_pipeline_arn",
    "CANARY_ROLLOUT_ARN": "canary_rollout_arn",
}


def add_act_arguments(parser: argparse.ArgumentParser, *, reason: bool = True) -> None:
    if reason:
        parser.add_argument("--reason", help="why (kept in the audit record and shown in the announcement)")
    add_connection_arguments(parser)


def bind_layer(ops: Driftline) -> str:
    """Point the `driftline` layer at this session's stack; returns the caller's identity (STS)."""
    if ops.session.get_credentials() is None:
        raise NoCredentialsError()
    stack = ops.stack
    environment = {name: getattr(stack, attribute) for name, attribute in _SETTINGS.items()}
    environment |= {
        "AWS_REGION": stack.region,
        "POWERTOOLS_LOG_LEVEL": "ERROR",  # the layer's JSON logs are for CloudWatch, not for this terminal
    }
    if ops.endpoint_url:
        environment["AWS_ENDPOINT_URL"] = ops.endpoint_url
    os.environ.update(environment)

    from driftline import aws, observability, settings

    boto3.DEFAULT_SESSION = ops.session  # the layer's clients: this session's (refreshing) credentials and region
    settings.settings.cache_clear()
    aws.client.cache_clear()
    aws._dynamodb.cache_clear()
    observability.logger.setLevel(logging.ERROR)
    from driftline.operations import caller

    return caller()


def run_operation(
    args: argparse.Namespace,
    operation: Callable[..., dict[str, Any]],
    describe: Callable[[dict[str, Any]], str],
    **kwargs: Any,
) -> int:
    """Bind the layer, run `operation(who=..., **kwargs)`, print its outcome (or `--json`); refusals exit 1."""
    from driftline.errors import DriftlineError

    ops = Driftline.from_args(args)
    who = bind_layer(ops)
    try:
        outcome = operation(who=who, **kwargs)
    except DriftlineError as exc:
        raise OpsError(f"{exc} ({type(exc).__name__})") from exc
    if args.json:
        fmt.print_json(outcome)
    else:
        print(describe(outcome))
    return 0


def progress(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a waiting command says what it waits for: stderr, so stdout stays the result."""

    def say(message: str) -> None:
        if not args.json:
            print(f"... {message}", file=sys.stderr, flush=True)

    return say


__all__ = ["add_act_arguments", "bind_layer", "handles_errors", "progress", "run_operation"]
