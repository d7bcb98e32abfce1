"""CanaryRollout step: bake the current traffic step while watching the candidate's alarms; say what comes next."""

from driftline import aws
from driftline.canary import CanaryWatch, watch_canary
from driftline.observability import logger

aws.prepare("sagemaker", "cloudwatch")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return watch_canary(CanaryWatch.model_validate(event))
