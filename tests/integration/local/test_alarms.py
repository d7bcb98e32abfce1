"""CloudWatch alarms change state from metric data as on AWS, emit their state-change events and notify
their SNS actions. The cloud runs at time_scale 60: an alarm Period of 60 s is judged on 1 s windows."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from driftline_local import alarms

from .waiting import eventually


@pytest.fixture
def namespace() -> str:
    return f"Test/{uuid.uuid4().hex[:8]}"


@pytest.fixture
def queue(aws):
    """A fresh SQS queue: (url, arn, read) where read() returns the JSON bodies received so far."""

    def make() -> tuple[str, str, Callable[[], list[dict[str, Any]]]]:
        sqs = aws("sqs")
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        seen: list[dict[str, Any]] = []

        def read() -> list[dict[str, Any]]:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            seen.extend(json.loads(m["Body"]) for m in messages)
            return list(seen)

        return url, arn, read

    return make


@pytest.fixture
def alarm_events(aws, queue):
    """State-change events of one alarm, caught by an EventBridge rule with an SQS target."""

    def subscribe(alarm_name: str) -> Callable[[], list[dict[str, Any]]]:
        _, arn, read = queue()
        rule = f"alarm-{uuid.uuid4().hex[:8]}"
        pattern = {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [alarm_name]},
        }
        aws("events").put_rule(Name=rule, EventPattern=json.dumps(pattern))
        aws("events").put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
        return read

    return subscribe


def _put_alarm(aws: Any, namespace: str, **overrides: Any) -> str:
    name = overrides.pop("AlarmName", f"alarm-{uuid.uuid4().hex[:8]}")
    statistic = {} if "ExtendedStatistic" in overrides else {"Statistic": "Maximum"}
    request = {
        "AlarmName": name,
        "Namespace": namespace,
        "MetricName": "Errors",
        "Dimensions": [{"Name": "Service", "Value": "api"}],
        **statistic,
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 10.0,
        "ComparisonOperator": "GreaterThanThreshold",
        **overrides,
    }
    aws("cloudwatch").put_metric_alarm(**request)
    return name


def _put(aws: Any, namespace: str, value: float | None = None, values: list[float] | None = None, **extra: Any) -> None:
    datum: dict[str, Any] = {"MetricName": "Errors", "Dimensions": [{"Name": "Service", "Value": "api"}], **extra}
    if values is not None:
        datum["Values"] = values
    else:
        datum["Value"] = value
    aws("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[datum])


def _alarm(aws: Any, name: str) -> dict[str, Any]:
    return aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def _feed_until(aws: Any, namespace: str, name: str, state: str, timeout: float = 10.0, **datum: Any) -> dict:
    """Keep putting `datum` (as a service keeps reporting) until the alarm is in `state`."""

    def check() -> dict[str, Any] | None:
        _put(aws, namespace, **datum)
        alarm = _alarm(aws, name)
        return alarm if alarm["StateValue"] == state else None

    return eventually(check, timeout=timeout, interval=0.2)


def test_a_new_alarm_starts_in_insufficient_data(cloud, aws, namespace):
    name = _put_alarm(aws, namespace)

    alarm = _alarm(aws, name)

    assert (alarm["StateValue"], alarm["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")


def test_breaching_data_raises_the_alarm_and_recovery_clears_it(cloud, aws, namespace, alarm_events):
    # Given an alarm on the maximum over 2 of 2 periods, no data counting as fine
    name = f"alarm-{uuid.uuid4().hex[:8]}"
    events = alarm_events(name)
    _put_alarm(
        aws, namespace, AlarmName=name, EvaluationPeriods=2, DatapointsToAlarm=2, TreatMissingData="notBreaching"
    )

    # When the metric keeps breaching, the alarm goes to ALARM
    alarm = _feed_until(aws, namespace, name, "ALARM", value=50.0)
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints [50.0 (")
    assert alarm["StateReason"].endswith(
        "were greater than the threshold (10.0) (minimum 2 datapoints for OK -> ALARM transition)."
    )
    reason_data = json.loads(alarm["StateReasonData"])
    assert (reason_data["statistic"], reason_data["period"], reason_data["threshold"]) == ("Maximum", 60, 10.0)
    assert reason_data["recentDatapoints"] == [50.0, 50.0]

    # When it recovers, the alarm goes back to OK (one good period of two is enough: 2 of 2 no longer breach)
    alarm = _feed_until(aws, namespace, name, "OK", value=1.0)
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 2 datapoints [1.0 (")
    assert alarm["StateReason"].endswith(
        "was not greater than the threshold (10.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )

    # And each change was an event on the default bus
    received = eventually(lambda: len(events()) >= 3 and events())
    changes = [(e["detail"]["previousState"]["value"], e["detail"]["state"]["value"]) for e in received]
    assert changes == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]


def test_state_change_event_has_the_aws_shape(cloud, aws, namespace, alarm_events):
    name = f"alarm-{uuid.uuid4().hex[:8]}"
    events = alarm_events(name)
    _put_alarm(aws, namespace, AlarmName=name, AlarmDescription="too many errors", TreatMissingData="breaching")

    event = eventually(events)[0]

    arn = _alarm(aws, name)["AlarmArn"]
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        [arn],
    )
    assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
    detail = event["detail"]
    assert detail["alarmName"] == name
    assert detail["state"]["value"] == "ALARM"
    assert detail["state"]["timestamp"].endswith("+0000")
    assert json.loads(detail["state"]["reasonData"])["version"] == "1.0"
    assert detail["previousState"] == {
        "value": "INSUFFICIENT_DATA",
        "reason": "Unchecked: Initial alarm creation",
        "timestamp": detail["previousState"]["timestamp"],
    }
    assert detail["configuration"]["description"] == "too many errors"
    [metric] = detail["configuration"]["metrics"]
    assert metric["returnData"] is True
    assert metric["metricStat"] == {
        "metric": {"dimensions": {"Service": "api"}, "name": "Errors", "namespace": namespace},
        "period": 60,
        "stat": "Maximum",
    }


def test_missing_data_makes_the_alarm_insufficient_data(cloud, aws, namespace):
    name = _put_alarm(aws, namespace)
    _feed_until(aws, namespace, name, "ALARM", value=50.0)

    # When the metric stops arriving (TreatMissingData defaults to missing)
    alarm = eventually(lambda: (a := _alarm(aws, name))["StateValue"] == "INSUFFICIENT_DATA" and a)

    assert alarm["StateReason"] == "Insufficient Data: 1 datapoint was unknown."


@pytest.mark.parametrize(
    ("treat", "state", "kind"), [("breaching", "ALARM", "Breaching"), ("notBreaching", "OK", "NonBreaching")]
)
def test_missing_data_counts_as_treat_missing_data_says(cloud, aws, namespace, treat, state, kind):
    name = _put_alarm(aws, namespace, TreatMissingData=treat)

    alarm = eventually(lambda: (a := _alarm(aws, name))["StateValue"] == state and a)

    assert alarm["StateReason"] == (
        f"Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [{kind}]."
    )


def test_ignore_keeps_the_state_while_data_is_missing(cloud, aws, namespace):
    name = _put_alarm(aws, namespace, TreatMissingData="ignore")
    _feed_until(aws, namespace, name, "ALARM", value=50.0)

    time.sleep(2.5)  # two and a half judged periods without data
    alarms.evaluate_now()

    assert _alarm(aws, name)["StateValue"] == "ALARM"


def test_datapoints_to_alarm_needs_m_of_n_breaching_periods(cloud, aws, namespace):
    # Given 2 of 3 five-minute periods (5 s windows here), no data counting as fine
    name = _put_alarm(
        aws, namespace, Period=300, EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="notBreaching"
    )
    judged = alarms.evaluation_windows(300, cloud.ctx.time_scale, 3)  # should a boundary pass, both stay in

    def middle(window: tuple[float, float]) -> datetime:
        return datetime.fromtimestamp(sum(window) / 2, UTC)

    # When one period breaches, the alarm stays OK
    _put(aws, namespace, 50.0, Timestamp=middle(judged[1]))
    alarms.evaluate_now()
    assert _alarm(aws, name)["StateValue"] == "OK"

    # When a second period breaches, it goes to ALARM
    _put(aws, namespace, 50.0, Timestamp=middle(judged[2]))
    alarms.evaluate_now()
    alarm = _alarm(aws, name)
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 3 datapoints")


def test_percentile_alarm_judges_the_distribution(cloud, aws, namespace):
    tail = _put_alarm(aws, namespace, ExtendedStatistic="p99", Threshold=90.0)
    median = _put_alarm(aws, namespace, ExtendedStatistic="p50", Threshold=90.0)

    _feed_until(aws, namespace, tail, "ALARM", values=[float(v) for v in range(1, 101)])

    alarms.evaluate_now()
    assert _alarm(aws, median)["StateValue"] == "OK"
    assert json.loads(_alarm(aws, tail)["StateReasonData"])["extendedStatistic"] == "p99"


def test_updating_an_alarm_keeps_its_state(cloud, aws, namespace):
    name = _put_alarm(aws, namespace, TreatMissingData="breaching")
    eventually(lambda: _alarm(aws, name)["StateValue"] == "ALARM")

    _put_alarm(aws, namespace, AlarmName=name, TreatMissingData="breaching", AlarmDescription="now described")

    alarm = _alarm(aws, name)
    assert (alarm["StateValue"], alarm["AlarmDescription"]) == ("ALARM", "now described")


def test_alarm_action_notifies_the_sns_topic(cloud, aws, namespace, queue):
    # Given a topic with an SQS subscriber, the alarm's action
    topic = aws("sns").create_topic(Name=f"alarms-{uuid.uuid4().hex[:8]}")["TopicArn"]
    _, queue_arn, read = queue()
    aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    # When the alarm goes to ALARM
    name = _put_alarm(aws, namespace, TreatMissingData="breaching", AlarmActions=[topic], OKActions=[topic])

    # Then CloudWatch's notification reaches the subscriber
    envelope = eventually(read)[0]
    assert envelope["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    message = json.loads(envelope["Message"])
    assert (message["AlarmName"], message["OldStateValue"], message["NewStateValue"]) == (
        name,
        "INSUFFICIENT_DATA",
        "ALARM",
    )
    assert message["AlarmArn"] == _alarm(aws, name)["AlarmArn"]
    assert message["Region"] == "US East (N. Virginia)"
    assert message["Trigger"]["MetricName"] == "Errors"
    assert message["Trigger"]["Statistic"] == "MAXIMUM"
    assert message["Trigger"]["Dimensions"] == [{"value": "api", "name": "Service"}]


def test_disabled_actions_notify_no_one(cloud, aws, namespace, queue):
    topic = aws("sns").create_topic(Name=f"alarms-{uuid.uuid4().hex[:8]}")["TopicArn"]
    _, queue_arn, read = queue()
    aws("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    name = _put_alarm(aws, namespace, TreatMissingData="breaching", AlarmActions=[topic], ActionsEnabled=False)

    eventually(lambda: _alarm(aws, name)["StateValue"] == "ALARM")
    time.sleep(0.3)
    assert read() == []


def test_set_alarm_state_emits_the_event_until_the_next_evaluation(cloud, aws, namespace, alarm_events):
    name = _put_alarm(aws, namespace, TreatMissingData="notBreaching")
    eventually(lambda: _alarm(aws, name)["StateValue"] == "OK")
    events = alarm_events(name)

    aws("cloudwatch").set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing the page")

    event = eventually(lambda: [e for e in events() if e["detail"]["state"]["value"] == "ALARM"])[0]
    assert event["detail"]["state"]["reason"] == "testing the page"
    assert event["detail"]["previousState"]["value"] == "OK"
    # the next evaluation sets the state from the data again
    eventually(lambda: _alarm(aws, name)["StateValue"] == "OK")
