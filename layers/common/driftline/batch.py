"""Batch predictions: a CSV dropped in `batch/<model>/` runs a SageMaker transform job with the production model.

The file (a header row, the production model's features in any order, an optional id column, no target)
is checked as a stream with the upload checks of `driftline.datasets`; a bad file is quarantined and paged
as a bad upload is; while no model is in production the file stays where it is and on-call is told.

SageMaker's transform splits its input at line breaks and sends every line to the model, a header line
too (SplitType Line has no header option), and the serving script reads CSV rows in the model's feature
order. So a valid file is staged, headerless, as `<id>,<features in the model's order>` in the
ArtifactBucket (`<model>/batch/<job>/input/<name>`), and the job runs with `DataProcessing`
`InputFilter: "$[1:]"` (the model never sees the id) and `JoinSource: Input` (each output row is its
input row followed by the prediction), `SplitType: Line`, `BatchStrategy: MultiRecord`,
`AssembleWith: Line`. SageMaker writes `<S3OutputPath>/<name>.out` for each input object (the input's
path below the input prefix, with `.out` appended), so the results land in `predictions/<model>/<name>.out`.

The job's name is a function of (model, object key, version): a repeated event can never start a second
job, and the whole event is deduplicated besides (driftline.idempotency). The job's end arrives as a
`SageMaker Transform Job State Change` event (`handle_transform_state_change`): success is recorded on
the state table, a failure pages with SageMaker's reason.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from boto3.s3.transfer import TransferConfig
from pydantic import BaseModel, ConfigDict

from driftline import aws, idempotency, naming, state
from driftline.config import Feature, ModelConfig
from driftline.datasets import (
    CHUNK_BYTES,
    ColumnStats,
    DatasetReport,
    _check_header,
    _first_row,
    _is_number,
    _Lines,
    _malformed,
    _shown,
    check_numeric,
    column_problems,
)
from driftline.drops import DropFolder, DropOutcome, VersionGone, checked_config, handle_once, read_version
from driftline.drops import shown as _shown_text
from driftline.errors import InvalidDataset, UnknownModel
from driftline.notifications import page
from driftline.observability import logger, metrics
from driftline.sagemaker_requests import _has_instance_storage
from driftline.settings import settings
from driftline.uploads import Rejection, UploadedObject, quarantined

BATCH = "batch/"
BATCH_FOLDER = DropFolder(
    prefix=BATCH,
    scope="batch",
    location="batch files must be dropped in batch/<model>/<file>.csv",
    unknown_model="upload models/{model}/model.yaml first",
    empty="drop a CSV with a header row and at least one row",
)
PREDICTIONS = "predictions/"
CONTENT_TYPE = "text/csv"
INPUT_FILTER = "$[1:]"  # every column but the first (the id) goes to the model
STAGE_PART_BYTES = 8 * 1024 * 1024  # multipart parts of the staged copy (S3: at least 5 MiB but the last)
TERMINAL = {"Completed", "Failed", "Stopped"}
TAG_PUNCTUATION = set("_.:/=+-@")  # what a tag value may hold besides letters, numbers and spaces


class BatchOutcome(DropOutcome):
    outcome: Literal["started", "quarantined", "kept", "ignored", "duplicate", "gone"]
    job_name: str | None = None
    output_key: str | None = None
    rows: int | None = None


@dataclass
class BatchReport:
    """What the check of a batch file learnt: where each column is, and how many rows it has."""

    header: list[str]
    features: list[str]
    id_column: int | None
    rows: int = 0
    columns: dict[int, ColumnStats] = field(default_factory=dict)

    def staged_row(self, row: list[str], number: int) -> list[str]:
        """`<id>,<features in the model's order>`; without an id column, the row's number in the file."""
        index = {name: i for i, name in enumerate(self.header)}
        ident = row[self.id_column].strip() if self.id_column is not None else str(number)
        return [ident, *(row[index[name]] for name in self.features)]


# --- the drop --------------------------------------------------------------------------------------


def handle_batch_upload(upload: UploadedObject, *, remaining_ms: int | None = None) -> BatchOutcome:
    return handle_once(
        upload, BATCH_FOLDER, lambda budget: _process(upload, budget), BatchOutcome, remaining_ms=remaining_ms
    )


