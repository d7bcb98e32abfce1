"""CanaryRollout step: plan the SageMaker model, endpoint config and endpoint for a candidate."""

from driftline.deployment import DeployRequest, plan_deployment
from driftline.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return plan_deployment(DeployRequest.model_validate(event))
