"""S3 `Object Created` under batch/<model>/ (EventBridge): check the file; quarantine, keep or start a transform."""

import aws_lambda_powertools.utilities.idempotency  # noqa: F401 - every event is deduplicated: loaded at init
from driftline import aws
from driftline.batch import handle_batch_upload
from driftline.observability import logger, metrics
from driftline.uploads import UploadedObject

# init phase: the clients exist before the first event (the low-level DynamoDB client keeps idempotency records)
aws.prepare("dynamodb", "s3", "sagemaker")
aws.client("dynamodb")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    upload = UploadedObject.from_event(event)
    return handle_batch_upload(upload, remaining_ms=context.get_remaining_time_in_millis()).model_dump()  # type: ignore[attr-defined]
