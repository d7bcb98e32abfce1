"""At-least-once delivery, done right: powertools Idempotency on the state table.

An event's work is recorded *in progress* before it starts (the record expires when the invocation's
time runs out), *completed* with its result after, and *removed* when the work raises: a retry then
does the work, and after the last retry the event reaches the dead-letter queue and a person. A
repeat of a completed event gets the first result back (marked by `on_repeat`) and does nothing.

Records live in the state table under `pk = IDEMPOTENCY#<scope>`, `sk = <scope>#<hash of the identity>`,
and expire through the table's TTL attribute (`expires_at`). They are written with the low-level
DynamoDB client (`aws.client("dynamodb")`; the table resource's client would re-serialise the typed
values): a handler that dedupes creates it in its init phase, and imports powertools' Idempotency there too
(about 60 modules, 15-20 ms): this module loads it only when `once` runs, so the handlers that reach this module
through a shared import but never dedupe (rollouts, alarms, monitoring ticks) do not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from driftline import aws
from driftline.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

COMPLETED_SECONDS = 7 * 24 * 3600  # a repeat within a week is recognised (EventBridge retries end after 24 h)
DEFAULT_REMAINING_MS = 60_000  # the functions' Timeout, for callers without a Lambda context


class _TimeLeft:
    """The one thing IdempotencyConfig reads from a Lambda context: the time left in the invocation."""

    def __init__(self, remaining_ms: int) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


@cache
def _store(scope: str, table: str, client: Any) -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"IDEMPOTENCY#{scope}",
        expiry_attr="expires_at",
        boto3_client=client,
    )


def once(
    scope: str,
    identity: dict[str, Any],
    work: Callable[[], dict[str, Any]],
    *,
    remaining_ms: int | None = None,
    on_repeat: Callable[[dict[str, Any]], dict[str, Any]] = lambda first: first,
) -> dict[str, Any]:
    """Run `work` once per `identity` (the fields that identify the event, never its timestamps).

    Raises powertools' IdempotencyAlreadyInProgressError while another invocation works on the same
    identity (the caller's retry comes back later) and whatever `work` raises (its record removed).
    """
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(
        expires_after_seconds=COMPLETED_SECONDS,
        raise_on_no_idempotency_key=True,
        lambda_context=cast("LambdaContext", _TimeLeft(DEFAULT_REMAINING_MS if remaining_ms is None else remaining_ms)),
        response_hook=lambda response, _record: on_repeat(response),
    )

    def run(identity: dict[str, Any]) -> dict[str, Any]:
        return work()

    store = _store(scope, settings().state_table, aws.client("dynamodb"))
    guarded = idempotent_function(
        run, data_keyword_argument="identity", persistence_store=store, config=config, key_prefix=scope
    )
    return dict(guarded(identity=identity))
