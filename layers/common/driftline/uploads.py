"""What happens when a file lands under `incoming/<model>/`: validate, quarantine or start a run.

Each S3 event is worked on once (driftline.idempotency): a crash or timeout leaves no "seen" mark
behind, so the retry does the work; a repeat of a finished event starts nothing. Everything is done
on the exact object version the event names.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from boto3.s3.transfer import TransferConfig
from pydantic import BaseModel

from driftline import aws, naming, state
from driftline.config import MODEL_NAME_PATTERN, ModelConfig, ProblemType
from driftline.drops import DropFolder, DropOutcome, Outcome, VersionGone, checked_config, handle_once, read_version
from driftline.drops import shown as _shown
from driftline.errors import InvalidDataset, UnknownModel
from driftline.events import S3ObjectCreated
from driftline.notifications import page
from driftline.observability import logger, metrics
from driftline.settings import settings

if TYPE_CHECKING:
    from driftline.datasets import DatasetReport

INCOMING = "incoming/"
QUARANTINE = "quarantine/"
INCOMING_FOLDER = DropFolder(
    prefix=INCOMING,
    scope="upload",
    location="files must be uploaded to incoming/<model>/<file>.csv",
    unknown_model="upload models/{model}/model.yaml first, then the data again",
    empty="upload a CSV with a header row and at least one example",
)
# A single CopyObject is limited to 5 GB; above this size the quarantine copy is a multipart copy
# (UploadPartCopy, parts copied in parallel), which has no such limit and is faster for big files.
MULTIPART_COPY_BYTES = 256 * 1024 * 1024
COPY_CONCURRENCY = 10
MAX_NAME_BYTES = 200  # of the file name kept in a quarantine key (S3 keys: 1024 bytes at most)
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class UploadedObject(BaseModel):
    bucket: str
    key: str
    size: int
    event_id: str
    event_time: datetime
    sequencer: str = ""
    version_id: str | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> UploadedObject:
        """The object an S3 `Object Created` EventBridge event names: every drop handler's input."""
        created = S3ObjectCreated.model_validate(event)
        detail = created.detail
        return cls(
            bucket=detail.bucket.name,
            key=detail.object.key,
            size=detail.object.size,
            sequencer=detail.object.sequencer,
            version_id=detail.object.version_id,
            event_id=created.id,
            event_time=created.time,
        )

    def identity(self) -> dict[str, Any]:
        """The fields that identify the upload (S3 repeats an event with the same sequencer), never its time."""
        fields: dict[str, Any] = {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "sequencer": self.sequencer,
        }
        if not self.version_id and not self.sequencer:
            fields["event_id"] = self.event_id
        return fields


class UploadOutcome(DropOutcome):
    outcome: Literal["started", "joined", "quarantined", "duplicate", "ignored", "kept", "gone"]
    run_id: str | None = None


def handle_upload(upload: UploadedObject, *, remaining_ms: int | None = None) -> UploadOutcome:
    return handle_once(
        upload, INCOMING_FOLDER, lambda budget: _process(upload, budget), UploadOutcome, remaining_ms=remaining_ms
    )


def _process(upload: UploadedObject, budget: float) -> UploadOutcome:
    model = INCOMING_FOLDER.model_of(upload.key)
    try:
        config = _validated_config(upload, model, budget)
    except (InvalidDataset, UnknownModel) as problem:
        return quarantine(upload, model, problem)
    except VersionGone:
        return _gone(upload, model)
    kept = _keep_if_paused(upload, config.name)
    if kept is not None:
        return kept
    if not config.training.start_on_upload:
        # Labelled data keeps arriving; training starts on drift (or by hand) and uses all of it.
        logger.info("upload kept for the next run", extra={"key": upload.key})
        return UploadOutcome(outcome="kept", key=upload.key, model=config.name)
    return _start_or_join_run(upload, config)


def _keep_if_paused(upload: UploadedObject, model: str) -> UploadOutcome | None:
    """A valid upload for a paused model (`driftline pause`) stays in incoming/ and starts no run.

    Like `start_on_upload: false`, after the file was validated (a bad one is quarantined all the same).
    The first kept upload of a pause pages; later ones are counted without a page.
    """
    paused = state.get_pause(model)
    if not paused:
        return None
    kept = state.count_held(model, "uploads_kept")
    if kept is None:  # resumed in between: the normal path takes it
        return None
    why = state.pause_note(model, paused)
    if not paused.get("uploads_paged"):
        page(
            f"{model}: upload kept, model paused",
            {
                "What happened": "A valid file arrived for a paused model: it stays in incoming/ and no run was "
                "started.",
                "Model": model,
                "File": f"s3://{upload.bucket}/{upload.key}",
                "Paused": why,
                "What to do": f"after `driftline resume {model}`, `driftline retrain {model}` trains on every "
                "kept file (later uploads during this pause are kept without a page)",
            },
            severity="info",
            kind="upload-kept",
            model=model,
        )
        state.mark_pause(model, "uploads_paged")
    logger.info("upload kept: model paused", extra={"key": upload.key, "model": model})
    return UploadOutcome(outcome="kept", key=upload.key, model=model, reason=f"no run started: {why}")