def _process(upload: UploadedObject, budget: float) -> BatchOutcome:
    model = BATCH_FOLDER.model_of(upload.key)
    try:
        config = checked_config(upload, BATCH_FOLDER, model)
    except (InvalidDataset, UnknownModel) as problem:
        return quarantine(upload, model, problem)
    if not config.batch.enabled:
        return _keep(upload, config.name, "batch predictions are off for this model (batch.enabled: false)")
    production = state.get_production(config.name)
    if production is None:
        return _keep(upload, config.name, "no model of this name is in production yet")
    features = production_features(config, str(production["run_id"]))
    try:
        report = _read(upload, lambda chunks: check_batch_csv(chunks, config, features, budget_seconds=budget))
    except InvalidDataset as problem:
        return quarantine(upload, config.name, problem)
    except VersionGone:
        return _gone(upload, config.name)
    job = job_name(config.name, upload)
    name = relative_name(upload.key)
    input_prefix = f"{config.name}/batch/{job}/input/"
    _read(upload, lambda chunks: _stage(chunks, report, settings().artifact_bucket, input_prefix + name))
    env = settings()
    request = transform_request(
        config,
        job,
        model_name=naming.job_name(str(production["run_id"]), "model"),
        input_uri=f"s3://{env.artifact_bucket}/{input_prefix}",
        output_uri=f"s3://{env.data_bucket}/{PREDICTIONS}{config.name}/",
        kms_key_arn=env.kms_key_arn,
        source_key=upload.key,
    )
    output_key = output_key_of(config.name, name)
    state.create_batch(
        config.name,
        job,
        status="STARTED",
        file=upload.key,
        version_id=upload.version_id,
        rows=report.rows,
        run_id=production["run_id"],
        output_key=output_key,
        started_at=datetime.now(UTC).isoformat(),
    )
    _start(request)
    metrics.add_dimension(name="Model", value=config.name)
    metrics.add_metric(name="BatchJobsStarted", unit="Count", value=1)
    logger.info("batch transform started", extra={"job": job, "key": upload.key, "rows": report.rows})
    return BatchOutcome(
        outcome="started", key=upload.key, model=config.name, job_name=job, output_key=output_key, rows=report.rows
    )


def relative_name(key: str) -> str:
    """The file's path below `batch/<model>/`: what its `.out` is named after."""
    return key[len(BATCH) :].split("/", 1)[1]


def output_key_of(model: str, name: str) -> str:
    return f"{PREDICTIONS}{model}/{name}.out"


def job_name(model: str, upload: UploadedObject) -> str:
    """`<model>-batch-<hash of bucket, key, version>`: one job per object version, within 63 characters."""
    identity = json.dumps(
        {"bucket": upload.bucket, "key": upload.key, "version": upload.version_id or upload.sequencer}, sort_keys=True
    )
    return naming.sanitise(f"{model}-batch-{hashlib.sha256(identity.encode()).hexdigest()[:12]}")


def production_features(config: ModelConfig, run: str) -> list[Feature]:
    """The features the production model was trained on, in its order (its preprocessor.json)."""
    key = f"{config.name}/runs/{run}/preprocessor/preprocessor.json"
    body = aws.client("s3").get_object(Bucket=settings().artifact_bucket, Key=key)["Body"]
    try:
        preprocessor = json.loads(body.read())
    finally:
        body.close()
    return [Feature(name=str(f["name"]), type=f["type"]) for f in preprocessor["features"]]


def _read(upload: UploadedObject, consume: Any) -> Any:
    """`consume(chunks)` over the exact version the event names (drops.VersionGone when it is gone)."""
    return read_version(upload, lambda body: consume(body.iter_chunks(CHUNK_BYTES)))


# --- the check (pure) ------------------------------------------------------------------------------


