"""CanaryRollout step: plan the SageMaker model, endpoint config and endpoint for a candidate."""

from driftline import aws
from driftline.deployment import DeployRequest, plan_deployment
from driftline.observability import logger

aws.prepare("dynamodb", "sagemaker", "cloudwatch")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return plan_deployment(DeployRequest.model_validate(event))
