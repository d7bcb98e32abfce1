"""SNS Publish refuses the message attributes AWS refuses; moto 5.2.5 checks only their types and empty values.

Amazon SNS Developer Guide, "Amazon SNS message attributes" (Message attribute items and validation):
- Name: "can contain the following characters: A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.).
  The name must not start or end with a period, and it should not have successive periods. ... The name can
  be up to 256 characters long. The name can't start with AWS. or Amazon. (or any variations in casing)
  because these prefixes are reserved for use by Amazon Web Services." (AWS.SNS.* names are SNS's own
  reserved attributes for SMS and mobile push, which SNS itself accepts.)
- Type: "can be up to 256 bytes long"; Name, type and value "must not be empty or null".
- "All parts of the message attribute, including name, type, and value, are included in the message size
  restriction, which is 256 KB."
moto already refuses an empty value and an unknown type prefix with AWS's messages. The reserved-prefix
message is the one AWS returns (aws/aws-sdk-js#3110); the other name messages are this module's wording.
The code is SNS's `InvalidParameterValue` (Publish's documented error for a parameter that breaks its
constraints; LocalStack's AWS-validated snapshot tests raise it for attributes, localstack/localstack#11857).
"""

from __future__ import annotations

import functools
import re
from typing import Any

MAX_NAME = 256
MAX_TYPE_BYTES = 256
MAX_MESSAGE_BYTES = 262_144  # 256 KiB: body plus every attribute's name, type and value
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def attribute_error(name: str, data_type: str | None) -> str | None:
    """Why SNS would refuse this attribute name or type (None: it would not)."""
    if not name:
        return "The request must contain non-empty message attribute name."
    if len(name) > MAX_NAME:
        return f"The message attribute name '{name[:40]}...' is longer than {MAX_NAME} characters."
    if not _NAME.match(name):
        return f"The message attribute name '{name}' can only contain A-Z, a-z, 0-9, underscore, hyphen and period."
    if name.startswith(".") or name.endswith(".") or ".." in name:
        return f"The message attribute name '{name}' must not start or end with a period or have successive periods."
    lowered = name.lower()
    if (lowered.startswith("aws.") and not lowered.startswith("aws.sns.")) or lowered.startswith("amazon."):
        return "Message attribute names starting with 'AWS.' or 'Amazon.' are reserved for use by Amazon."
    if data_type is not None and len(data_type.encode()) > MAX_TYPE_BYTES:
        return f"The message attribute '{name}' has a type longer than {MAX_TYPE_BYTES} bytes."
    return None


def message_bytes(message: str, attributes: dict[str, Any] | None) -> int:
    """The size SNS counts against its 256 KiB limit: the body plus each attribute's name, type and value."""
    size = len(message.encode())
    for name, attribute in (attributes or {}).items():
        size += len(name.encode()) + len(str(attribute.get("Type", "")).encode())
        size += len(str(attribute.get("Value", "")).encode())
    return size


def install() -> None:
    """Wrap moto's SNSBackend.publish (moto's response layer has already turned attributes into Type/Value)."""
    from moto.sns.exceptions import SNSException, SNSInvalidParameter
    from moto.sns.models import SNSBackend

    class InvalidParameterValue(SNSException):
        code = "InvalidParameterValue"

    original = SNSBackend.publish
    if getattr(original, "_driftline_attributes", False):
        return

    @functools.wraps(original)
    def publish(self: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> Any:
        attributes = kwargs.get("message_attributes", args[2] if len(args) > 2 else None) or {}
        for name, attribute in attributes.items():
            error = attribute_error(name, attribute.get("Type"))
            if error:
                raise InvalidParameterValue(error)
        if message_bytes(message, attributes) > MAX_MESSAGE_BYTES:
            raise SNSInvalidParameter("Invalid parameter: Message too long")
        return original(self, message, arn, *args, **kwargs)

    publish._driftline_attributes = True  # type: ignore[attr-defined]
    publish._driftline_original = original  # type: ignore[attr-defined]
    SNSBackend.publish = publish  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.sns.models import SNSBackend

    current = SNSBackend.publish
    if getattr(current, "_driftline_attributes", False):
        SNSBackend.publish = current._driftline_original  # type: ignore[attr-defined,method-assign]