def check_batch_csv(
    chunks: Iterable[bytes], config: ModelConfig, features: list[Feature], *, budget_seconds: float = float("inf")
) -> BatchReport:
    """Read the whole file and raise InvalidDataset at the first problem.

    The same reading rules as an upload (`datasets.validate_csv`: UTF-8, bounded lines and fields, a real
    header, every row as wide as it); the columns are checked against the production model's features;
    a field spanning lines is refused, since SageMaker's Line split would cut its record in two.
    """
    lines = _Lines(chunks, budget_seconds, time.monotonic)
    reader = csv.reader(lines)
    header = _check_header(_first_row(reader, lines))
    report = BatchReport(header=header, features=[f.name for f in features], id_column=None)
    _check_batch_columns(report, config, features)
    numeric = {f.name for f in features if f.type == "numeric"}
    report.columns = {i: ColumnStats() for i, name in enumerate(header) if name in numeric}
    width, record_end = len(header), reader.line_num
    try:
        for row in reader:
            line, record_end = record_end + 1, reader.line_num
            if not row:
                continue
            report.rows += 1
            if report.rows % 512 == 0:
                lines.check_clock(line)
            if record_end != line:
                raise InvalidDataset(
                    f"line {line}: a quoted field spans several lines; batch transform splits the file at every "
                    "line break, so each row must be on one line",
                    rule="multiline-field",
                    line=line,
                )
            if len(row) != width:
                raise InvalidDataset(
                    f"line {line} has {len(row)} fields but the header has {width}; "
                    "check for unquoted commas or missing values",
                    rule="field-count",
                    line=line,
                )
            for i, stats in report.columns.items():
                value = row[i].strip()
                if value.lower() in {"", "na", "nan", "null", "none", "?"}:
                    continue
                stats.present += 1
                if not _is_number(value):
                    stats.non_numeric += 1
                    if stats.first_non_numeric_line is None:
                        stats.first_non_numeric_line = line
    except csv.Error as exc:
        raise _malformed(exc, record_end + 1) from None
    if report.rows == 0:
        raise InvalidDataset("the file has a header but no rows; add at least one row to predict", rule="no-rows")
    as_dataset = DatasetReport(header=header, rows=report.rows, columns=report.columns)
    check_numeric(as_dataset, config.model_copy(update={"features": features}))
    return report


def _check_batch_columns(report: BatchReport, config: ModelConfig, features: list[Feature]) -> None:
    index = {name: i for i, name in enumerate(report.header)}
    if config.target in index:
        raise InvalidDataset(
            f"the file has the target column '{_shown(config.target)}'; batch files hold no labels: remove the "
            f"column (labelled data for training goes to incoming/{config.name}/)",
            rule="target-column",
            line=1,
            column=index[config.target] + 1,
        )
    allowed = {f.name for f in features} | {config.batch.id_column} | set(config.drop_columns)
    problems, unexpected = column_problems(report.header, [f.name for f in features], allowed)
    if problems:
        raise InvalidDataset(
            f"the columns do not match the production model of '{config.name}': {'; '.join(problems)}. "
            f"A batch file has the model's features, optionally '{_shown(config.batch.id_column)}' "
            "(batch.id_column), and no other columns",
            rule="columns",
            line=1,
            column=unexpected[0] if unexpected else None,
        )
    report.id_column = index.get(config.batch.id_column)


# --- staging ----------------------------------------------------------------------------------------


def staged_lines(chunks: Iterable[bytes], report: BatchReport) -> Iterator[bytes]:
    """The checked file as the model's transform input: no header, `<id>,<features in order>` per row."""
    lines = _Lines(chunks, float("inf"), time.monotonic)
    reader = csv.reader(lines)
    _first_row(reader, lines)  # the header
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    number = 0
    for row in reader:
        if not row:
            continue
        number += 1
        writer.writerow(report.staged_row(row, number))
        if buffer.tell() >= STAGE_PART_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


