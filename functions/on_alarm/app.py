"""`CloudWatch Alarm State Change` (EventBridge): retrain on drift, page on-call once per incident."""

from driftline import aws
from driftline.events import EventBridgeEvent
from driftline.incidents import AlarmStateChange, handle_alarm
from driftline.observability import logger, metrics

aws.prepare("dynamodb", "stepfunctions", "sns")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    detail = EventBridgeEvent.model_validate(event).detail
    return handle_alarm(AlarmStateChange.model_validate(detail))
