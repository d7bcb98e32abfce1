"""S3 `Object Created` under incoming/<model>/ (EventBridge): validate, then quarantine or start a run."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from driftline.observability import logger, metrics
from driftline.uploads import UploadedObject, handle_upload


@logger.inject_lambda_context
@metrics.log_metrics
@event_parser(model=S3EventNotificationEventBridgeModel)
def lambda_handler(event: S3EventNotificationEventBridgeModel, context: object) -> dict:
    detail = event.detail
    upload = UploadedObject(
        bucket=detail.bucket.name,
        key=detail.object.key,
        size=int(detail.object.size or 0),
        sequencer=detail.object.sequencer or "",
        version_id=detail.object.version_id,
        event_id=str(event.id),
        event_time=event.time,
    )
    return handle_upload(upload).model_dump()
