"""Labels dropped in `labels/<model>/*.csv` (`inference_id,<target>` per row): checked on upload, kept or quarantined.

The checks run once per S3 event (driftline.drops); a bad file is quarantined and paged like a training upload.
The scheduled quality job that reads the kept files is driftline.quality: the handlers that start or publish it
do not load this module, its upload and quarantine code (driftline.uploads, driftline.drops) or their models.
"""

from __future__ import annotations

import codecs
import csv
import math
from typing import Any, Literal

from driftline import state
from driftline.config import ModelConfig, ProblemType
from driftline.drops import DropFolder, DropOutcome, VersionGone, checked_config, handle_once, read_version
from driftline.errors import InvalidDataset, UnknownModel
from driftline.observability import logger, metrics
from driftline.quality import ID_COLUMN, LABELS, MAX_ID_CHARS
from driftline.uploads import Rejection, UploadedObject, quarantined

LABELS_FOLDER = DropFolder(
    prefix=LABELS,
    scope="labels",
    location="label files must be uploaded to labels/<model>/<file>.csv",
    unknown_model="labels need a model that exists",
    empty=f"expected a header {ID_COLUMN},{{target}} and rows",
)


class LabelsOutcome(DropOutcome):
    outcome: Literal["accepted", "quarantined", "duplicate", "ignored", "gone"]
    rows: int | None = None


def handle_labels(upload: UploadedObject, *, remaining_ms: int | None = None) -> LabelsOutcome:
    """Check a labels file once per S3 event: keep it (the quality job reads it) or quarantine it and page."""
    return handle_once(upload, LABELS_FOLDER, lambda budget: _process(upload), LabelsOutcome, remaining_ms=remaining_ms)


def _process(upload: UploadedObject) -> LabelsOutcome:
    model = LABELS_FOLDER.model_of(upload.key)
    try:
        config = checked_config(upload, LABELS_FOLDER, model)
        rows = read_version(upload, lambda body: _check_body(body, config))
    except (InvalidDataset, UnknownModel) as problem:
        return _quarantine(upload, model, problem)
    except VersionGone:
        return LabelsOutcome(outcome="gone", key=upload.key, model=model, reason="deleted before it was checked")
    logger.info("labels accepted", extra={"key": upload.key, "rows": rows})
    metrics.add_dimension(name="Model", value=config.name)
    metrics.add_metric(name="LabelsAccepted", unit="Count", value=rows)
    return LabelsOutcome(outcome="accepted", key=upload.key, model=config.name, rows=rows)


def _check_body(body: Any, config: ModelConfig) -> int:
    return check_labels_csv(_text_lines(body.iter_lines(keepends=True)), config, _known_classes(config))


def _text_lines(chunks: Any) -> Any:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for number, chunk in enumerate(chunks, start=1):
        try:
            yield decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise InvalidDataset(
                f"line {number} is not UTF-8 text; save the file as UTF-8 CSV", rule="encoding", line=number
            ) from exc


def _known_classes(config: ModelConfig) -> frozenset[str]:
    if config.problem_type is ProblemType.REGRESSION:
        return frozenset()
    return state.known_labels(config.name)[0]


def check_labels_csv(lines: Any, config: ModelConfig, classes: frozenset[str]) -> int:
    """The number of labelled rows; InvalidDataset naming the rule, line and column of the first problem.

    Header `inference_id,<target>`; ids of 1-64 printable characters (InvokeEndpoint's InferenceId), each
    once; labels a class the model was trained on (classification) or a finite number (regression).
    Messages never quote the file's cells.
    """
    expected = [ID_COLUMN, config.target]
    reader = csv.reader(lines)
    header = [cell.strip() for cell in next(reader, [])]
    if header != expected:
        raise InvalidDataset(
            f"the header must be exactly '{ID_COLUMN},{config.target}' (the inference id, then the model's target)",
            rule="header",
            line=1,
        )
    seen: set[str] = set()
    rows = 0
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise InvalidDataset(f"line {line} has {len(row)} fields; expected 2", rule="field-count", line=line)
        inference_id, label = row[0].strip(), row[1].strip()
        if not _valid_id(row[0]):
            raise InvalidDataset(
                f"line {line}: the inference id must be 1-{MAX_ID_CHARS} printable characters, as sent in "
                "InvokeEndpoint's InferenceId",
                rule="inference-id",
                line=line,
                column=1,
            )
        if inference_id in seen:
            raise InvalidDataset(
                f"line {line}: this inference id is labelled twice in the file; keep one label per id",
                rule="duplicate-id",
                line=line,
                column=1,
            )
        seen.add(inference_id)
        _check_label(label, line, config, classes)
        rows += 1
    if rows == 0:
        raise InvalidDataset("the file has a header but no labelled rows", rule="no-rows")
    return rows


def _valid_id(text: str) -> bool:
    """InvokeEndpoint's InferenceId: 1-64 printable characters, the first not a space (`\\A\\S[\\p{Print}]*\\z`)."""
    return 0 < len(text) <= MAX_ID_CHARS and text.isprintable() and not text[0].isspace() and text == text.strip()


def _check_label(label: str, line: int, config: ModelConfig, classes: frozenset[str]) -> None:
    if not label:
        raise InvalidDataset(f"line {line}: the label is empty", rule="missing-label", line=line, column=2)
    if config.problem_type is ProblemType.REGRESSION:
        try:
            number = float(label)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InvalidDataset(
                f"line {line}: a regression label must be a finite number", rule="label-type", line=line, column=2
            )
        return
    if classes and label not in classes:
        raise InvalidDataset(
            f"line {line}: the label is not one of the {len(classes)} classes model '{config.name}' was trained on",
            rule="unknown-class",
            line=line,
            column=2,
        )


LABELS_REJECTED = Rejection(
    what="labels",
    what_happened="A labels file was rejected and moved to quarantine; its labels are not used.",
    what_to_do=f"fix the file and upload it again under labels/<model>/ ({ID_COLUMN},<target> per row)",
    page_kind="labels-rejected",
    metric="LabelsQuarantined",
)


def _quarantine(upload: UploadedObject, model: str | None, problem: Exception) -> LabelsOutcome:
    """As a rejected upload: copied to quarantine/ with a .reason.json, paged, removed."""
    return quarantined(upload, model, problem, LABELS_REJECTED, LabelsOutcome)
