"""S3 `Object Created` under models/ (EventBridge): activate models/<model>/model.yaml, page on the rest."""

from driftline import aws
from driftline.events import S3ObjectCreated
from driftline.model_configs import handle_config_upload
from driftline.observability import logger

aws.prepare("dynamodb", "s3")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    s3_object = S3ObjectCreated.model_validate(event).detail
    return handle_config_upload(
        s3_object.bucket.name, s3_object.object.key, s3_object.object.version_id, s3_object.object.size
    ).model_dump()
