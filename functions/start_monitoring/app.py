"""Scheduled (rule `driftline-<model>-monitor`): start the drift monitor over the last window of captured traffic."""

from driftline.monitoring import MonitorTick, start_monitoring
from driftline.observability import logger


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return start_monitoring(MonitorTick.model_validate(event))
