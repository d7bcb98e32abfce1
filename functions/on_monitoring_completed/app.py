"""`SageMaker Processing Job State Change` (EventBridge): publish a drift monitor's findings as metrics."""

import aws_lambda_powertools.utilities.idempotency  # noqa: F401 - every event is deduplicated: loaded at init
from driftline import aws
from driftline.events import EventBridgeEvent
from driftline.monitoring import ProcessingJobStateChange, publish_monitoring
from driftline.observability import logger

# init phase: the clients exist before the first event (the low-level DynamoDB client keeps idempotency records)
aws.prepare("dynamodb", "s3", "cloudwatch")
aws.client("dynamodb")


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    detail = EventBridgeEvent.model_validate(event).detail
    change = ProcessingJobStateChange.model_validate(detail)
    return publish_monitoring(change, remaining_ms=context.get_remaining_time_in_millis())  # type: ignore[attr-defined]
