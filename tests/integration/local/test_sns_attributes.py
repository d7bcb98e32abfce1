"""SNS Publish in the local cloud refuses the message attributes AWS refuses, with AWS's error code."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def topic(aws) -> str:
    return aws("sns").create_topic(Name=f"attributes-{uuid.uuid4().hex[:8]}")["TopicArn"]


def _attrs(**values: str) -> dict:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


@pytest.mark.parametrize(
    "name",
    [".model", "model.", "mo..del", "mo del", "AWS.model", "amazon.kind", "x" * 257],
    ids=["leading period", "trailing period", "successive periods", "space", "AWS. prefix", "Amazon. prefix", "257"],
)
def test_publish_refuses_an_attribute_name_aws_refuses(aws, topic, name):
    with pytest.raises(ClientError) as error:
        aws("sns").publish(TopicArn=topic, Message="body", MessageAttributes=_attrs(**{name: "v"}))

    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_publish_refuses_attributes_that_push_the_message_over_256_kib(aws, topic):
    body = "x" * (262_144 - 100)
    with pytest.raises(ClientError) as error:
        aws("sns").publish(TopicArn=topic, Message=body, MessageAttributes=_attrs(incident="y" * 200))

    assert error.value.response["Error"]["Code"] == "InvalidParameter"
    assert error.value.response["Error"]["Message"] == "Invalid parameter: Message too long"


def test_publish_refuses_an_empty_attribute_value(aws, topic):
    with pytest.raises(ClientError):
        aws("sns").publish(TopicArn=topic, Message="body", MessageAttributes=_attrs(model=""))


def test_publish_accepts_drifts_page_attributes(aws, topic):
    attributes = _attrs(
        model="bank-marketing",
        kind="drift",
        severity="page",
        incident="driftline-bank-marketing-drift",
        action="trigger",
        **{"x.y_z-1": "ok", "AWS.SNS.SMS.SMSType": "Transactional"},
    )
    assert aws("sns").publish(TopicArn=topic, Message="body", MessageAttributes=attributes)["MessageId"]
