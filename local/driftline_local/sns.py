"""SNS delivery for the local cloud: email lands in a mailbox file, Lambda subscribers really run.

moto 5.2.5 delivers SNS messages to SQS and HTTP subscribers, drops email, and calls Lambda
subscribers synchronously inside the Publish request without running them. Here an `email` /
`email-json` subscription appends the message to ``ctx.mailbox_path`` (one JSON object per line:
topic, endpoint, subject, message, timestamp, message_id) — the pages on-call would get — and a
`lambda` subscription is an async invoke with the SNS event shape, in the background.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftline_local import event_log, sns_attributes, sns_subject
from driftline_local.context import LocalCloudContext

log = logging.getLogger(__name__)

_ctx: LocalCloudContext | None = None
_executor: ThreadPoolExecutor | None = None
_original_publish: Callable[..., Any] | None = None
_mailbox_lock = threading.Lock()


def read_mailbox(ctx: LocalCloudContext) -> list[dict[str, Any]]:
    """Every email delivered so far, oldest first."""
    if not ctx.mailbox_path.exists():
        return []
    with _mailbox_lock:
        lines = ctx.mailbox_path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def wait_for_mail(ctx: LocalCloudContext, subject_contains: str, timeout: float = 300) -> dict[str, Any]:
    """The first email whose subject contains the text, waiting for it up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for message in read_mailbox(ctx):
            if subject_contains in (message.get("subject") or ""):
                return message
        if time.monotonic() > deadline:
            subjects = [m.get("subject") for m in read_mailbox(ctx)]
            raise TimeoutError(f"no email with {subject_contains!r} within {timeout:.0f}s; got {subjects}")
        time.sleep(0.5)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _publish(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    """Replacement for moto's `Subscription.publish`."""
    protocol = subscription.protocol
    if protocol not in ("email", "email-json", "lambda") or _ctx is None:
        assert _original_publish is not None
        _original_publish(
            subscription,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = subscription._parse_message_structure(message, protocol)
    if protocol in ("email", "email-json"):
        entry = {
            "topic": subscription.topic.arn,
            "endpoint": subscription.endpoint,
            "subject": subject,
            "message": message,
            "timestamp": _now(),
            "message_id": message_id,
        }
        with _mailbox_lock, open(_ctx.mailbox_path, "a", encoding="utf-8") as mailbox:
            mailbox.write(json.dumps(entry) + "\n")
        attributes = {k: v.get("Value") for k, v in (message_attributes or {}).items()}
        event_log.events.info(
            "page (%s%s) to %s: %s",
            attributes.get("severity", "no severity"),
            f", {attributes['action']}" if attributes.get("action") == "resolve" else "",
            subscription.endpoint,
            subject or message.splitlines()[0][:120],
        )
        return
    event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": _now(),
                    "SignatureVersion": "1",
                    "Signature": "LOCAL",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": message_attributes or {},
                },
            }
        ]
    }
    assert _executor is not None
    _executor.submit(_invoke_subscriber, subscription.endpoint, event)


def _invoke_subscriber(function_arn: str, event: dict[str, Any]) -> None:
    try:
        from moto.awslambda.utils import get_backend

        from driftline_local import lambda_runtime

        assert _ctx is not None
        fn = get_backend(_ctx.account_id, _ctx.region).get_function(function_arn)
        lambda_runtime.active_runtime().invoke_async(fn, event)
    except Exception:
        log.exception("SNS delivery to %s failed", function_arn)


def install(ctx: LocalCloudContext) -> None:
    global _ctx, _executor, _original_publish
    from moto.sns.models import Subscription

    uninstall()
    _ctx = ctx
    ctx.workdir.mkdir(parents=True, exist_ok=True)
    _executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sns-delivery")
    if _original_publish is None:
        _original_publish = Subscription.publish
        Subscription.publish = _publish  # type: ignore[method-assign,assignment]
    sns_subject.install()  # Publish refuses a Subject AWS refuses
    sns_attributes.install()  # ... and message attributes AWS refuses


def uninstall() -> None:
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
        _executor = None
