"""The optimized SageMaker integrations for moto's Step Functions interpreter.

moto lists `sagemaker` among its unsupported services (requests are forwarded, `.sync` is refused).
This module plugs in a service class that supports what AWS supports:

- request-response: createModel, createEndpointConfig, createEndpoint, updateEndpoint,
  createTrainingJob, createProcessingJob, createTransformJob (the API response is the task result);
- `.sync`: createTrainingJob, createProcessingJob, createTransformJob: the task waits until the job
  ends; Completed returns the Describe* output (timestamps as epoch milliseconds); Failed or Stopped
  fails the task with `States.TaskFailed` and the Describe* output as JSON in Cause (its
  FailureReason included);
- an error from the API call itself fails the task as `SageMaker.AmazonSageMakerException` (errors
  SageMaker does not model, e.g. ValidationException) or `SageMaker.<Code>Exception` for the modelled
  ones (ResourceLimitExceeded, ResourceInUse, ResourceNotFound), with the Java-SDK style Cause
  `<message> (Service: AmazonSageMaker; Status Code: 400; Error Code: <code>; Request ID: <id>; Proxy: null)`.

How a `.sync` task learns that its job ended: as on AWS, from the job's state-change events. Step Functions
puts a managed EventBridge rule on the default bus for each kind of job it waits on
(`StepFunctionsGetEventsForSageMakerTrainingJobsRule`, `...ProcessingJobsRule`, `...TransformJobsRule`;
the state machine's role needs events:PutRule/PutTargets/DescribeRule on them, as the AWS guide says:
https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html) and completes the task when the
job's terminal event arrives; here the rule's target wakes the waiting task, which then describes the job
(moto's interpreter would poll every 0.5 s). A task also describes its job every `SYNC_FALLBACK_SECONDS`,
so a lost event delays it, never hangs it.

`aws-sdk:sagemaker:*` tasks keep moto's generic aws-sdk class; only the service part of their error
names is normalised to `SageMaker` (moto would say `sagemaker.sagemakerException`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, Final, cast

from driftline_local import eventbridge
from driftline_local.context import LocalCloudContext

from ._aws import jsonable

_SYNC_ACTIONS: Final[dict[str, tuple[str, str, str]]] = {
    # action -> (describe call, name parameter, status field)
    "createtrainingjob": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "createprocessingjob": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "createtransformjob": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
}
_REQUEST_RESPONSE_ACTIONS: Final[set[str]] = {
    "createmodel",
    "createendpointconfig",
    "createendpoint",
    "updateendpoint",
    *_SYNC_ACTIONS,
}
_MODELED_ERRORS: Final[set[str]] = {
    "ResourceLimitExceeded",
    "ResourceInUse",
    "ResourceNotFound",
    "ConflictException",
}
_TERMINAL_OK = "Completed"
_TERMINAL_BAD: Final[set[str]] = {"Failed", "Stopped"}
# action -> (managed rule, the events it matches, the name field in their detail)
_SYNC_RULES: Final[dict[str, tuple[str, str, str]]] = {
    "createtrainingjob": (
        "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
        "SageMaker Training Job State Change",
        "TrainingJobName",
    ),
    "createprocessingjob": (
        "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
        "SageMaker Processing Job State Change",
        "ProcessingJobName",
    ),
    "createtransformjob": (
        "StepFunctionsGetEventsForSageMakerTransformJobsRule",
        "SageMaker Transform Job State Change",
        "TransformJobName",
    ),
}
_SYNC_TARGET_ID = "StepFunctionsSyncTasks"
SYNC_FALLBACK_SECONDS = 2.0  # a task describes its job at least this often, event or not


class JobEndings:
    """The managed rules' target: wakes the `.sync` tasks waiting on a job when its state changes."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        self.ctx = ctx
        self._lock = threading.Lock()
        self._waiting: dict[str, threading.Event] = {}
        self._rules: set[str] = set()
        self.target_arn = f"arn:aws:states:{ctx.region}:{ctx.account_id}:managed-rule-target/sagemaker-sync"

    def ensure_rule(self, action: str) -> None:
        """Put the managed rule for `action`'s jobs on the default bus (once), as Step Functions does."""
        rule, detail_type, _ = _SYNC_RULES[action]
        with self._lock:
            if rule in self._rules:
                return
            from moto.events.models import events_backends

            backend = events_backends[self.ctx.account_id][self.ctx.region]
            backend.put_rule(
                rule,
                description="This rule is used to notify Step Functions regarding SageMaker jobs",
                event_pattern=json.dumps({"source": ["aws.sagemaker"], "detail-type": [detail_type]}),
                state="ENABLED",
                managed_by="states.amazonaws.com",
            )
            backend.put_targets(rule, "default", [{"Id": _SYNC_TARGET_ID, "Arn": self.target_arn}])
            self._rules.add(rule)

    def waiter(self, name: str) -> threading.Event:
        with self._lock:
            return self._waiting.setdefault(name, threading.Event())

    def done_waiting(self, name: str) -> None:
        with self._lock:
            self._waiting.pop(name, None)

    def deliver(self, event: dict[str, Any]) -> None:
        detail = event.get("detail") or {}
        for _, detail_type, name_field in _SYNC_RULES.values():
            if event.get("detail-type") == detail_type and detail.get(name_field):
                with self._lock:
                    waiter = self._waiting.get(detail[name_field])
                if waiter is not None:
                    waiter.set()


