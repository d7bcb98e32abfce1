"""TrainingPipeline step (waitForTaskToken): start the training job and park the task token."""

from driftline import aws, config  # noqa: F401 - config: every start reads the model's (its models built at init)
from driftline.observability import logger
from driftline.training import start_training

aws.prepare("dynamodb", "sagemaker")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return start_training(event["task_token"], event["model"], event["run_id"], event["request"])
