"""Last step of every TrainingPipeline path: record the outcome, tell on-call, write the run's report.html."""

# loaded at init: sizing (the report judges instances) and config (every report reads the model's)
from driftline import aws, config, run_report, sizing  # noqa: F401
from driftline.observability import logger, metrics
from driftline.reports import RunOutcome, report_run

aws.prepare("dynamodb", "sns", "s3", "sagemaker", "cloudwatch")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    outcome = RunOutcome.model_validate(event)
    result = report_run(outcome)
    # After the page: the run's state is final. The report's URI is fixed, so the page can already name it.
    facts = result.pop("instance_sizing", None) or None  # the page's instance facts, in the report's facts too
    return result | {"report_uri": run_report.write_quietly(outcome.model, outcome.run_id, facts=facts)}
