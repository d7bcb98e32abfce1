"""`SageMaker Transform Job State Change` (EventBridge): record a batch job's predictions, or page its failure."""

import aws_lambda_powertools.utilities.idempotency  # noqa: F401 - every event is deduplicated: loaded at init
from driftline import aws
from driftline.batch import TransformJobStateChange, handle_transform_state_change
from driftline.events import EventBridgeEvent
from driftline.observability import logger, metrics

aws.prepare("dynamodb")  # init phase: the clients exist before the first event
aws.client("dynamodb")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    detail = EventBridgeEvent.model_validate(event).detail
    return handle_transform_state_change(TransformJobStateChange.model_validate(detail))
