from localtest import table


def lambda_handler(event, context):
    table().put_item(Item={"pk": f"tick#{event['id']}", "time": event["time"], "source": event["source"]})
    return {}
