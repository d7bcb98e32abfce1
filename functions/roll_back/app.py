"""CanaryRollout step: the next move back to the production model; when done, clean up and page on-call."""

from driftline import aws
from driftline.observability import logger, metrics
from driftline.rollback import RollbackRequest, roll_back

aws.prepare("dynamodb", "sagemaker", "sns")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return roll_back(RollbackRequest.model_validate(event))
