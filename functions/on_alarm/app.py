"""`CloudWatch Alarm State Change` (EventBridge): retrain on drift, page on-call once per incident."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from driftline.incidents import AlarmStateChange, handle_alarm
from driftline.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: object) -> dict:
    return handle_alarm(AlarmStateChange.model_validate(event.detail))
