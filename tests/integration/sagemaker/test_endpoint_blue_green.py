"""UpdateEndpoint with a DeploymentConfig runs SageMaker's blue/green deployment: the new config's fleet
takes a canary share of requests, bakes while the auto-rollback alarms are watched, and is either promoted
or rolled back. The cloud runs at time_scale 60: an alarm Period of 60 s is judged on 1 s windows and a
WaitIntervalInSeconds of 180 bakes 3 real seconds."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from driftline_local import alarms
from driftline_local.context import LocalCloudContext
from driftline_local.sagemaker import flush_metrics, set_fault

from .sagemaker_testkit import wait_for
from .test_endpoint_faults_and_metrics import _endpoint, _metric
from .test_sagemaker_endpoints import _config, _invoke, _model

TIME_SCALE = 60.0


@pytest.fixture(scope="module", autouse=True)
def cloud_clock(cloud: LocalCloudContext) -> Iterator[LocalCloudContext]:
    """The session's cloud, 60 times faster and with the alarm evaluator running, for this module only."""
    previous = cloud.time_scale
    cloud.time_scale = TIME_SCALE
    alarms.install(cloud)
    yield cloud
    alarms.uninstall()
    cloud.time_scale = previous


@dataclass
class Request:
    started: float
    variant: str | None
    outcome: str  # "ok" or the error code
    original_status: int | None = None


class Traffic:
    """Invokes an endpoint back to back on a thread and records which variant answered each request, and how."""

    def __init__(self, aws: Any, endpoint: str) -> None:
        self.aws, self.endpoint = aws, endpoint
        self.requests: list[Request] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        runtime = self.aws("sagemaker-runtime")
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = runtime.invoke_endpoint(EndpointName=self.endpoint, Body="1", ContentType="text/csv")
                response["Body"].read()
                self.requests.append(Request(started, response["InvokedProductionVariant"], "ok"))
            except ClientError as error:
                headers = error.response["ResponseMetadata"].get("HTTPHeaders", {})
                self.requests.append(
                    Request(
                        started,
                        headers.get("x-amzn-invoked-production-variant"),
                        error.response["Error"]["Code"],
                        error.response.get("OriginalStatusCode"),
                    )
                )
            time.sleep(0.005)

    def failures(self) -> list[Request]:
        return [r for r in self.requests if r.outcome != "ok"]


def _guardrails(alarm: str, wait_seconds: int, canary_percent: int = 25, termination_seconds: int = 60) -> dict:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": canary_percent},
                "WaitIntervalInSeconds": wait_seconds,
            },
            "TerminationWaitInSeconds": termination_seconds,
            "MaximumExecutionTimeoutInSeconds": 1800,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
    }


def _error_alarm(aws: Any, endpoint: str, variant: str) -> str:
    """An alarm on any 5XX error of `variant` in a minute, as the guardrails notebooks put them."""
    name = f"{endpoint}-{variant}-5xx"
    aws("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    return name


def _alarm_state(aws: Any, name: str) -> str:
    return aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def _green_status(aws: Any, endpoint: str) -> tuple[str, str] | None:
    """(Status, StatusMessage) of the first pending variant while an update is under way."""
    pending = aws("sagemaker").describe_endpoint(EndpointName=endpoint).get("PendingDeploymentSummary")
    if not pending:
        return None
    status = pending["ProductionVariants"][0]["VariantStatus"][0]
    return status["Status"], status.get("StatusMessage", "")


def _settled(aws: Any, endpoint: str, timeout: float = 30.0) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (d := aws("sagemaker").describe_endpoint(EndpointName=endpoint))["EndpointStatus"]
            not in ("Updating", "RollingBack")
            and d
        ),
        timeout=timeout,
        interval=0.1,
    )


def _statuses(read_events: Any, count: int) -> list[str]:
    events = wait_for(lambda: len(found := read_events()) >= count and found, timeout=10)
    return [event["detail"]["EndpointStatus"] for event in events]


def _endpoint_events(event_queue: Any, endpoint: str) -> Any:
    return event_queue(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Endpoint State Change"],
            "detail": {"EndpointName": [endpoint]},
        }
    )


