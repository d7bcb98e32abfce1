"""CanaryRollout step: the next move back to the production model; when done, clean up and page on-call."""

from driftline import aws, run_report
from driftline.observability import logger, metrics
from driftline.rollback import RollbackRequest, roll_back

aws.prepare("dynamodb", "sagemaker", "sns", "s3")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    request = RollbackRequest.model_validate(event)
    result = roll_back(request)
    if result.get("done"):
        # The rollout is over: the report gets its rollout part (never a reason to fail the rollback).
        run_report.write_quietly(request.model, request.run_id, rollout_execution=request.execution_arn)
    return result
