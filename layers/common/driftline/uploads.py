"""What happens when a file lands under `incoming/<model>/`: validate, quarantine or start a run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from driftline import aws, naming, state
from driftline.config import ModelConfig
from driftline.datasets import SAMPLE_BYTES, check_against_config, infer_features, read_sample
from driftline.errors import InvalidDataset, UnknownModel
from driftline.notifications import page
from driftline.observability import logger, metrics
from driftline.settings import settings

INCOMING = "incoming/"
QUARANTINE = "quarantine/"


class UploadedObject(BaseModel):
    bucket: str
    key: str
    size: int
    event_id: str
    event_time: datetime
    sequencer: str = ""
    version_id: str | None = None


class UploadOutcome(BaseModel):
    outcome: Literal["started", "joined", "quarantined", "duplicate", "ignored", "kept"]
    key: str
    model: str | None = None
    run_id: str | None = None
    reason: str | None = None
    quarantine_key: str | None = None


def handle_upload(upload: UploadedObject) -> UploadOutcome:
    if not upload.key.startswith(INCOMING):
        return UploadOutcome(outcome="ignored", key=upload.key, reason="not under incoming/")
    # The same S3 event may be delivered more than once; the object's sequencer tells them apart.
    if not state.first_sighting(f"s3:{upload.bucket}/{upload.key}#{upload.sequencer or upload.event_id}"):
        logger.info("duplicate upload event ignored", extra={"key": upload.key})
        return UploadOutcome(outcome="duplicate", key=upload.key)
    model = _model_of(upload.key)
    try:
        config = _validated_config(upload, model)
    except (InvalidDataset, UnknownModel) as problem:
        return quarantine(upload, model, problem)
    if not config.training.start_on_upload:
        # Labelled data keeps arriving; training starts on drift (or by hand) and uses all of it.
        logger.info("upload kept for the next run", extra={"key": upload.key})
        return UploadOutcome(outcome="kept", key=upload.key, model=config.name)
    return _start_or_join_run(upload, config)


def _model_of(key: str) -> str | None:
    parts = key[len(INCOMING):].split("/")
    return parts[0] if len(parts) >= 2 and parts[0] else None


def _validated_config(upload: UploadedObject, model: str | None) -> ModelConfig:
    if model is None:
        raise InvalidDataset("files must be uploaded to incoming/<model>/<file>.csv")
    if not upload.key.lower().endswith(".csv"):
        raise InvalidDataset("only .csv files are accepted under incoming/; rename or convert the file")
    config = state.load_config(model)
    if config is None:
        raise UnknownModel(
            f"model '{model}' has no valid config; upload models/{model}/model.yaml first, then the data again"
        )
    if upload.size > config.limits.max_upload_bytes:
        raise InvalidDataset(
            f"the file is {upload.size} bytes, above the limit of {config.limits.max_upload_bytes} "
            "(limits.max_upload_bytes); split it into smaller files"
        )
    if upload.size == 0:
        raise InvalidDataset("the file is empty; upload a CSV with a header row and at least one example")
    head = aws.client("s3").get_object(
        Bucket=upload.bucket, Key=upload.key, Range=f"bytes=0-{SAMPLE_BYTES - 1}"
    )["Body"].read()
    sample = read_sample(head, complete=upload.size <= SAMPLE_BYTES)
    if config.features is None:
        inferred = config.model_copy(update={"features": infer_features(sample, config)})
        check_against_config(sample, inferred)  # a file that is itself invalid never defines the schema
        config = state.record_inferred_features(inferred)
    check_against_config(sample, config)
    return config


def _start_or_join_run(upload: UploadedObject, config: ModelConfig) -> UploadOutcome:
    moment = upload.event_time.astimezone(UTC)
    candidate = naming.run_id(config.name, "upload", moment)
    run, opened = state.open_or_join_run(config.name, candidate, int(moment.timestamp()))
    if not opened:
        logger.info("upload joined the open run", extra={"run_id": run, "key": upload.key})
        return UploadOutcome(outcome="joined", key=upload.key, model=config.name, run_id=run)
    state.put_run(config.name, run, trigger="upload", status="COLLECTING", started_at=moment.isoformat(),
                  first_upload=upload.key)
    execution_arn = start_pipeline(config, run, trigger="upload")
    state.update_run(config.name, run, execution_arn=execution_arn)
    metrics.add_metric(name="RunsStarted", unit="Count", value=1)
    return UploadOutcome(outcome="started", key=upload.key, model=config.name, run_id=run)


def start_pipeline(config: ModelConfig, run: str, *, trigger: str) -> str:
    """Start TrainingPipeline for a run; the run id is the execution name, so this is idempotent."""
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
        return str(response["executionArn"])
    except Exception as exc:
        if aws.error_code(exc) != "ExecutionAlreadyExists":
            raise
        logger.info("execution already exists", extra={"run_id": run})
        arn = settings().training_pipeline_arn.replace(":stateMachine:", ":execution:")
        return f"{arn}:{run}"


def quarantine(upload: UploadedObject, model: str | None, problem: Exception) -> UploadOutcome:
    """Move the file to quarantine/ with a .reason.json beside it, then page on-call."""
    s3 = aws.client("s3")
    relative = upload.key[len(INCOMING):]
    stamp = upload.event_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder, _, filename = relative.rpartition("/")
    target = f"{QUARANTINE}{folder + '/' if folder else ''}{stamp}-{filename}"
    reason = {
        "original_key": upload.key,
        "original_version_id": upload.version_id,
        "model": model,
        "error": type(problem).__name__,
        "reason": str(problem),
        "quarantined_at": datetime.now(UTC).isoformat(),
        "what_to_do": "fix the file and upload it again under incoming/<model>/",
    }
    source = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id:
        source["VersionId"] = upload.version_id
    s3.copy_object(Bucket=upload.bucket, Key=target, CopySource=source)
    s3.put_object(
        Bucket=upload.bucket, Key=f"{target}.reason.json", Body=json.dumps(reason, indent=2).encode(),
        ContentType="application/json",
    )
    # The copy is in place, so removing the upload from incoming/ loses nothing (the bucket is
    # versioned too); it keeps a bad file out of the next training run.
    s3.delete_object(Bucket=upload.bucket, Key=upload.key)
    logger.warning("upload quarantined", extra={"key": upload.key, "reason": str(problem)})
    metrics.add_metric(name="UploadsQuarantined", unit="Count", value=1)
    page(
        f"{model or 'unknown model'}: upload rejected",
        {
            "What happened": "An uploaded file was rejected and moved to quarantine; no run was started.",
            "Model": model,
            "File": f"s3://{upload.bucket}/{upload.key}",
            "Why": str(problem),
            "Kept at": f"s3://{upload.bucket}/{target} (reason in {target}.reason.json)",
            "What to do": reason["what_to_do"],
        },
    )
    return UploadOutcome(outcome="quarantined", key=upload.key, model=model, reason=str(problem),
                         quarantine_key=target)