def test_canary_update_promotes_the_new_config_when_its_alarms_stay_quiet(aws, bucket, code, event_queue):
    # Given Production serving, and an auto-rollback alarm on the candidate's 5XX errors
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 1.0)})
    new_config = _config(aws, {"Candidate": (_model(aws, bucket, code, 100), 1.0)})
    alarm = _error_alarm(aws, endpoint, "Candidate")
    events = _endpoint_events(event_queue, endpoint)
    deployment = _guardrails(alarm, wait_seconds=180)

    # When the endpoint is updated with a 25 % canary, requests flowing all along
    with Traffic(aws, endpoint) as traffic:
        aws("sagemaker").update_endpoint(
            EndpointName=endpoint, EndpointConfigName=new_config, DeploymentConfig=deployment
        )
        described = aws("sagemaker").describe_endpoint(EndpointName=endpoint)
        assert described["EndpointStatus"] == "Updating"
        assert described["PendingDeploymentSummary"]["EndpointConfigName"] == new_config

        # Then while the canary bakes, about a quarter of the requests go to the candidate
        wait_for(lambda: (s := _green_status(aws, endpoint)) and s[0] == "Baking" and "step 1 of 2" in s[1], timeout=15)
        canary = Counter(_invoke(aws, endpoint, "1")[0]["InvokedProductionVariant"] for _ in range(80))
        assert "step 1 of 2" in _green_status(aws, endpoint)[1]
        assert set(canary) == {"Production", "Candidate"}
        assert 6 <= canary["Candidate"] <= 36  # 25 % of 80 is 20 (seeded routing; ~4 sigma either way)

        # And once the final bake and the termination wait are over, the candidate's config serves alone
        described = _settled(aws, endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == new_config
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Candidate"]
    assert "PendingDeploymentSummary" not in described and "FailureReason" not in described
    assert described["LastDeploymentConfig"] == deployment
    assert {_invoke(aws, endpoint, "1")[0]["InvokedProductionVariant"] for _ in range(10)} == {"Candidate"}
    # the update itself failed no request, and the quiet alarm never fired
    assert traffic.failures() == [] and len(traffic.requests) > 50
    assert _alarm_state(aws, alarm) != "ALARM"
    assert _statuses(events, 2) == ["UPDATING", "IN_SERVICE"]


def test_failing_canary_trips_its_alarm_and_the_update_rolls_back(aws, bucket, code, event_queue):
    # Given Production serving, and an auto-rollback alarm on the candidate's 5XX errors
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 1.0)})
    old_config = aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    new_config = _config(aws, {"Candidate": (_model(aws, bucket, code, 100), 1.0)})
    alarm = _error_alarm(aws, endpoint, "Candidate")
    events = _endpoint_events(event_queue, endpoint)

    # When a canary update starts whose new variant fails every request (a long bake: only the alarm ends it)
    with Traffic(aws, endpoint) as traffic:
        aws("sagemaker").update_endpoint(
            EndpointName=endpoint, EndpointConfigName=new_config, DeploymentConfig=_guardrails(alarm, wait_seconds=1200)
        )
        set_fault(endpoint, "Candidate", error_rate=1.0)
        described = _settled(aws, endpoint, timeout=15)
        rolled_back = time.monotonic()
        time.sleep(1.0)

    # Then the alarm fired during the canary bake and the endpoint is back on the old config, saying why
    assert _alarm_state(aws, alarm) == "ALARM"
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == old_config
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["Production"]
    assert "PendingDeploymentSummary" not in described
    assert alarm in described["FailureReason"] and old_config in described["FailureReason"]
    assert _statuses(events, 3) == ["UPDATING", "ROLLING_BACK", "IN_SERVICE"]
    # And the candidate's failures (and only those) reached clients, none after the rollback
    failures = traffic.failures()
    assert failures and {(r.variant, r.outcome, r.original_status) for r in failures} == {
        ("Candidate", "ModelError", 500)
    }
    after = [r for r in traffic.requests if r.started > rolled_back]
    assert after and {r.variant for r in after} == {"Production"}
    assert {r.outcome for r in after} == {"ok"}
    assert {_invoke(aws, endpoint, "1")[0]["InvokedProductionVariant"] for _ in range(10)} == {"Production"}
    # And the candidate's errors are in its own metrics, which is what the alarm watched
    flush_metrics()
    assert _metric(aws, endpoint, "Candidate", "Invocation5XXErrors", "Sum") == len(failures)


def test_linear_update_shifts_traffic_in_equal_steps_then_promotes(aws, bucket, code):
    # Given Production serving
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 1.0)})
    new_config = _config(aws, {"Candidate": (_model(aws, bucket, code, 100), 1.0)})
    alarm = _error_alarm(aws, endpoint, "Candidate")
    deployment = _guardrails(alarm, wait_seconds=180, termination_seconds=0)
    deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] = {
        "Type": "LINEAR",
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        "WaitIntervalInSeconds": 180,
    }

    # When it is updated in linear steps of half the new fleet
    aws("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config, DeploymentConfig=deployment)

    # Then the first step bakes with half the requests on the candidate
    wait_for(
        lambda: (s := _green_status(aws, endpoint)) and s[0] == "Baking" and "step 1 of 2: 50%" in s[1], timeout=15
    )
    first = Counter(_invoke(aws, endpoint, "1")[0]["InvokedProductionVariant"] for _ in range(60))
    assert 15 <= first["Candidate"] <= 45 and first["Candidate"] + first["Production"] == 60
    # And the second step puts all of them there, before the old fleet goes
    wait_for(
        lambda: (s := _green_status(aws, endpoint)) and s[0] == "Baking" and "step 2 of 2: 100%" in s[1], timeout=10
    )
    assert {_invoke(aws, endpoint, "1")[0]["InvokedProductionVariant"] for _ in range(10)} == {"Candidate"}
    described = _settled(aws, endpoint)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", new_config)


def test_canary_larger_than_half_the_new_fleet_is_refused(aws, bucket, code):
    endpoint = _endpoint(aws, bucket, code, {"Production": (1, 1.0)})
    old_config = aws("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    new_config = _config(aws, {"Candidate": (_model(aws, bucket, code, 100), 1.0)})

    with pytest.raises(ClientError, match="CanarySize") as refused:
        aws("sagemaker").update_endpoint(
            EndpointName=endpoint,
            EndpointConfigName=new_config,
            DeploymentConfig=_guardrails(f"alarm-{uuid.uuid4().hex[:6]}", wait_seconds=60, canary_percent=60),
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    described = aws("sagemaker").describe_endpoint(EndpointName=endpoint)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", old_config)
