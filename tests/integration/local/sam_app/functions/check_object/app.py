import boto3
from localtest import InvalidDataset


def lambda_handler(event, context):
    body = boto3.client("s3").get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
    if not body.startswith(b"a,b"):
        raise InvalidDataset(f"s3://{event['bucket']}/{event['key']} has no header row 'a,b'")
    return {"rows": body.count(b"\n")}
