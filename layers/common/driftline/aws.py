"""AWS clients, cached per process: created by a handler's init phase (`prepare`) or on first use.

Layer modules never create a client at import (tests import them before any AWS mock exists). A
handler's `app.py` calls `prepare` at module level instead: Lambda runs that init phase once per
execution environment, before its first event (and ahead of traffic when it initializes
proactively), so no request waits for a service model to load.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Throttling and transient faults are retried by the SDK itself (adaptive mode backs off).
_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CLIENT_CONFIG)


def prepare(*services: str) -> None:
    """Create the clients a handler uses now, in the init phase ("dynamodb": the state table's resource)."""
    for service in services:
        if service == "dynamodb":
            _dynamodb()
        else:
            client(service)


@cache
def table(name: str) -> Any:
    """The table's resource, made once per process (boto3 builds each `Table(...)` anew: about 0.5 ms a call)."""
    return _dynamodb().Table(name)


@cache
def _dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CLIENT_CONFIG)


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
