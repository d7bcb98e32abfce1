"""AWS clients, created lazily (never at import) and cached per process."""

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


def table(name: str) -> Any:
    return _dynamodb().Table(name)


@cache
def _dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CLIENT_CONFIG)


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
