"""`SageMaker Training Job State Change` (EventBridge): complete or fail the pipeline's training wait."""

from driftline import aws
from driftline.events import EventBridgeEvent
from driftline.observability import logger, metrics
from driftline.training import TrainingJobStateChange, handle_training_state_change

aws.prepare("dynamodb", "sagemaker", "stepfunctions")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    detail = EventBridgeEvent.model_validate(event).detail
    return handle_training_state_change(TrainingJobStateChange.model_validate(detail))
