"""The real-AWS smoke test runs only when asked: DRIFTLINE_AWS_TESTS=1 and credentials in the usual chain."""

from __future__ import annotations

import os

import pytest


def aws_tests_wanted() -> tuple[bool, str]:
    if os.environ.get("DRIFTLINE_AWS_TESTS") != "1":
        return False, "set DRIFTLINE_AWS_TESTS=1 (and AWS credentials) to deploy to a sandbox account"
    import boto3

    if boto3.Session().get_credentials() is None:
        return False, "DRIFTLINE_AWS_TESTS=1 but no AWS credentials were found in the usual chain"
    return True, ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted, why = aws_tests_wanted()
    if wanted:
        return
    for item in items:
        if "tests/aws" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=why))
