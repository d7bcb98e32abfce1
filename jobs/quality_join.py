"""quality.py's join: the window's captured predictions with their delayed labels, mergeable across capture shards.

Capture records carry `eventMetadata.inferenceId` and `captureData.endpointOutput` (inference.py's JSON or CSV
answer). A record without an id, or whose answer holds more than one row (a single id cannot name several
rows), cannot be joined and is counted by reason. Labels (`inference_id,<target>` files) are read first, then
the capture is streamed and only the labelled predictions are kept: memory is the labels plus the joined rows,
never the window's unlabelled traffic, which is only counted (per production variant).

A `Joined` adds up across capture shards without a global view, because the labels input is FullyReplicated
(every instance joins its own capture files against every label) and the capture input is ShardedByS3Key
(every capture file, hence every capture record, is read by exactly one instance):
- a label whose prediction is in another shard joins there, once; here it only sits unused in the label map;
- a prediction answered twice with the same inference id (two capture records) is two predictions in an
  unsharded run too, wherever the two records are: each is counted and joined where it is read;
- missing labels are predictions with an id minus joined rows, both plain sums over the shards;
- the joined rows are ordered by their capture position (the file's path below --capture-dir, then the line),
  which is the order an unsharded run reads them in: sorted, the merged rows are that very list, so the
  metrics, their summation order and the seeded bootstrap resamples are the same, to the last bit.
SageMaker keeps an S3Prefix input's key below the prefix as the local path on every instance, so a file has
the same path below --capture-dir whichever instance reads it. A merge refuses a capture file read by two
instances (the capture input was not ShardedByS3Key) and partials that saw different labels (the labels input
was not FullyReplicated): either would count predictions twice or join them wrongly.

The partial (`Joined.state`, JSON) holds: `captured_records`, `predictions_with_id` by variant ("" when the
capture path names none), `unjoinable_records` by reason, `files` (each capture file read: its path below
--capture-dir and its variant) and `rows`, one per labelled prediction:
`[file index, line, inference id, score, predicted label, probabilities, label]`.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from _common import BINARY, MULTICLASS, REGRESSION, JobInputError, clean_value, setup_logging
from monitor_capture import MalformedRecord, body_text, capture_files, utc_time

log = setup_logging()

ID_COLUMN = "inference_id"


class Prediction(NamedTuple):
    inference_id: str
    score: float | None  # binary: P(positive); regression: the value
    label: str | None  # classification: the predicted class
    probabilities: list[float] | None  # multiclass, in the classes' order (JSON answers only)
    variant: str | None = None  # the production variant that answered (from the capture file's path)


# --- captured predictions ---------------------------------------------------------------------------


def output_predictions(output: dict[str, Any], problem: str, classes: list[str]) -> list[Prediction]:
    """The predictions an endpointOutput holds (inference.py's JSON or CSV answer), without their id yet."""
    text = body_text(output.get("data"), str(output.get("encoding") or "").upper())
    media = str(output.get("observedContentType") or "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            items = json.loads(text).get("predictions")
        except (ValueError, AttributeError) as exc:
            raise MalformedRecord("bad_output", f"the answer is not inference.py's JSON ({exc})") from exc
        if not isinstance(items, list):
            raise MalformedRecord("bad_output", 'the JSON answer has no "predictions" list')
        return [_json_prediction(item, problem, classes) for item in items]
    if media == "text/csv":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return [_csv_prediction(line, problem) for line in lines]
    raise MalformedRecord("bad_output", f"answer content type {media!r} is neither JSON nor CSV")


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise MalformedRecord("bad_output", f"{value!r} is not a number") from exc
    if not math.isfinite(number):
        raise MalformedRecord("bad_output", f"{value!r} is not a finite number")
    return number


def _json_prediction(item: Any, problem: str, classes: list[str]) -> Prediction:
    if not isinstance(item, dict):
        raise MalformedRecord("bad_output", "a prediction is not an object")
    if problem == REGRESSION:
        return Prediction("", _number(item.get("value")), None, None)
    label = clean_value(item.get("label"))
    if problem == BINARY:
        return Prediction("", _number(item.get("score")), label, None)
    probabilities = item.get("probabilities")
    vector = [_number(probabilities.get(name, 0.0)) for name in classes] if isinstance(probabilities, dict) else None
    return Prediction("", None, label, vector)


def _csv_prediction(line: str, problem: str) -> Prediction:
    if problem == MULTICLASS:
        return Prediction("", None, clean_value(line), None)
    return Prediction("", _number(line), None, None)


def capture_variant(path: Path) -> str | None:
    """The variant of a capture file at `.../<variant>/yyyy/mm/dd/hh/<file>.jsonl` (SageMaker's layout), else None."""
    parts = path.parts
    if len(parts) < 6:
        return None
    hour = parts[-5:-1]
    if all(part.isdigit() for part in hour) and [len(part) for part in hour] == [4, 2, 2, 2]:
        return parts[-6]
    return None


# --- labels -----------------------------------------------------------------------------------------


class Labels(NamedTuple):
    by_id: dict[str, str]
    files: int
    conflicts: int  # ids labelled differently by two files (the later file, by name, wins)
    skipped_files: list[str]

    def counts(self) -> dict[str, Any]:
        """What the report says about the label files (and a merge checks every partial saw alike)."""
        return {
            "files": self.files,
            "conflicts": self.conflicts,
            "skipped_files": self.skipped_files,
            "ids": len(self.by_id),
        }


def read_labels(labels_dir: Path, target: str) -> Labels:
    """Every label file's `inference_id,<target>` rows; files were checked at upload (on_labels_uploaded)."""
    by_id: dict[str, str] = {}
    conflicts = 0
    files = 0
    skipped: list[str] = []
    paths = sorted(labels_dir.rglob("*.csv")) if labels_dir.is_dir() else []
    for path in paths:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [cell.strip() for cell in next(reader, [])]
            if header != [ID_COLUMN, target]:
                skipped.append(path.name)
                continue
            files += 1
            for row in reader:
                if len(row) != 2 or not row[0].strip():
                    continue
                label = clean_value(row[1])
                if label is None:
                    continue
                key = row[0].strip()
                if key in by_id and by_id[key] != label:
                    conflicts += 1
                by_id[key] = label
    if skipped:
        log.warning("label files without the header %s,%s were skipped: %s", ID_COLUMN, target, skipped[:5])
    return Labels(by_id, files, conflicts, skipped)


# --- the join ---------------------------------------------------------------------------------------

Position = tuple[tuple[str, ...], int]  # (the capture file's path parts below --capture-dir, line number)


class Joined:
    """The window's labelled predictions with their capture positions, and counts of everything else."""

    def __init__(self) -> None:
        self.records = 0  # capture records (non-blank lines)
        self.with_id: Counter[str] = Counter()  # predictions with an inference id, by variant ("": none named)
        self.unjoinable: Counter[str] = Counter()
        self.files: dict[str, str | None] = {}  # capture file (posix path below --capture-dir) -> its variant
        self.rows: list[tuple[Position, Prediction, str]] = []

    @property
    def predictions(self) -> int:
        return sum(self.with_id.values())

    def answered(self) -> Counter[str]:
        """Predictions with an id per named production variant."""
        return Counter({variant: count for variant, count in self.with_id.items() if variant})

    def joined(self) -> list[tuple[Prediction, str]]:
        """(prediction, label) in capture order: file path, then line, as an unsharded run reads them."""
        return [(prediction, label) for _, prediction, label in sorted(self.rows, key=lambda row: row[0])]

    def read(
        self,
        capture_dir: Path,
        problem: str,
        classes: list[str],
        span: tuple[str | None, str | None],
        labels: dict[str, str],
    ) -> None:
        """Stream the window's capture files below `capture_dir`; keep the predictions `labels` names."""
        start = utc_time(span[0]) if span[0] else None
        end = utc_time(span[1]) if span[1] else None
        for path in capture_files(capture_dir, start, end):
            name = path.name if path == capture_dir else path.relative_to(capture_dir).as_posix()
            variant = capture_variant(path)
            self.files[name] = variant
            parts = PurePosixPath(name).parts
            with path.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines):
                    if line.strip():
                        self._record(line, (parts, number), variant, problem, classes, labels)

    def _record(
        self,
        line: str,
        position: Position,
        variant: str | None,
        problem: str,
        classes: list[str],
        labels: dict[str, str],
    ) -> None:
        self.records += 1
        try:
            record = json.loads(line)
            metadata = record.get("eventMetadata") or {}
            output = (record.get("captureData") or {}).get("endpointOutput")
        except (ValueError, AttributeError):
            self.unjoinable["bad_json_line"] += 1
            return
        inference_id = metadata.get("inferenceId")
        if not inference_id:
            self.unjoinable["no_inference_id"] += 1
            return
        if not isinstance(output, dict):
            self.unjoinable["no_output_captured"] += 1
            return
        try:
            answered = output_predictions(output, problem, classes)
        except MalformedRecord as error:
            self.unjoinable[error.reason] += 1
            return
        if len(answered) != 1:
            self.unjoinable["several_rows_one_id"] += 1
            return
        self.with_id[variant or ""] += 1
        label = labels.get(str(inference_id))
        if label is not None:
            self.rows.append((position, answered[0]._replace(inference_id=str(inference_id), variant=variant), label))

    # -- a partial: one instance's share, as JSON --

    def state(self) -> dict[str, Any]:
        index = {name: k for k, name in enumerate(self.files)}
        return {
            "captured_records": self.records,
            "predictions_with_id": dict(sorted(self.with_id.items())),
            "unjoinable_records": dict(sorted(self.unjoinable.items())),
            "files": [{"path": name, "variant": variant} for name, variant in self.files.items()],
            "rows": [
                [index["/".join(parts)], line, p.inference_id, p.score, p.label, p.probabilities, label]
                for (parts, line), p, label in self.rows
            ],
        }

    def absorb(self, state: dict[str, Any], source: str) -> None:
        """Add another instance's share; a capture file may be in one share only."""
        files = [(str(entry["path"]), entry["variant"]) for entry in state["files"]]
        twice = sorted(name for name, _ in files if name in self.files)
        if twice:
            raise JobInputError(
                f"capture file {twice[0]} (and {len(twice) - 1} more) is in {source} and in another partial: each "
                "capture file must be read by one instance (the capture input's S3DataDistributionType "
                "ShardedByS3Key), else its predictions count twice"
            )
        self.records += int(state["captured_records"])
        self.with_id.update({str(k): int(v) for k, v in state["predictions_with_id"].items()})
        self.unjoinable.update({str(k): int(v) for k, v in state["unjoinable_records"].items()})
        self.files.update(files)
        paths = [PurePosixPath(name).parts for name, _ in files]
        for file, line, inference_id, score, label, probabilities, truth in state["rows"]:
            variant = files[file][1]
            prediction = Prediction(
                str(inference_id),
                None if score is None else float(score),
                None if label is None else str(label),
                None if probabilities is None else [float(p) for p in probabilities],
                None if variant is None else str(variant),
            )
            self.rows.append(((paths[file], int(line)), prediction, str(truth)))
