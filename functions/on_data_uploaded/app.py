"""S3 `Object Created` under incoming/<model>/ (EventBridge): validate, then quarantine or start a run.

While the model is paused (`driftline pause`) a valid file stays in incoming/ and no run starts.
"""

import aws_lambda_powertools.utilities.idempotency  # noqa: F401 - every event is deduplicated: loaded at init
from driftline import aws, datasets  # noqa: F401 - datasets: every upload's CSV check, loaded at init
from driftline.observability import logger, metrics
from driftline.uploads import UploadedObject, handle_upload

# init phase: the clients exist before the first event (the low-level DynamoDB client keeps idempotency records)
aws.prepare("dynamodb", "s3", "stepfunctions")
aws.client("dynamodb")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    upload = UploadedObject.from_event(event)
    return handle_upload(upload, remaining_ms=context.get_remaining_time_in_millis()).model_dump()  # type: ignore[attr-defined]
