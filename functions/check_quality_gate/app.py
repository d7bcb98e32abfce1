"""TrainingPipeline step: judge the candidate against the baseline and production."""

from driftline.observability import logger
from driftline.pipeline import RunRef, check_quality_gate


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return check_quality_gate(RunRef.model_validate(event), event["evaluation_uri"])
