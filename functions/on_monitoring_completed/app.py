"""`SageMaker Processing Job State Change` (EventBridge): publish a drift monitor's findings as metrics."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from driftline.monitoring import ProcessingJobStateChange, publish_monitoring
from driftline.observability import logger


@logger.inject_lambda_context
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: object) -> dict:
    return publish_monitoring(ProcessingJobStateChange.model_validate(event.detail))
