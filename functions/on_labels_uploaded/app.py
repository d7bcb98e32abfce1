"""S3 `Object Created` under labels/<model>/ (EventBridge): check delayed ground truth, keep it or quarantine it.

A labels file is `inference_id,<target>` rows for predictions made earlier (InvokeEndpoint `InferenceId`);
the model quality job joins them with the captured predictions (driftline.quality).
"""

import aws_lambda_powertools.utilities.idempotency  # noqa: F401 - every event is deduplicated: loaded at init
from driftline import aws
from driftline.labels import handle_labels
from driftline.observability import logger, metrics
from driftline.uploads import UploadedObject

# init phase: the clients exist before the first event (the low-level DynamoDB client keeps idempotency records)
aws.prepare("dynamodb", "s3")
aws.client("dynamodb")


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    upload = UploadedObject.from_event(event)
    return handle_labels(upload, remaining_ms=context.get_remaining_time_in_millis()).model_dump()  # type: ignore[attr-defined]
