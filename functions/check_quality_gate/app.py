"""TrainingPipeline step: judge the candidate against the baseline and production."""

from driftline import aws
from driftline.observability import logger
from driftline.pipeline import RunRef, check_quality_gate

aws.prepare("dynamodb", "s3")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return check_quality_gate(RunRef.model_validate(event), event["evaluation_uri"])
