"""S3 `Object Created` under models/<model>/model.yaml (EventBridge): validate and activate the config."""

from driftline import aws
from driftline.events import S3ObjectCreated
from driftline.model_configs import handle_config_upload
from driftline.observability import logger

aws.prepare("dynamodb", "s3")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    detail = S3ObjectCreated.model_validate(event).detail
    return handle_config_upload(detail.bucket.name, detail.object.key, detail.object.version_id).model_dump()
