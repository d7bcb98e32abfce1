"""TrainingPipeline step: wait out the quiet window, then plan preprocessing and training."""

from driftline import aws
from driftline.observability import logger
from driftline.pipeline import RunRef, prepare_run

aws.prepare("dynamodb", "s3")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return prepare_run(RunRef.model_validate(event))
