"""TrainingPipeline step: wait out the quiet window, then plan preprocessing and training."""

from driftline.observability import logger
from driftline.pipeline import RunRef, prepare_run


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return prepare_run(RunRef.model_validate(event))
