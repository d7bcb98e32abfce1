"""CanaryRollout step: bake the current traffic step while watching the candidate's alarms (or judge the shadow
test before a shadow-canary's canary); say what comes next."""

from driftline import aws
from driftline.canary import watch
from driftline.observability import logger

aws.prepare("sagemaker", "cloudwatch", "s3", "dynamodb", "sns")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return watch(event)
