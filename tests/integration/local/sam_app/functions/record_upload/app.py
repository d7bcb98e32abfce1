import json
import os

import boto3
from localtest import table


def lambda_handler(event, context):
    detail = event["detail"]
    key = detail["object"]["key"]
    if key.endswith(".boom"):
        raise RuntimeError(f"cannot record {key}")
    table().put_item(
        Item={
            "pk": f"upload#{key}",
            "event_id": event["id"],
            "sequencer": detail["object"]["sequencer"],
            "etag": detail["object"]["etag"],
            "function": context.function_name,
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "greeting": os.environ["GREETING"],
        }
    )
    boto3.client("stepfunctions").start_execution(
        stateMachineArn=os.environ["PIPELINE_ARN"],
        input=json.dumps({"bucket": detail["bucket"]["name"], "key": key}),
    )
    print(f"recorded {key}")
    return {"recorded": key}
