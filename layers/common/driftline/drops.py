"""A file dropped in a watched folder (`incoming/`, `batch/`, `labels/`): the steps every kind takes alike.

Each kind (driftline.uploads, driftline.batch, driftline.quality's labels) works on an S3 event once
(`handle_once`: a key outside its folder or a folder marker is ignored, a repeat of a finished event returns
the first outcome marked `duplicate`), refuses a file by the same rules before reading it (`checked_config`),
and reads the exact version the event names (`read_version`, `VersionGone` when it no longer exists). What
differs stays with the kind: its words (`DropFolder`), what it checks in the file, what a good file starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel

from driftline import aws, idempotency, state
from driftline.errors import InvalidDataset, UnknownModel
from driftline.observability import logger

if TYPE_CHECKING:
    from driftline.config import ModelConfig

# The check of a file stops after this long (a quarantine with a reason, never a Lambda timeout), and
# leaves RESERVE_SECONDS of the invocation for the quarantine copy, the page and the state writes.
VALIDATION_SECONDS = 30.0
RESERVE_SECONDS = 20.0
MIN_VALIDATION_SECONDS = 1.0
_GONE = {"NoSuchKey", "NoSuchVersion", "404"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

T = TypeVar("T")


class Dropped(Protocol):
    """What this module reads of an upload (driftline.uploads.UploadedObject)."""

    bucket: str
    key: str
    size: int
    version_id: str | None

    def identity(self) -> dict[str, Any]: ...


class DropOutcome(BaseModel):
    """What became of a dropped file; each kind narrows `outcome` and may add fields."""

    outcome: str
    key: str
    model: str | None = None
    reason: str | None = None
    rule: str | None = None
    quarantine_key: str | None = None
    first_outcome: str | None = None  # on a duplicate: the first delivery's outcome


Outcome = TypeVar("Outcome", bound=DropOutcome)


@dataclass(frozen=True)
class DropFolder:
    """One kind of dropped file: its folder, its idempotency scope, and how its refusals read."""

    prefix: str  # "incoming/", "batch/", "labels/"
    scope: str  # idempotency scope, and the word of the duplicate log line ("upload", "batch", "labels")
    location: str  # why a key without a model folder is refused
    unknown_model: str  # after "model '<model>' has no valid config; " ({model}: the model as shown)
    empty: str  # after "the file is empty; " ({target}: the model's target)

    def model_of(self, key: str) -> str | None:
        """`<prefix><model>/<file>` -> model; None when the key has no model folder."""
        parts = key[len(self.prefix) :].split("/")
        return parts[0] if len(parts) >= 2 and parts[0] else None


class VersionGone(Exception):
    """The object version the event names no longer exists."""


def handle_once(
    upload: Dropped,
    folder: DropFolder,
    process: Callable[[float], DropOutcome],
    outcome: type[Outcome],
    *,
    remaining_ms: int | None = None,
) -> Outcome:
    """`process(budget)` once per S3 event (driftline.idempotency); `budget` is the seconds its check may take."""
    if not upload.key.startswith(folder.prefix):
        return outcome(outcome="ignored", key=upload.key, reason=f"not under {folder.prefix}")
    if upload.key.endswith("/") and upload.size == 0:
        return outcome(outcome="ignored", key=upload.key, reason="a folder marker, not a file")
    budget = VALIDATION_SECONDS
    if remaining_ms is not None:
        budget = max(MIN_VALIDATION_SECONDS, min(budget, remaining_ms / 1000 - RESERVE_SECONDS))

    def repeated(first: dict[str, Any]) -> dict[str, Any]:
        logger.info(f"duplicate {folder.scope} event ignored", extra={"key": first.get("key")})
        return first | {"outcome": "duplicate", "first_outcome": first.get("outcome")}

    result = idempotency.once(
        folder.scope,
        upload.identity(),
        lambda: process(budget).model_dump(),
        remaining_ms=remaining_ms,
        on_repeat=repeated,
    )
    return outcome.model_validate(result)


def checked_config(upload: Dropped, folder: DropFolder, model: str | None) -> ModelConfig:
    """The model's config, after the checks that need no read of the file: where, what type, whose, how big."""
    if model is None:
        raise InvalidDataset(folder.location, rule="location")
    if not upload.key.lower().endswith(".csv"):
        raise InvalidDataset(
            f"only .csv files are accepted under {folder.prefix}; rename or convert the file", rule="file-type"
        )
    config = state.load_config(model)
    if config is None:
        shown_model = shown(model, 40)
        raise UnknownModel(
            f"model '{shown_model}' has no valid config; " + folder.unknown_model.format(model=shown_model)
        )
    if upload.size > config.limits.max_upload_bytes:
        raise InvalidDataset(
            f"the file is {upload.size} bytes, above the limit of {config.limits.max_upload_bytes} "
            "(limits.max_upload_bytes); split it into smaller files",
            rule="size",
        )
    if upload.size == 0:
        raise InvalidDataset("the file is empty; " + folder.empty.format(target=config.target), rule="empty")
    return config


def read_version(upload: Dropped, consume: Callable[[Any], T]) -> T:
    """`consume(body)` over the exact object version the event names (VersionGone when it no longer exists)."""
    version = {"VersionId": upload.version_id} if upload.version_id else {}
    try:
        body = aws.client("s3").get_object(Bucket=upload.bucket, Key=upload.key, **version)["Body"]
    except Exception as exc:
        if aws.error_code(exc) in _GONE:
            raise VersionGone from exc
        raise
    try:
        return consume(body)
    finally:
        body.close()


def shown(text: str, limit: int) -> str:
    """User-chosen text (a key, a model folder) as pages show it: no control characters, bounded."""
    safe = _CONTROL.sub("?", text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"
