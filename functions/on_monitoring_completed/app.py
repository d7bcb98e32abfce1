"""`SageMaker Processing Job State Change` (EventBridge): publish a drift monitor's findings as metrics."""

from driftline import aws
from driftline.events import EventBridgeEvent
from driftline.monitoring import ProcessingJobStateChange, publish_monitoring
from driftline.observability import logger

aws.prepare("dynamodb", "s3", "cloudwatch")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    detail = EventBridgeEvent.model_validate(event).detail
    return publish_monitoring(ProcessingJobStateChange.model_validate(detail))
