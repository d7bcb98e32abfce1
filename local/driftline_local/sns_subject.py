"""SNS Publish refuses a Subject AWS refuses; moto 5.2.5 only refuses more than 100 characters.

The SNS API reference (Publish, `Subject`): "Subjects must be ASCII text that begins with a letter,
number, or punctuation mark; must not include line breaks or control characters; and must be less
than 100 characters long." AWS has been seen to accept exactly 100 and to refuse 101 with
`InvalidParameter` "Invalid parameter: Subject" (getmoto/moto#1503), so the length rule here is
AWS's observed one (more than 100 is refused); the other rules are the documented ones. Driftline's
own pages stay within the documented rule (`driftline.notifications`: at most 99).
"""

from __future__ import annotations

import functools
import string
from typing import Any

MAX_SUBJECT = 100
_PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")
_FIRST = set(string.ascii_letters + string.digits + string.punctuation)


def subject_error(subject: str | None) -> str | None:
    """Why AWS would refuse this Subject (None: it would not)."""
    if subject is None:
        return None
    if len(subject) > MAX_SUBJECT:
        return f"longer than {MAX_SUBJECT} characters"
    if any(char not in _PRINTABLE for char in subject):
        return "not printable ASCII on one line"
    if subject and subject[0] not in _FIRST:
        return "does not begin with a letter, number or punctuation mark"
    return None


def install() -> None:
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.sns.models import SNSBackend

    original = SNSBackend.publish
    if getattr(original, "_driftline_local", False):
        return

    @functools.wraps(original)
    def publish(self: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> Any:
        subject = kwargs.get("subject", args[1] if len(args) > 1 else None)
        if subject_error(subject):
            raise SNSInvalidParameter("Invalid parameter: Subject")
        return original(self, message, arn, *args, **kwargs)

    publish._driftline_local = True  # type: ignore[attr-defined]
    publish._driftline_original = original  # type: ignore[attr-defined]
    SNSBackend.publish = publish  # type: ignore[method-assign]


def uninstall() -> None:
    from moto.sns.models import SNSBackend

    SNSBackend.publish = getattr(SNSBackend.publish, "_driftline_original", SNSBackend.publish)  # type: ignore[method-assign]
