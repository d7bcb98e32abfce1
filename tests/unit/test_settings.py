"""The handlers' environment: read once, and a missing variable is refused by its name."""

from __future__ import annotations

import dataclasses

import pytest
from driftline import settings
from driftline.errors import InvalidSettings

REQUIRED = {
    "DATA_BUCKET": "data",
    "ARTIFACT_BUCKET": "artifacts",
    "STATE_TABLE": "state",
    "ON_CALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:on-call",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in settings._ENVIRONMENT.values():
        monkeypatch.delenv(var, raising=False)
    for var, value in REQUIRED.items():
        monkeypatch.setenv(var, value)
    settings.settings.cache_clear()
    yield monkeypatch
    settings.settings.cache_clear()


def test_settings_read_every_variable_and_default_the_optional_ones(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("JOB_SUBNET_IDS", "subnet-1,subnet-2")
    environment.setenv("AWS_REGION", "eu-west-1")
    env = settings.settings()
    assert (env.data_bucket, env.state_table, env.region) == ("data", "state", "eu-west-1")
    assert env.job_subnet_ids == "subnet-1,subnet-2"
    assert env.sagemaker_role_arn == ""  # optional: absent means not configured


def test_a_missing_required_variable_is_refused_by_its_name(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("STATE_TABLE")
    with pytest.raises(InvalidSettings, match=r"^STATE_TABLE is not set"):
        settings.settings()


def test_every_missing_required_variable_is_named(environment: pytest.MonkeyPatch) -> None:
    environment.delenv("DATA_BUCKET")
    environment.delenv("ON_CALL_TOPIC_ARN")
    with pytest.raises(InvalidSettings, match=r"^DATA_BUCKET, ON_CALL_TOPIC_ARN are not set"):
        settings.settings()


def test_settings_are_read_only(environment: pytest.MonkeyPatch) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.settings().data_bucket = "other"  # type: ignore[misc]
