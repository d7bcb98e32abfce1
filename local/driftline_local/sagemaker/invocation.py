"""What InvokeEndpoint answers when it does not return the model's answer.

A model container's non-2xx answer reaches the caller as ModelError (HTTP 424) with OriginalStatusCode (the
container's status) and OriginalMessage (its response body), the way sagemaker-runtime reports it; a
request SageMaker itself refuses is a plain client error (e.g. ValidationError, HTTP 400).
"""

from __future__ import annotations

import json


def model_error(
    status: int, original: str, region: str, account: str, endpoint: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    """ModelError for a container that answered `status` with the body `original`."""
    kind = "client" if 400 <= status < 500 else "server"
    message = (
        f'Received {kind} error ({status}) from primary with message "{original}". See '
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:"
        f"group=/aws/sagemaker/Endpoints/{endpoint} in account {account} for more information."
    )
    error = {
        "ErrorCode": f"{kind.upper()}_ERROR_FROM_MODEL",
        "Message": message,
        "OriginalStatusCode": status,
        "OriginalMessage": original,
        "LogStreamArn": f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint}",
    }
    return 424, {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError", **headers}, json.dumps(error)


def client_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    return (
        status,
        {"Content-Type": "application/json", "x-amzn-ErrorType": code},
        json.dumps({"message": message}),
    )
