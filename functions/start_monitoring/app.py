"""Scheduled (rule `driftline-<model>-monitor`): start the drift monitor over the last window of captured traffic."""

from driftline import aws
from driftline.monitoring import MonitorTick, start_monitoring
from driftline.observability import logger

aws.prepare("dynamodb", "s3", "sagemaker")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return start_monitoring(MonitorTick.model_validate(event))