def _validated_config(upload: UploadedObject, model: str | None, budget: float) -> ModelConfig:
    config = checked_config(upload, INCOMING_FOLDER, model)
    from driftline.datasets import check_columns  # only an upload's check reads CSV (on_data_uploaded loads it at init)

    known, version = state.known_labels(config.name)
    report = _read_and_check(upload, config, known, budget)
    if config.problem_type is not ProblemType.REGRESSION:
        _record_labels(config, report, known, version)
    if config.features is None:
        inferred = config.model_copy(update={"features": report.inferred_features(config)})
        winner = state.record_inferred_features(inferred)  # a file that is itself invalid never defines it
        if winner.features != inferred.features:
            check_columns(report, winner)  # another upload defined the schema first
        config = winner
    return config


def _read_and_check(upload: UploadedObject, config: ModelConfig, known: frozenset[str], budget: float) -> DatasetReport:
    from driftline.datasets import CHUNK_BYTES, validate_csv

    return read_version(
        upload,
        lambda body: validate_csv(body.iter_chunks(CHUNK_BYTES), config, known_labels=known, budget_seconds=budget),
    )


def _record_labels(config: ModelConfig, report: DatasetReport, known: frozenset[str], version: int) -> None:
    """Add the file's classes to the model's; concurrent first uploads race on a conditional write."""
    from driftline.datasets import check_labels

    for _ in range(5):
        labels = known | frozenset(report.labels)
        if labels == known or state.record_labels(config.name, labels, version):
            return
        known, version = state.known_labels(config.name)
        check_labels(report, config, known)
    raise RuntimeError(f"the labels of model '{config.name}' kept changing while recording them; retrying")


def _start_or_join_run(upload: UploadedObject, config: ModelConfig) -> UploadOutcome:
    moment = upload.event_time.astimezone(UTC)
    candidate = naming.run_id(config.name, "upload", moment)
    earlier = state.get_run(config.name, candidate)
    if earlier and earlier.get("status") != "COLLECTING":
        # A retry of an upload whose run already went ahead (the file was in incoming/ when it did).
        return UploadOutcome(outcome="joined", key=upload.key, model=config.name, run_id=candidate)
    run, opened = state.open_or_join_run(config.name, candidate, int(moment.timestamp()))
    if not opened and run != candidate:
        logger.info("upload joined the open run", extra={"run_id": run, "key": upload.key})
        return UploadOutcome(outcome="joined", key=upload.key, model=config.name, run_id=run)
    # We opened the run, or an earlier attempt of this event (or an upload in the same second) did:
    # make sure its execution exists. The run id is the execution name, so this never starts two.
    state.create_run(
        config.name, run, trigger="upload", status="COLLECTING", started_at=moment.isoformat(), first_upload=upload.key
    )
    execution_arn, started = _start_execution(config, run, trigger="upload")
    state.update_run(config.name, run, execution_arn=execution_arn)
    if not started:
        return UploadOutcome(outcome="joined", key=upload.key, model=config.name, run_id=run)
    metrics.add_dimension(name="Model", value=config.name)
    metrics.add_metric(name="RunsStarted", unit="Count", value=1)
    return UploadOutcome(outcome="started", key=upload.key, model=config.name, run_id=run)


def start_pipeline(config: ModelConfig, run: str, *, trigger: str) -> str:
    """Start TrainingPipeline for a run; the run id is the execution name, so this is idempotent."""
    return _start_execution(config, run, trigger=trigger)[0]


def _start_execution(config: ModelConfig, run: str, *, trigger: str) -> tuple[str, bool]:
    """(execution ARN, whether this call started it)."""
    sfn = aws.client("stepfunctions")
    payload = {
        "model": config.name,
        "run_id": run,
        "trigger": trigger,
        "settle_seconds": config.timings.settle_seconds,
    }
    try:
        response = sfn.start_execution(
            stateMachineArn=settings().training_pipeline_arn, name=run, input=json.dumps(payload)
        )
        return str(response["executionArn"]), True
    except Exception as exc:
        if aws.error_code(exc) != "ExecutionAlreadyExists":
            raise
        logger.info("execution already exists", extra={"run_id": run})
        arn = settings().training_pipeline_arn.replace(":stateMachine:", ":execution:")
        return f"{arn}:{run}", False


# --- quarantine ------------------------------------------------------------------------------------


def quarantine_key(upload: UploadedObject, model: str | None) -> str:
    """`quarantine/<model>/<time>-<id>/<name>`: unique per upload (its identity), safe segments, short.

    The same event always maps to the same key, so a retried quarantine overwrites its own copy and
    never another upload's; two uploads of one name (even in the same second) never share a key.
    """
    identity = json.dumps(upload.identity(), sort_keys=True).encode()
    digest = hashlib.sha256(identity).hexdigest()[:16]
    stamp = upload.event_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = model if model and MODEL_NAME_PATTERN.match(model) else "_unknown-model"
    return f"{QUARANTINE}{folder}/{stamp}-{digest}/{_safe_name(upload.key.rsplit('/', 1)[-1])}"