class _Stream(io.RawIOBase):
    """A read-only file over a generator of bytes, for boto3's managed (multipart) upload."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._parts)
            except StopIteration:
                return 0
        size = min(len(target), len(self._pending))
        target[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _stage(chunks: Iterable[bytes], report: BatchReport, bucket: str, key: str) -> None:
    stream = io.BufferedReader(_Stream(staged_lines(chunks, report)), buffer_size=STAGE_PART_BYTES)
    aws.client("s3").upload_fileobj(
        stream,
        bucket,
        key,
        ExtraArgs={"ContentType": CONTENT_TYPE},
        Config=TransferConfig(multipart_threshold=STAGE_PART_BYTES, multipart_chunksize=STAGE_PART_BYTES),
    )


# --- the transform job ------------------------------------------------------------------------------


def transform_request(
    config: ModelConfig,
    job: str,
    *,
    model_name: str,
    input_uri: str,
    output_uri: str,
    kms_key_arn: str = "",
    source_key: str = "",
) -> dict[str, Any]:
    """CreateTransformJob for a staged file: the production model, Line split, MultiRecord, input joined."""
    batch = config.batch
    resources: dict[str, Any] = {"InstanceType": batch.instance_type, "InstanceCount": batch.instance_count}
    output: dict[str, Any] = {"S3OutputPath": output_uri, "Accept": CONTENT_TYPE, "AssembleWith": "Line"}
    if kms_key_arn:
        output["KmsKeyId"] = kms_key_arn
        if not _has_instance_storage(batch.instance_type):
            resources["VolumeKmsKeyId"] = kms_key_arn
    return {
        "TransformJobName": job,
        "ModelName": model_name,
        "MaxConcurrentTransforms": batch.max_concurrent_transforms,
        "MaxPayloadInMB": batch.max_payload_mb,
        "BatchStrategy": "MultiRecord",
        "ModelClientConfig": {"InvocationsTimeoutInSeconds": batch.invocation_timeout_seconds},
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": CONTENT_TYPE,
            "CompressionType": "None",
            "SplitType": "Line",
        },
        "TransformOutput": output,
        "TransformResources": resources,
        "DataProcessing": {"InputFilter": INPUT_FILTER, "JoinSource": "Input", "OutputFilter": "$"},
        "Tags": [
            {"Key": "driftline:model", "Value": config.name},
            {"Key": "driftline:batch", "Value": tag_value(source_key)},
        ],
    }


def tag_value(text: str) -> str:
    """`text` as a SageMaker tag value: letters, numbers, spaces and `_.:/=+-@` (TagValue's pattern
    `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`, at most 256 characters); any other character becomes `_`.

    An S3 key may hold `(`, `,`, `&`, `#`...: SageMaker refuses the whole CreateTransformJob over such a tag."""
    kept = (c if unicodedata.category(c)[0] in "LNZ" or c in TAG_PUNCTUATION else "_" for c in text)
    return "".join(kept)[:256]


def _start(request: dict[str, Any]) -> None:
    sagemaker = aws.client("sagemaker")
    try:
        sagemaker.create_transform_job(**request)
    except Exception as exc:
        # An earlier attempt of this event started it (the name is the file version's): that job stands.
        # Whatever code the refusal of a taken name has, the job's existence is what decides.
        try:
            sagemaker.describe_transform_job(TransformJobName=request["TransformJobName"])
        except Exception:
            raise exc from None
        logger.info("transform job already exists", extra={"job": request["TransformJobName"]})


# --- kept, quarantined, gone ------------------------------------------------------------------------


def _keep(upload: UploadedObject, model: str, why: str) -> BatchOutcome:
    """The file stays in batch/ and no job starts; on-call hears why (a retry of this event is deduplicated)."""
    page(
        f"{model}: batch file kept, no predictions",
        {
            "What happened": "A batch file arrived but no transform job was started; the file stays where it is.",
            "Model": model,
            "File": f"s3://{upload.bucket}/{_shown_text(upload.key, 300)}",
            "Why": why,
            "What to do": "once a model serves in production (or batch.enabled is true), drop the file again: "
            "each new version of it starts a job",
        },
        severity="warning",
        kind="batch-kept",
        model=model,
    )
    logger.info("batch file kept", extra={"key": upload.key, "why": why})
    return BatchOutcome(outcome="kept", key=upload.key, model=model, reason=why)


BATCH_FILE_REJECTED = Rejection(
    what="batch file",
    what_happened="A batch file was rejected and moved to quarantine; no transform job was started.",
    what_to_do="fix the file and drop it again under batch/<model>/",
    page_kind="batch-rejected",
    metric="BatchFilesQuarantined",
)


def quarantine(upload: UploadedObject, model: str | None, problem: Exception) -> BatchOutcome:
    """As a rejected upload: copied to quarantine/ with a .reason.json, paged, removed."""
    return quarantined(upload, model, problem, BATCH_FILE_REJECTED, BatchOutcome)


def _gone(upload: UploadedObject, model: str | None) -> BatchOutcome:
    return BatchOutcome(
        outcome="gone", key=upload.key, model=model, reason="the object version was deleted before it could be read"
    )


# --- the job's end ----------------------------------------------------------------------------------


class TransformJobStateChange(BaseModel):
    """The fields of `SageMaker Transform Job State Change` detail that Driftline uses."""

    model_config = ConfigDict(extra="ignore")

    TransformJobName: str
    TransformJobStatus: str
    FailureReason: str | None = None
    ModelName: str | None = None
    TransformOutput: dict[str, Any] | None = None
    Tags: dict[str, str] | list[dict[str, str]] | None = None

    def tag(self, key: str) -> str | None:
        """A tag's value: the event carries Tags as a map; a Describe* answer as a list of Key/Value."""
        if isinstance(self.Tags, list):
            return next((t.get("Value") for t in self.Tags if t.get("Key") == key), None)
        return (self.Tags or {}).get(key)


