"""CanaryRollout step: record the model now serving traffic and approve its package, then rewrite the run's report."""

from driftline import aws, monitoring, run_report  # noqa: F401 - monitoring: every promotion schedules it
from driftline.deployment import DeployRequest, record_deployment
from driftline.observability import logger

aws.prepare("dynamodb", "sagemaker", "cloudwatch", "events", "s3")  # init phase: clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    result = record_deployment(DeployRequest.model_validate(event), event["endpoint_name"], event["endpoint_config"])
    # The rollout is over: the report gets its rollout part (never a reason to fail the promotion).
    run_report.write_quietly(event["model"], event["run_id"], rollout_execution=event.get("execution_arn"))
    return result
