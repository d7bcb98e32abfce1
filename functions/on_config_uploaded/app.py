"""S3 `Object Created` under models/<model>/model.yaml (EventBridge): validate and activate the config."""

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from driftline.model_configs import handle_config_upload
from driftline.observability import logger


@logger.inject_lambda_context
@event_parser(model=S3EventNotificationEventBridgeModel)
def lambda_handler(event: S3EventNotificationEventBridgeModel, context: object) -> dict:
    detail = event.detail
    return handle_config_upload(detail.bucket.name, detail.object.key, detail.object.version_id).model_dump()
