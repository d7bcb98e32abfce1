"""On-call topic subscriber: each page as an AWS Chatbot notification and/or a PagerDuty Events v2 event."""

from driftline import aws
from driftline.observability import logger
from driftline.page_forwarding import forward

aws.prepare("sns")  # init phase: the clients exist before the first event


@logger.inject_lambda_context
def lambda_handler(event: dict, context: object) -> dict:
    return {"forwarded": [forward(record["Sns"]) for record in event["Records"]]}