_endings: JobEndings | None = None


def sagemaker_error_name(code: str) -> str:
    if code in _MODELED_ERRORS:
        return f"SageMaker.{code}" if code.endswith("Exception") else f"SageMaker.{code}Exception"
    return "SageMaker.AmazonSageMakerException"


def _service_class() -> type:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.event import event_detail
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    EventDetails = cast(Any, event_detail.EventDetails)  # a total TypedDict in moto; AWS sets one key

    class StateTaskServiceSageMaker(StateTaskServiceCallback):
        """`arn:aws:states:::sagemaker:<action>[.sync]`."""

        def __init__(self) -> None:
            # WaitForTaskToken is listed only so moto's callback plumbing has an endpoint to tear
            # down after a .sync task; a `.waitForTaskToken` resource is refused below, as on AWS.
            super().__init__(
                supported_integration_patterns=cast(Any, {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})
            )

        def _validate_service_integration_is_supported(self) -> None:
            action = self.resource.api_action.lower()
            condition = self.resource.condition
            if condition is None and action in _REQUEST_RESPONSE_ACTIONS:
                return
            if condition == ResourceCondition.Sync and action in _SYNC_ACTIONS:
                return
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized. "
                "The value is not a valid resource ARN, or the resource is not available in this region."
            )

        def _client(self, resource_runtime_part: Any, state_credentials: Any) -> Any:
            return boto_client_for(
                service="sagemaker", region=resource_runtime_part.region, state_credentials=state_credentials
            )

        def _eval_service_task(
            self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
        ) -> None:
            api = self._client(resource_runtime_part, state_credentials)
            response = getattr(api, self._get_boto_service_action())(**normalised_parameters)
            response.pop("ResponseMetadata", None)
            env.stack.append(jsonable(response))

        def _from_error(self, env: Any, ex: Exception) -> Any:
            if isinstance(ex, ClientError):
                code = ex.response["Error"]["Code"]
                error_name = sagemaker_error_name(code)
                meta = ex.response.get("ResponseMetadata", {})
                cause = (
                    f"{ex.response['Error'].get('Message', '')} (Service: AmazonSageMaker; Status Code: "
                    f"{meta.get('HTTPStatusCode', 400)}; Error Code: {code}; Request ID: {meta.get('RequestId', '')}; "
                    "Proxy: null)"
                )
                return FailureEvent(
                    env=env,
                    error_name=CustomErrorName(error_name),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error=error_name,
                            cause=cause,
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                        )
                    ),
                )
            return super()._from_error(env=env, ex=ex)

        def _build_sync_resolver(
            self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
        ) -> Callable[[], Any]:
            env.stack.pop()  # the Create* response; the result of a .sync task is the Describe* output
            action = self.resource.api_action.lower()
            describe_call, name_param, status_field = _SYNC_ACTIONS[action]
            name = normalised_parameters[name_param]
            api = self._client(resource_runtime_part, state_credentials)
            endings = _endings if eventbridge.delivering() else None  # no bus delivery: moto's 0.5 s polls
            if endings is not None:
                endings.ensure_rule(action)

            def describe_when_it_ends() -> dict[str, Any]:
                """The job's Describe* output once terminal (or once the execution stops running)."""
                woken = endings.waiter(name) if endings is not None else None
                try:
                    while True:
                        if woken is not None:
                            woken.clear()  # an event after this describe wakes the next wait
                        describe = getattr(api, describe_call)(**{name_param: name})
                        describe.pop("ResponseMetadata", None)
                        status = describe.get(status_field)
                        if status == _TERMINAL_OK or status in _TERMINAL_BAD or woken is None or not env.is_running():
                            return describe
                        woken.wait(SYNC_FALLBACK_SECONDS)
                finally:
                    if endings is not None:
                        endings.done_waiting(name)

            def resolve() -> Any:
                describe = describe_when_it_ends()
                status = describe.get(status_field)
                if status == _TERMINAL_OK:
                    return jsonable(describe)
                if status in _TERMINAL_BAD:
                    raise FailureEventException(
                        FailureEvent(
                            env=env,
                            error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                            event_type=HistoryEventType.TaskFailed,
                            event_details=EventDetails(
                                taskFailedEventDetails=TaskFailedEventDetails(
                                    resource=self._get_sfn_resource(),
                                    resourceType=self._get_sfn_resource_type(),
                                    error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                    cause=to_json_str(jsonable(describe)),
                                )
                            ),
                        )
                    )
                return None

            return resolve

    return StateTaskServiceSageMaker


def install(ctx: LocalCloudContext) -> None:
    """Route `sagemaker` service tasks to the class above (the factory is imported by name in two places)
    and receive the managed rules' events."""
    global _endings
    _endings = JobEndings(ctx)
    eventbridge.register_managed_target(_endings.target_arn, _endings.deliver)
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_factory,
    )

    service_class = _service_class()
    original = getattr(
        state_task_service_factory.state_task_service_for,
        "__wrapped__",
        state_task_service_factory.state_task_service_for,
    )

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return service_class()
        return original(service_name)

    state_task_service_for.__wrapped__ = original  # type: ignore[attr-defined]
    state_task_service_factory.state_task_service_for = state_task_service_for
    state_task_factory.state_task_service_for = state_task_service_for
    state_task_service_aws_sdk._SERVICE_ERROR_NAMES.setdefault("sagemaker", "SageMaker")
