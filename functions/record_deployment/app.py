"""CanaryRollout step: record the model now serving traffic and approve its package."""

from driftline import aws
from driftline.deployment import DeployRequest, record_deployment
from driftline.observability import logger

aws.prepare("dynamodb", "sagemaker", "cloudwatch", "events")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return record_deployment(DeployRequest.model_validate(event), event["endpoint_name"], event["endpoint_config"])
