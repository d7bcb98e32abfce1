"""SNS Publish in the local cloud refuses the subjects AWS refuses, with AWS's error."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def topic(aws) -> str:
    return aws("sns").create_topic(Name=f"subjects-{uuid.uuid4().hex[:8]}")["TopicArn"]


@pytest.mark.parametrize(
    "subject",
    ["x" * 101, "Rollback… of bank-marketing", "two\nlines", "tab\there", " starts with a space"],
    ids=["101 characters", "not ASCII", "line break", "control character", "leading space"],
)
def test_publish_refuses_a_subject_aws_refuses(aws, topic, subject):
    with pytest.raises(ClientError) as error:
        aws("sns").publish(TopicArn=topic, Subject=subject, Message="body")

    assert error.value.response["Error"]["Code"] == "InvalidParameter"
    assert error.value.response["Error"]["Message"] == "Invalid parameter: Subject"


@pytest.mark.parametrize("subject", ["x" * 100, "[Driftline] bank-marketing: drift alarm", "42 (ok) - fine!"])
def test_publish_accepts_a_subject_aws_accepts(aws, topic, subject):
    assert aws("sns").publish(TopicArn=topic, Subject=subject, Message="body")["MessageId"]