# `job_name`'s shape: the model name (3-32 characters, config.py) and a 12-hex hash of the object version.
_BATCH_JOB = re.compile(r"^(?P<model>[a-z][a-z0-9-]{1,30}[a-z0-9])-batch-[0-9a-f]{12}$")


def model_of_job(change: TransformJobStateChange) -> str | None:
    """The model a transform job predicted for: its `driftline:model` tag, else its name.

    The event reference's example carries `"Tags": {}`; the job's name says the model as surely (and the
    BATCH#<job> record decides whether the job is Driftline's at all)."""
    match = _BATCH_JOB.match(change.TransformJobName)
    return change.tag("driftline:model") or (match.group("model") if match else None)


def handle_transform_state_change(change: TransformJobStateChange) -> dict[str, Any]:
    model = model_of_job(change)
    if change.TransformJobStatus not in TERMINAL or not model:
        return {"outcome": "ignored", "job": change.TransformJobName}
    return idempotency.once(
        "transform",
        {"job": change.TransformJobName, "status": change.TransformJobStatus},
        lambda: _finish(model, change),
        on_repeat=lambda first: first | {"outcome": "duplicate"},
    )


def _finish(model: str, change: TransformJobStateChange) -> dict[str, Any]:
    job, status = change.TransformJobName, change.TransformJobStatus
    record = state.get_batch(model, job)
    if record is None:
        logger.info("transform job without a batch record", extra={"job": job})
        return {"outcome": "ignored", "job": job}
    now = datetime.now(UTC).isoformat()
    metrics.add_dimension(name="Model", value=model)
    if status == "Completed":
        state.update_batch(model, job, status="COMPLETED", finished_at=now)
        metrics.add_metric(name="BatchRowsPredicted", unit="Count", value=int(record.get("rows") or 0))
        logger.info("batch predictions written", extra={"job": job, "output_key": record.get("output_key")})
        return {"outcome": "completed", "job": job, "rows": record.get("rows"), "output_key": record.get("output_key")}
    reason = change.FailureReason or ("stopped" if status == "Stopped" else "SageMaker gave no reason")
    state.update_batch(model, job, status=status.upper(), finished_at=now, failure_reason=reason)
    metrics.add_metric(name="BatchJobsFailed", unit="Count", value=1)
    page(
        f"{model}: batch predictions {'stopped' if status == 'Stopped' else 'failed'}",
        {
            "What happened": f"The transform job of a batch file ended {status}; no predictions were written for it "
            "(SageMaker uploads no partial output).",
            "Model": model,
            "File": f"s3://{settings().data_bucket}/{record.get('file')}",
            "Job": job,
            "Why": reason,
            "What to do": "fix what the reason names (the job's log: /aws/sagemaker/TransformJobs), then drop the "
            "file again; see the runbook, 'Batch predictions failed'",
        },
        severity="info" if status == "Stopped" else "page",
        kind="batch-failed",
        model=model,
    )
    return {"outcome": status.lower(), "job": job, "reason": reason}
