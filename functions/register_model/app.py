"""TrainingPipeline step: register the candidate as a model package version with its metrics."""

from driftline import aws
from driftline.observability import logger
from driftline.pipeline import RunRef
from driftline.registry import register_model

aws.prepare("dynamodb", "sagemaker")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return register_model(
        RunRef.model_validate(event), event["model_data_url"], event["evaluation_uri"], event.get("metrics") or {}
    )