def _safe_name(name: str) -> str:
    safe = _UNSAFE_KEY_CHARS.sub("_", name).lstrip(".") or "file"
    if len(safe) <= MAX_NAME_BYTES:
        return safe
    stem, dot, extension = safe.rpartition(".")
    extension = extension[:16] if dot and stem else ""
    return safe[: MAX_NAME_BYTES - len(extension) - 1] + ("." + extension if extension else "_")


@dataclass(frozen=True)
class Rejection:
    """How a rejected file of one kind is told: its page's subject, words and kind, and its metric."""

    what: str  # "upload", "batch file", "labels": the page subject is "<model>: <what> rejected"
    what_happened: str
    what_to_do: str
    page_kind: str
    metric: str


UPLOAD_REJECTED = Rejection(
    what="upload",
    what_happened="An uploaded file was rejected and moved to quarantine; no run was started.",
    what_to_do="fix the file and upload it again under incoming/<model>/",
    page_kind="upload-rejected",
    metric="UploadsQuarantined",
)


def quarantine(upload: UploadedObject, model: str | None, problem: Exception) -> UploadOutcome:
    return quarantined(upload, model, problem, UPLOAD_REJECTED, UploadOutcome)


def quarantined(
    upload: UploadedObject, model: str | None, problem: Exception, rejection: Rejection, outcome: type[Outcome]
) -> Outcome:
    """`move_to_quarantine`, told as the kind's outcome: `quarantined`, why, the rule and where the copy is."""
    target, rule = move_to_quarantine(upload, model, problem, rejection)
    return outcome(
        outcome="quarantined", key=upload.key, model=model, reason=str(problem), rule=rule, quarantine_key=target
    )


def move_to_quarantine(
    upload: UploadedObject, model: str | None, problem: Exception, rejection: Rejection
) -> tuple[str, str | None]:
    """Copy the upload's version to quarantine/ with a .reason.json, page on-call, then remove the version.

    Returns the quarantine key and the rule that failed. The order makes a retry safe: until the version
    is removed, a retry finds the file and does it all again (same keys); after, the copy is there (see
    `_gone`). Every kind of dropped file (training data, batch input, labels) goes through here.
    """
    s3 = aws.client("s3")
    target = quarantine_key(upload, model)
    rule = getattr(problem, "rule", "unknown-model" if isinstance(problem, UnknownModel) else None)
    reason = {
        "original_key": upload.key,
        "original_version_id": upload.version_id,
        "event_id": upload.event_id,
        "model": model,
        "error": type(problem).__name__,
        "rule": rule,
        "line": getattr(problem, "line", None),
        "column": getattr(problem, "column", None),
        "reason": str(problem),
        "quarantined_at": datetime.now(UTC).isoformat(),
        "what_to_do": rejection.what_to_do,
    }
    source = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id:
        source["VersionId"] = upload.version_id
    # boto3's managed copy: one CopyObject below the threshold, a parallel multipart copy above it.
    s3.copy(
        source,
        upload.bucket,
        target,
        Config=TransferConfig(
            multipart_threshold=MULTIPART_COPY_BYTES,
            multipart_chunksize=MULTIPART_COPY_BYTES,
            max_concurrency=COPY_CONCURRENCY,
        ),
    )
    s3.put_object(
        Bucket=upload.bucket,
        Key=f"{target}.reason.json",
        Body=json.dumps(reason, indent=2).encode(),
        ContentType="application/json",
    )
    logger.warning(f"{rejection.what} quarantined", extra={"key": upload.key, "rule": rule, "target": target})
    metrics.add_metric(name=rejection.metric, unit="Count", value=1)
    shown_model = _shown(model, 40) if model else None
    page(
        f"{shown_model or 'unknown model'}: {rejection.what} rejected",
        {
            "What happened": rejection.what_happened,
            "Model": shown_model,
            "File": f"s3://{upload.bucket}/{_shown(upload.key, 300)}",
            "Version": upload.version_id,
            "Why": str(problem),
            "Kept at": f"s3://{upload.bucket}/{target} (reason in {target}.reason.json)",
            "What to do": rejection.what_to_do,
        },
        kind=rejection.page_kind,
        model=model,
    )
    # Only this version goes: a newer upload of the same name stays (the copy above keeps every byte).
    s3.delete_object(
        Bucket=upload.bucket, Key=upload.key, **({"VersionId": upload.version_id} if upload.version_id else {})
    )
    return target, rule


def _gone(upload: UploadedObject, model: str | None) -> UploadOutcome:
    """The version is gone: an earlier attempt quarantined it (its copy is there), or someone deleted it."""
    target = quarantine_key(upload, model)
    try:
        aws.client("s3").head_object(Bucket=upload.bucket, Key=target)
    except Exception as exc:
        logger.info("upload gone before it was checked", extra={"key": upload.key, "code": aws.error_code(exc)})
        return UploadOutcome(
            outcome="gone",
            key=upload.key,
            model=model,
            reason="the object version was deleted before it could be checked",
        )
    return UploadOutcome(
        outcome="quarantined",
        key=upload.key,
        model=model,
        quarantine_key=target,
        reason="quarantined by an earlier attempt of this event",
    )
