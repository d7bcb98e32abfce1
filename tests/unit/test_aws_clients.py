"""AWS clients and table resources are made once per process, as a Lambda execution environment keeps them."""

from __future__ import annotations

import pytest
from driftline import aws


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for cached in (aws.client, aws._dynamodb, aws.table):
        cached.cache_clear()
    yield
    for cached in (aws.client, aws._dynamodb, aws.table):
        cached.cache_clear()


def test_a_table_is_built_once_per_process_and_shares_the_processs_client(fresh) -> None:
    first = aws.table("driftline-state")
    assert aws.table("driftline-state") is first
    assert aws.table("other").name == "other" and aws.table("other").meta.client is first.meta.client
