"""Schedule rules run on the cloud clock, `time_scale` times faster, and PutRule rejects what AWS rejects."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime

import pytest
from botocore.exceptions import ClientError


def test_rate_rule_fires_time_scale_times_faster(cloud, aws):
    # Given a rule firing every cloud minute, delivering to a queue
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=f"ticks-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"tick-{uuid.uuid4().hex[:8]}"
    aws("events").put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    aws("events").put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])

    # When two ticks have arrived (time_scale 60: about a second apart)
    started = time.monotonic()
    ticks: list[dict] = []
    while len(ticks) < 2 and time.monotonic() - started < 10:
        ticks += [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url).get("Messages", [])]
        time.sleep(0.1)

    # Then they are Scheduled Events one cloud minute apart, well within real seconds
    assert len(ticks) >= 2 and time.monotonic() - started < 5
    assert {(t["source"], t["detail-type"]) for t in ticks} == {("aws.events", "Scheduled Event")}
    first, second = (datetime.fromisoformat(t["time"].replace("Z", "+00:00")) for t in ticks[:2])
    assert (second - first).total_seconds() == 60


@pytest.mark.parametrize(
    "expression",
    ["cron(0 12 * * * *)", "cron(0 12 * * ?)", "cron(61 * * * ? *)", "rate(1 hours)", "rate(5 minute)", "rate(0 days)"],
)
def test_put_rule_rejects_a_schedule_aws_rejects(cloud, aws, expression):
    with pytest.raises(ClientError) as error:
        aws("events").put_rule(Name=f"bad-{uuid.uuid4().hex[:8]}", ScheduleExpression=expression)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == "Parameter ScheduleExpression is not valid."


@pytest.mark.parametrize(
    "expression", ["cron(0 12 L * ? *)", "cron(0 9 ? * 3#2 *)", "cron(0 9 15W * ? *)", "cron(0/15 8-17 ? * MON-FRI *)"]
)
def test_put_rule_accepts_aws_cron_extensions(cloud, aws, expression):
    name = f"ok-{uuid.uuid4().hex[:8]}"

    aws("events").put_rule(Name=name, ScheduleExpression=expression)

    assert aws("events").describe_rule(Name=name)["ScheduleExpression"] == expression
