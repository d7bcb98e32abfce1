"""TrainingPipeline step: plan the evaluation job (candidate and production on the same test set)."""

from driftline import aws
from driftline.observability import logger
from driftline.pipeline import RunRef, prepare_evaluation

aws.prepare("dynamodb")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return prepare_evaluation(RunRef.model_validate(event), event["model_data_url"])
