"""`SageMaker Training Job State Change` and `... HyperParameter Tuning Job State Change` (EventBridge):
complete or fail the pipeline's training wait (a training job, or the run's tuning job)."""

from driftline import aws
from driftline.events import EventBridgeEvent
from driftline.observability import logger, metrics
from driftline.training import TrainingJobStateChange, handle_training_state_change
from driftline.tuning import TUNING_EVENT, TuningJobStateChange, handle_tuning_state_change

aws.prepare("dynamodb", "sagemaker", "stepfunctions")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    envelope = EventBridgeEvent.model_validate(event)
    if envelope.detail_type == TUNING_EVENT:
        return handle_tuning_state_change(TuningJobStateChange.model_validate(envelope.detail))
    return handle_training_state_change(TrainingJobStateChange.model_validate(envelope.detail))
