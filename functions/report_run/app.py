"""Last step of every TrainingPipeline path: record the outcome and tell on-call."""

from driftline import aws
from driftline.observability import logger, metrics
from driftline.reports import RunOutcome, report_run

aws.prepare("dynamodb", "sns")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return report_run(RunOutcome.model_validate(event))
