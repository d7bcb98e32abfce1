"""The drift monitor's capture reader: SageMaker data-capture files in, rows folded into summaries.

capture_files(root, start, end) picks the .jsonl files of one window; byte_blocks(files, size) streams
them in blocks of whole lines; decode_line / body_text / csv_rows / json_rows parse one record's
endpointInput as the endpoint would (MalformedRecord names the reason when it would not); `Window`
parses blocks (a vectorised fast path for the endpoint's own one-row CSV layout) and folds the rows into
a `monitor_stats.Columns`; read_window(capture_dir, window, block_bytes, span) does all of it.
Used by monitor.py (the entry point); see its docstring for the record formats.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import setup_logging
from monitor_stats import NA_TOKENS, Columns, Feature

log = setup_logging()

DEFAULT_BLOCK_BYTES = 4 * 1024 * 1024  # capture bytes parsed at a time (about 7,000 records of 600 bytes)
FOLD_ROWS = 50_000  # parsed rows folded into the summaries at a time (each fold has a fixed cost)
EXAMPLES = 5  # malformed records quoted in the log

# The endpoint's own capture layout for a CSV request (compact JSON, endpointInput first), read with numpy.
FAST_CSV_HEAD = b'{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
FAST_CSV_TAIL = b'","encoding":"CSV"}'
QUOTE_WINDOW = 256  # bytes searched with numpy for the end of a CSV body; longer bodies are searched one by one
CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"


class MalformedRecord(ValueError):
    """A capture record the endpoint would have rejected; `reason` is the key it is counted under."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def utc_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


CAPTURE_FILE_TIME = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-[^/]*\.jsonl$")


