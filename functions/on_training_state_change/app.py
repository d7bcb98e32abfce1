"""`SageMaker Training Job State Change` (EventBridge): complete or fail the pipeline's training wait."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from driftline.observability import logger, metrics
from driftline.training import TrainingJobStateChange, handle_training_state_change


@logger.inject_lambda_context
@metrics.log_metrics
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: object) -> dict:
    return handle_training_state_change(TrainingJobStateChange.model_validate(event.detail))
