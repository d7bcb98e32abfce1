"""CanaryRollout step: plan the SageMaker model, endpoint config and endpoint for a candidate.

A paused model's rollout is refused here (ModelPaused): nothing is created; the rollback step holds the candidate.
"""

from driftline import aws
from driftline.deployment import DeployRequest, plan_deployment, refuse_rollout_if_paused
from driftline.observability import logger

aws.prepare("dynamodb", "sagemaker", "cloudwatch")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    request = DeployRequest.model_validate(event)
    refuse_rollout_if_paused(request.model, request.run_id)
    return plan_deployment(request)