def capture_file_time(path: Path) -> datetime | None:
    """When a capture file's first record was taken: SageMaker names it `.../yyyy/mm/dd/hh/mm-ss-mmm-<uuid>.jsonl`.

    A file downloaded without its hour folders (an S3Prefix input's prefix is stripped) is timed by its
    first record's `eventMetadata.inferenceTime` instead; None when neither says.
    """
    match = CAPTURE_FILE_TIME.search(path.as_posix())
    if match:
        year, month, day, hour, minute, second, millis = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=timezone.utc)
    try:
        with path.open("rb") as handle:
            first = json.loads(handle.readline(1 << 20))
        return utc_time(str(first["eventMetadata"]["inferenceTime"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def capture_files(root: Path, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
    """The capture files below `root` whose first record falls in [start, end) (files with no time: all).

    A file belongs to the one window its first record falls in, so consecutive windows never count a
    record twice, even though their hour inputs overlap (docs/decisions.md, "Drift windows").
    """
    if root.is_file():
        return [root]
    if not root.is_dir():
        log.warning("no capture directory %s: treating the window as empty", root)
        return []
    found = []
    for path in sorted(root.rglob("*.jsonl")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        taken = capture_file_time(path)
        if taken is not None and ((start and taken < start) or (end and taken >= end)):
            continue
        found.append(path)
    return found


def byte_blocks(files: list[Path], size: int) -> Iterator[memoryview]:
    """The files' bytes in blocks of about `size`, each ending at a line end (a block may span files).

    Files are read straight into one reused buffer, so a block is only valid until the next is asked for.
    """
    buffer = bytearray(size)
    filled = 0
    for file in files:
        try:
            with open(file, "rb") as handle:
                while True:
                    if filled == len(buffer):  # one line longer than the buffer: a bigger buffer
                        grown = bytearray(2 * len(buffer))
                        grown[:filled] = buffer
                        buffer = grown
                    count = handle.readinto(memoryview(buffer)[filled:])
                    if not count:
                        break
                    filled += count
                    cut = buffer.rfind(b"\n", 0, filled) + 1
                    if filled < len(buffer) or not cut:
                        continue
                    yield memoryview(buffer)[:cut]
                    buffer[: filled - cut] = buffer[cut:filled]
                    filled -= cut
        except OSError as exc:
            log.warning("skipping the rest of unreadable capture file %s: %s", file, exc)
        if filled and buffer[filled - 1] != 10:  # the file's last line ends with the file
            if filled == len(buffer):
                buffer = buffer + b"\n"  # a new buffer: the last block handed out may still be referenced
            else:
                buffer[filled] = 10
            filled += 1
    if filled:
        yield memoryview(buffer)[:filled]


def decode_line(line: str) -> tuple[str, Any, str]:
    """(content type, data, encoding) of a capture line's endpointInput, via the json module."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise MalformedRecord("bad_json_line", f"not a JSON line ({exc})") from exc
    capture = record.get("captureData") if isinstance(record, dict) else None
    endpoint_input = capture.get("endpointInput") if isinstance(capture, dict) else None
    if not isinstance(endpoint_input, dict) or "data" not in endpoint_input:
        raise MalformedRecord("no_input_data", "no captureData.endpointInput.data (is input capture on?)")
    return (
        str(endpoint_input.get("observedContentType") or ""),
        endpoint_input["data"],
        str(endpoint_input.get("encoding") or "").upper(),
    )


def body_text(data: Any, encoding: str) -> str:
    if not isinstance(data, str):
        raise MalformedRecord("undecodable_data", f"data is a {type(data).__name__}, not a string")
    if encoding == "BASE64":
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedRecord("undecodable_data", f"data is not valid BASE64 ({exc})") from exc
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MalformedRecord("undecodable_data", f"BASE64 data is not UTF-8 text (byte {exc.start})") from exc
    if encoding not in ("CSV", "JSON", ""):
        raise MalformedRecord("undecodable_data", f"unknown encoding {encoding!r}")
    return data.removeprefix("\ufeff")


def csv_rows(text: str, width: int) -> list[list[str]]:
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise MalformedRecord("no_rows", "the request has no rows")
    for row in rows:
        if len(row) != width:
            raise MalformedRecord("wrong_column_count", f"a CSV row has {len(row)} columns, expected {width}")
    return rows


def json_rows(text: str, names: frozenset[str], width: int) -> list[Any]:
    try:
        payload = json.loads(text)
    except ValueError as exc:
        raise MalformedRecord("bad_json_body", f"the request body is not valid JSON ({exc})") from exc
    instances = payload.get("instances") if isinstance(payload, dict) else payload
    if not isinstance(instances, list):
        raise MalformedRecord("bad_json_body", 'a JSON request must be {"instances": [...]}')
    if not instances:
        raise MalformedRecord("no_rows", "the request has no rows")
    for row in instances:
        if isinstance(row, dict):
            if names.isdisjoint(row):
                raise MalformedRecord("bad_json_body", "a JSON row names none of the model's features")
        elif isinstance(row, list):
            if len(row) != width:
                raise MalformedRecord("wrong_column_count", f"a JSON row has {len(row)} values, expected {width}")
        else:
            raise MalformedRecord("bad_json_body", f"a JSON row is a {type(row).__name__}, not an object or a list")
    return instances


class Chunk:
    """Rows waiting to be folded into the summaries, by how they are turned into a frame."""

    def __init__(self) -> None:
        self.csv: list[bytes] = []  # newline-separated CSV rows without quotes: parsed by pandas in C
        self.csv_rows = 0
        self.lists: list[list[Any]] = []  # rows as values in feature order
        self.objects: list[dict[str, Any]] = []  # JSON rows keyed by name

    @property
    def rows(self) -> int:
        return self.csv_rows + len(self.lists) + len(self.objects)


def windows_equal(data: np.ndarray, offsets: np.ndarray, expected: bytes) -> np.ndarray:
    """Whether data[offset : offset + len(expected)] == expected, for each offset (vectorised)."""
    if not offsets.size:
        return np.zeros(0, dtype=bool)
    if data.size < len(expected):
        return np.zeros(offsets.size, dtype=bool)
    fits = offsets + len(expected) <= data.size
    views = np.lib.stride_tricks.sliding_window_view(data, len(expected))
    found = views[np.where(fits, offsets, 0)] == np.frombuffer(expected, dtype=np.uint8)
    return fits & found.all(axis=1)


def per_row(positions: np.ndarray, row_starts: np.ndarray, row_ends: np.ndarray) -> np.ndarray:
    """How many of the sorted `positions` fall in each [row_start, row_end)."""
    return np.searchsorted(positions, row_ends) - np.searchsorted(positions, row_starts)


def join_slices(buffer: bytes, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """buffer[start:end] for each pair, joined by newlines."""
    return b"\n".join([buffer[a:b] for a, b in zip(starts.tolist(), ends.tolist())])  # noqa: B905 - same length


def closing_quotes(data: np.ndarray, starts: np.ndarray, line_ends: np.ndarray) -> np.ndarray:
    """Position of the first '"' at or after each start and before its line end; -1 where there is none.

    Looks in a fixed window after each start with numpy; the few bodies longer than the window (or too
    near the end of the block for one) are searched one by one.
    """
    found = np.full(starts.size, -1, dtype=np.int64)
    width = QUOTE_WINDOW
    fits = np.flatnonzero(starts + width <= data.size)
    if fits.size:
        hits = np.lib.stride_tricks.sliding_window_view(data, width)[starts[fits]] == ord('"')
        first = hits.argmax(axis=1)
        seen = hits[np.arange(fits.size), first]
        found[fits[seen]] = starts[fits[seen]] + first[seen]
    for index in np.flatnonzero(found < 0).tolist():
        start = int(starts[index])
        hit = np.flatnonzero(data[start : int(line_ends[index])] == ord('"'))
        found[index] = start + int(hit[0]) if hit.size else -1
    found[found >= line_ends] = -1
    return found


class Window:
    """Everything learnt from the capture window."""

    def __init__(self, features: list[Feature], columns: Columns) -> None:
        self.features = features
        self.names = [f.name for f in features]
        self.name_set = frozenset(self.names)
        self.width = len(features)
        self.columns = columns
        self.capture_records = 0
        self.malformed: Counter[str] = Counter()
        self.examples: list[str] = []
        self.object_rows = 0
        self.absent: Counter[str] = Counter()  # feature -> JSON object rows without it
        self.extra: Counter[str] = Counter()  # unknown key -> JSON object rows with it
        self._dtypes = {f.name: "category" for f in features if not f.numeric}
        self._pending = Chunk()

    @property
    def records(self) -> int:
        return self.columns.rows

    def state(self) -> dict[str, Any]:
        """The window read so far, as JSON, for a merge of sharded windows (monitor.py --stage merge)."""
        self.finish()
        return {
            "capture_records": self.capture_records,
            "malformed": dict(self.malformed),
            "examples": self.examples,
            "object_rows": self.object_rows,
            "absent": dict(self.absent),
            "extra": dict(self.extra),
            "columns": self.columns.state(),
        }

    def absorb(self, state: dict[str, Any]) -> None:
        """Add another shard's window: counts and drift buckets merge exactly."""
        self.capture_records += int(state["capture_records"])
        self.malformed.update(state["malformed"])
        self.examples = (self.examples + list(state["examples"]))[:EXAMPLES]
        self.object_rows += int(state["object_rows"])
        self.absent.update(state["absent"])
        self.extra.update(state["extra"])
        self.columns.absorb(state["columns"])

    def add_block(self, block: bytes | memoryview) -> None:
        """Parse a block of whole capture lines; fold the rows in once FOLD_ROWS are waiting."""
        chunk = self._pending
        fast, others = self._split_fast(block)
        if fast:
            chunk.csv.append(fast)
            chunk.csv_rows += fast.count(b"\n")
        for line in others:
            if line.strip():
                self.add_line(chunk, line)
        if chunk.rows >= FOLD_ROWS:
            self.finish()

    def finish(self) -> None:
        """Fold every waiting row into the summaries."""
        chunk, self._pending = self._pending, Chunk()
        self._fold(chunk)

    def _split_fast(self, block: bytes | memoryview) -> tuple[bytes, list[str]]:
        """CSV bodies of lines in the endpoint's own layout, found with numpy; the other lines as text.

        A line is taken here when it is `{"captureData":{"endpointInput":{"observedContentType":"text/csv",
        "mode":"INPUT","data":"<body>","encoding":"CSV"}...}` and its body, free of escapes, is one
        non-blank row of the expected width; only endpointInput is read. Every other line (other layouts,
        BASE64, JSON bodies, anything malformed) goes through the json module in add_line.
        """
        block = bytes(block)  # slicing bytes is cheaper than slicing a memoryview
        data = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)  # every line ends with a newline (byte_blocks sees to that)
        starts = np.concatenate(([0], ends[:-1] + 1))
        last = np.maximum(ends - 1, 0)
        last = np.where((data[last] == 13) & (last > 0), last - 1, last)  # \r\n line ends
        lines = np.flatnonzero(windows_equal(data, starts, FAST_CSV_HEAD) & (data[last] == ord("}")))
        body_starts = starts[lines] + len(FAST_CSV_HEAD)
        body_ends = closing_quotes(data, body_starts, ends[lines])
        taken = (body_ends >= 0) & windows_equal(data, np.maximum(body_ends, 0), FAST_CSV_TAIL)
        lines, body_starts, body_ends = lines[taken], body_starts[taken], body_ends[taken]
        bodies = join_slices(block, body_starts, body_ends)
        rows = np.frombuffer(bodies, dtype=np.uint8)
        lengths = body_ends - body_starts
        row_starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])).astype(np.int64)
        row_ends = row_starts + lengths
        commas = per_row(np.flatnonzero(rows == ord(",")), row_starts, row_ends)
        escapes = per_row(np.flatnonzero((rows == ord("\\")) | (rows == ord('"'))), row_starts, row_ends)
        good = (commas == self.width - 1) & (escapes == 0)
        for row in np.flatnonzero(good & (row_ends - row_starts - commas < self.width)).tolist():
            # a short row: maybe only commas and blanks, which the endpoint rejects
            good[row] = bool(bodies[row_starts[row] : row_ends[row]].strip(b", \t"))
        if not good.all():  # rare: those lines take the slow path, which says what is wrong with them
            kept = np.flatnonzero(good)
            bodies = join_slices(bodies, row_starts[kept], row_ends[kept])
        fast = np.zeros(starts.size, dtype=bool)
        fast[lines[good]] = True
        self.capture_records += int(np.count_nonzero(good))
        others = [
            block[a:b].decode("utf-8", "replace").lstrip("\ufeff")
            for a, b in zip(starts[~fast].tolist(), ends[~fast].tolist())  # noqa: B905 - same length
        ]
        return (bodies + b"\n" if good.any() else b""), others

    def reject(self, error: MalformedRecord) -> None:
        self.malformed[error.reason] += 1
        if len(self.examples) < EXAMPLES:  # the reason only: captured data may be personal
            self.examples.append(f"{error.reason}: {error}")

    def add_line(self, chunk: Chunk, line: str) -> None:
        """One capture line the fast path did not take: decoded with the json module, then its body parsed."""
        self.capture_records += 1
        try:
            content_type, data, encoding = decode_line(line)
        except MalformedRecord as exc:
            self.reject(exc)
            return
        media = content_type.split(";")[0].strip().lower()
        try:
            if media == CSV_TYPE or (not media and encoding == "CSV"):
                chunk.lists.extend(csv_rows(body_text(data, encoding), self.width))
            elif media == JSON_TYPE or media.endswith("+json") or (not media and encoding == "JSON"):
                for row in json_rows(body_text(data, encoding), self.name_set, self.width):
                    (chunk.objects if isinstance(row, dict) else chunk.lists).append(row)
            else:
                raise MalformedRecord("unsupported_content_type", f"content type {content_type!r} is not CSV or JSON")
        except MalformedRecord as exc:
            self.reject(exc)

    def _fold(self, chunk: Chunk) -> None:
        if chunk.csv:
            rows = b"".join(chunk.csv)
            frame = self._read_csv(rows, chunk.csv_rows)
            if frame is None:  # the C reader saw the rows differently (stray control characters)
                text = rows.decode("utf-8", errors="replace")
                chunk.lists.extend(row.split(",") for row in text.split("\n") if row)
            else:
                self.columns.add(frame)
        if chunk.lists:
            self.columns.add(pd.DataFrame(chunk.lists, columns=self.names, dtype=object))
        if chunk.objects:
            self._count_keys(chunk.objects)
            self.columns.add(
                pd.DataFrame({name: [row.get(name) for row in chunk.objects] for name in self.names}, dtype=object)
            )

    def _read_csv(self, rows: bytes, count: int) -> pd.DataFrame | None:
        try:
            frame = pd.read_csv(
                io.BytesIO(rows),
                header=None,
                names=self.names,
                dtype=self._dtypes,
                keep_default_na=False,
                na_values=NA_TOKENS,
                encoding_errors="replace",
            )
        except (ValueError, pd.errors.ParserError):
            return None
        return frame if len(frame) == count else None

    def _count_keys(self, rows: list[dict[str, Any]]) -> None:
        self.object_rows += len(rows)
        for row in rows:
            if len(row) == self.width and self.name_set.issuperset(row):
                continue
            self.extra.update(key for key in row if key not in self.name_set)
            self.absent.update(name for name in self.names if name not in row)


def read_window(
    capture_dir: Path, window: Window, block_bytes: int, span: tuple[datetime | None, datetime | None] = (None, None)
) -> None:
    files = capture_files(capture_dir, *span)
    log.info("reading %d capture file(s) below %s", len(files), capture_dir)
    for number, block in enumerate(byte_blocks(files, block_bytes), start=1):
        window.add_block(block)
        if number % 20 == 0:
            log.info("... %d capture records read", window.capture_records)
    window.finish()
