"""Checks on an uploaded CSV, made on the whole file as a stream (pure: no AWS here).

The file arrives as chunks of bytes (an S3 body's `iter_chunks`); it is decoded incrementally, cut
into physical lines and parsed by `csv.reader`, so memory is bounded by one line plus the rows awaiting
their numeric count (at most 65,536 cells and one longest line's characters), and time is linear in the
file's size (no sniffing heuristics: `csv.Sniffer` is quadratic on unbalanced quotes). A time budget ends
the check with a reason instead of a Lambda timeout.

What is checked is what would make the preprocessing job fail or train on the wrong thing: encoding,
the header, every row's field count, numeric features, and the labels against the problem type and
the labels the model has already seen (jobs/preprocess.py compares labels as stripped text).

Reasons name the file's line, the column's position and the rule. They never quote the data: no cell
values, and no column names except those of the model's config (target, features, drop_columns),
shown sanitised; a header is data too when a file is hostile.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter

from driftline.config import Feature, ModelConfig, ProblemType
from driftline.errors import InvalidDataset

CHUNK_BYTES = 1024 * 1024
MAX_LINE_CHARS = 1024 * 1024  # one physical line; a file without line breaks stops here
MAX_FIELD_CHARS = csv.field_size_limit()  # 131072: csv refuses longer fields (an unbalanced quote eats lines)
MAX_COLUMNS = 1000
MAX_COLUMN_NAME_CHARS = 128
MAX_LABEL_CHARS = 128
MAX_CLASSES = 1000
NUMERIC_SHARE = 0.95  # as jobs/preprocess.py: a feature is numeric when >= 95 % of present values parse
MISSING = frozenset({"", "na", "nan", "null", "none", "?"})  # jobs/_common.py MISSING_TOKENS
_CHECK_CLOCK_EVERY_ROWS = 512
_TALLY_CELLS = 65536  # cells (rows x columns) whose numeric-tracked ones are counted together, at most
_TALLY_CHARS = MAX_LINE_CHARS  # and at most one longest line's characters beyond the first row: memory stays bounded
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9 _.\-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class ColumnStats:
    present: int = 0
    non_numeric: int = 0
    first_non_numeric_line: int | None = None


@dataclass
class DatasetReport:
    """What the check learnt from a valid file: enough to re-check it against a newer config or labels."""

    header: list[str]
    rows: int = 0
    lines: int = 0
    columns: dict[int, ColumnStats] = field(default_factory=dict)  # the numeric-tracked columns
    labels: dict[str, int] = field(default_factory=dict)  # classification: label -> first line it is on
    target_column: int = 0

    def inferred_features(self, config: ModelConfig) -> list[Feature]:
        """Feature names and types (numeric if >= 95 % of present values parse), in header order."""
        skip = {config.target, *config.drop_columns}
        features = []
        for i, name in enumerate(self.header):
            if name in skip:
                continue
            stats = self.columns.get(i, ColumnStats())
            numeric = stats.present > 0 and stats.non_numeric <= (1 - NUMERIC_SHARE) * stats.present
            features.append(Feature(name=name, type="numeric" if numeric else "categorical"))
        return features


def validate_csv(
    chunks: Iterable[bytes],
    config: ModelConfig,
    *,
    known_labels: frozenset[str] = frozenset(),
    budget_seconds: float = math.inf,
    clock: Callable[[], float] = time.monotonic,
) -> DatasetReport:
    """Read the whole file and raise InvalidDataset at the first problem; return what was learnt."""
    lines = _Lines(chunks, budget_seconds, clock)
    reader = csv.reader(lines)
    header_row = _first_row(reader, lines)
    header = _check_header(header_row)
    target = _check_columns(header, config)
    report = DatasetReport(header=header, target_column=target)
    names = _config_names(config)
    if config.features is None:
        tracked = [i for i, name in enumerate(header) if name not in {config.target, *config.drop_columns}]
    else:
        numeric = {f.name for f in config.features if f.type == "numeric"}
        tracked = [i for i, name in enumerate(header) if name in numeric]
    report.columns = {i: ColumnStats() for i in tracked}
    tally = _NumericTally(report.columns, max_rows=max(1, min(1024, _TALLY_CELLS // len(header))))
    classification = config.problem_type is not ProblemType.REGRESSION
    canonical = {_canonical(label): label for label in known_labels}
    width, present_targets, record_end = len(header), 0, reader.line_num
    try:
        for row in reader:
            line, record_end = record_end + 1, reader.line_num  # a quoted field may span lines: name the first
            if not row:
                continue  # a blank line
            report.rows += 1
            if report.rows % _CHECK_CLOCK_EVERY_ROWS == 0:
                lines.check_clock(line)
            if len(row) != width:
                raise InvalidDataset(
                    f"line {line} has {len(row)} fields but the header has {width}; "
                    "check for unquoted commas or missing values",
                    rule="field-count",
                    line=line,
                )
            tally.add(row, line, lines.chars)
            value = row[target].strip()
            if value.lower() in MISSING:
                continue
            present_targets += 1
            if not classification:
                if not _is_number(value):
                    raise InvalidDataset(
                        f"line {line}, {_column(target, header, names)}: the target is not a number; "
                        "regression needs a numeric target in every labelled row",
                        rule="target-not-numeric",
                        line=line,
                        column=target + 1,
                    )
            elif value not in report.labels:
                if value not in known_labels:
                    count = len(known_labels | set(report.labels)) + 1
                    _check_new_label(value, line, target, header, names, config, canonical, count)
                    canonical.setdefault(_canonical(value), value)
                report.labels[value] = line
    except csv.Error as exc:
        raise _malformed(exc, record_end + 1) from None
    tally.flush()
    report.lines = reader.line_num
    if report.rows == 0:
        raise InvalidDataset(
            "the file has a header but no examples; add at least one labelled row", rule="no-rows", line=1
        )
    if present_targets == 0:
        raise InvalidDataset(
            f"the target {_column(target, header, names)} is empty in every row; label the examples",
            rule="no-labels",
            column=target + 1,
        )
    check_numeric(report, config)
    check_labels(report, config, known_labels)
    return report


def check_numeric(report: DatasetReport, config: ModelConfig) -> None:
    """Numeric features whose non-numeric share would make the job read them as text."""
    if config.features is None:
        return
    names = _config_names(config)
    index = {name: i for i, name in enumerate(report.header)}
    for feature in config.features:
        i = index.get(feature.name)
        if feature.type != "numeric" or i is None:
            continue
        stats = report.columns.get(i)
        if stats is None or stats.non_numeric <= (1 - NUMERIC_SHARE) * max(stats.present, 1):
            continue
        line = stats.first_non_numeric_line
        raise InvalidDataset(
            f"line {line}, {_column(i, report.header, names)}: numeric feature '{_shown(feature.name)}' has "
            f"non-numeric values in {stats.non_numeric} of {stats.present} rows (more than "
            f"{round((1 - NUMERIC_SHARE) * 100)} %); fix the values or declare the feature categorical in model.yaml",
            rule="numeric-feature",
            line=line,
            column=i + 1,
        )


def check_labels(report: DatasetReport, config: ModelConfig, known: frozenset[str]) -> None:
    """The file's labels against the problem type and the labels the model has seen before."""
    if config.problem_type is ProblemType.REGRESSION:
        return
    header, target, names = report.header, report.target_column, _config_names(config)
    canonical = {_canonical(label): label for label in known}
    seen = set(known)
    for label, line in sorted(report.labels.items(), key=lambda item: item[1]):
        if label in seen:
            continue
        seen.add(label)
        _check_new_label(label, line, target, header, names, config, canonical, len(seen))
        canonical.setdefault(_canonical(label), label)
    if known:
        return
    where = _column(target, header, names)
    if len(report.labels) < 2:
        raise InvalidDataset(
            f"the first data of model '{config.name}' has a single class in the target {where}; "
            "classification needs at least two: upload data with every class first",
            rule="single-class",
            column=target + 1,
        )
    if config.positive_class is not None and config.positive_class not in report.labels:
        raise InvalidDataset(
            f"the first data of model '{config.name}' has no row of positive_class in the target {where}; "
            "upload data with both classes first",
            rule="no-positive-class",
            column=target + 1,
        )


def check_columns(report: DatasetReport, config: ModelConfig) -> None:
    """The header against a config that may have changed since the file was read (a race on features)."""
    _check_columns(report.header, config)
    check_numeric(report, config)


def _check_new_label(
    label: str,
    line: int,
    target: int,
    header: list[str],
    names: set[str],
    config: ModelConfig,
    canonical: dict[str, str],
    count: int,
) -> None:
    where = f"line {line}, {_column(target, header, names)}"
    if len(label) > MAX_LABEL_CHARS or _CONTROL.search(label):
        raise InvalidDataset(
            f"{where}: a label longer than {MAX_LABEL_CHARS} characters or with control "
            "characters; is this the label column?",
            rule="label-format",
            line=line,
            column=target + 1,
        )
    if _canonical(label) in canonical:
        raise InvalidDataset(
            f"{where}: a label that differs from an earlier one only in case, spaces or number format "
            "(labels are compared as text, so 1 and 1.0, or Yes and yes, would be different classes); "
            "spell each class the same way in every file",
            rule="label-variant",
            line=line,
            column=target + 1,
        )
    if config.problem_type is ProblemType.BINARY and config.positive_class is None and count > 2:
        raise InvalidDataset(
            f"{where}: a third distinct label (counting the model's earlier data); binary_classification takes "
            "two classes: fix the labels, set positive_class to treat the others as negative, or use "
            "multiclass_classification",
            rule="label-count",
            line=line,
            column=target + 1,
        )
    if count > MAX_CLASSES:
        raise InvalidDataset(
            f"{where}: more than {MAX_CLASSES} distinct labels; is this the label column?",
            rule="label-count",
            line=line,
            column=target + 1,
        )


class _Lines:
    """Physical lines of a UTF-8 byte stream, bounded in length, with the clock checked as it goes."""

    def __init__(self, chunks: Iterable[bytes], budget_seconds: float, clock: Callable[[], float]) -> None:
        self._chunks = iter(chunks)
        self._budget = budget_seconds
        self._clock = clock
        self._deadline = clock() + budget_seconds
        self.line = 1
        self.chars = 0  # characters of the lines handed out so far
        self._iterator = self._lines()

    def __iter__(self) -> Iterator[str]:
        return self._iterator  # csv.reader pulls from the generator itself: no Python call per line in between

    def __next__(self) -> str:
        return next(self._iterator)

    def check_clock(self, line: int) -> None:
        if self._clock() > self._deadline:
            raise InvalidDataset(
                f"the file could not be checked within {self._budget:g} s (stopped at line {line}); "
                "split it into smaller files (a few hundred MB each) and upload those",
                rule="time-budget",
                line=line,
            )

    def _lines(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        pending, offset = "", 0
        for chunk in self._chunks:
            self.check_clock(self.line)
            if b"\x00" in chunk:
                raise InvalidDataset(
                    "the file is binary or UTF-16 (it contains NUL bytes); upload a plain-text UTF-8 CSV",
                    rule="binary",
                    line=self.line,
                )
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise self._not_utf8(offset + exc.start) from None
            offset += len(chunk)
            start = 0
            while (end := text.find("\n", start)) >= 0:
                if pending:
                    line, pending = pending + text[start : end + 1], ""
                else:
                    line = text[start : end + 1]
                if len(line) > MAX_LINE_CHARS:
                    raise self._too_long()
                self.chars += len(line)
                yield line
                self.line += 1
                start = end + 1
            pending += text[start:]
            if len(pending) > MAX_LINE_CHARS:
                raise self._too_long()
        try:
            pending += decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise self._not_utf8(offset) from None
        if pending:
            self.chars += len(pending)
            yield pending

    def _too_long(self) -> InvalidDataset:
        return InvalidDataset(
            f"line {self.line} is longer than {MAX_LINE_CHARS} characters; is this a CSV with one row per line?",
            rule="line-length",
            line=self.line,
        )

    def _not_utf8(self, byte: int) -> InvalidDataset:
        return InvalidDataset(
            f"the file is not UTF-8 text (byte {byte}, line {self.line}); save it as UTF-8 CSV",
            rule="encoding",
            line=self.line,
        )


def _first_row(reader: Iterator[list[str]], lines: _Lines) -> list[str]:
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                return row
    except csv.Error as exc:
        raise _malformed(exc, lines.line) from None
    raise InvalidDataset(
        "the file is empty; upload a CSV with a header row and at least one example", rule="empty", line=1
    )


def _check_header(row: list[str]) -> list[str]:
    header = [name.strip() for name in row]
    if len(header) == 1:
        for delimiter, called in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if delimiter in header[0]:
                raise InvalidDataset(
                    f"the file is separated by {called}, not commas; export it as comma-separated CSV",
                    rule="delimiter",
                    line=1,
                )
        raise InvalidDataset(
            "the header has fewer than two columns; is this a CSV with a header row?", rule="header", line=1
        )
    if len(header) > MAX_COLUMNS:
        raise InvalidDataset(f"the header has {len(header)} columns, more than {MAX_COLUMNS}", rule="header", line=1)
    for i, name in enumerate(header):
        if not name:
            raise InvalidDataset(
                f"column {i + 1} of the header has no name; name every column", rule="header", line=1, column=i + 1
            )
        if len(name) > MAX_COLUMN_NAME_CHARS or _CONTROL.search(name):
            raise InvalidDataset(
                f"the name of column {i + 1} is longer than {MAX_COLUMN_NAME_CHARS} characters "
                "or has control characters",
                rule="header",
                line=1,
                column=i + 1,
            )
    first: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in first:
            raise InvalidDataset(
                f"the header repeats a column name (columns {first[name] + 1} and {i + 1}); names must be unique",
                rule="header",
                line=1,
                column=i + 1,
            )
        first[name] = i
    if all(_is_number(name) for name in header):
        raise InvalidDataset("the first row is all numbers: the file has no header row; add one", rule="header", line=1)
    return header


def column_problems(header: list[str], features: list[str], allowed: set[str]) -> tuple[list[str], list[int]]:
    """What is wrong with a header that must hold `features` and nothing outside `allowed`: the problems in
    words (missing features, unexpected columns by position), and the 1-based positions of unexpected columns."""
    present = set(header)
    missing = [name for name in features if name not in present]
    unexpected = [i + 1 for i, name in enumerate(header) if name not in allowed]
    problems = []
    if missing:
        problems.append(f"missing feature column(s) {', '.join(_shown(n) for n in missing)}")
    if unexpected:
        shown = ", ".join(str(p) for p in unexpected[:10]) + (" …" if len(unexpected) > 10 else "")
        problems.append(f"unexpected column(s) at position(s) {shown}")
    return problems, unexpected


def _check_columns(header: list[str], config: ModelConfig) -> int:
    """The target's index; raises if the columns contradict the model's schema."""
    index = {name: i for i, name in enumerate(header)}
    if config.target not in index:
        raise InvalidDataset(
            f"the header has no target column '{_shown(config.target)}' (model '{config.name}')",
            rule="target-column",
            line=1,
        )
    if config.features is not None:
        allowed = {f.name for f in config.features} | {config.target} | set(config.drop_columns)
        problems, unexpected = column_problems(header, [f.name for f in config.features], allowed)
        if problems:
            raise InvalidDataset(
                f"the columns contradict model '{config.name}': {'; '.join(problems)}. "
                "Fix the file, or upload a new models/<model>/model.yaml that lists the new features",
                rule="columns",
                line=1,
                column=unexpected[0] if unexpected else None,
            )
    return index[config.target]


def _malformed(exc: csv.Error, line: int) -> InvalidDataset:
    text = str(exc)
    if "field larger than field limit" in text:
        return InvalidDataset(
            f"line {line}: a field is longer than {MAX_FIELD_CHARS} characters, often a quote "
            "that opens a field and never closes; check the quoting",
            rule="field-size",
            line=line,
        )
    if "new-line character" in text:
        return InvalidDataset(
            f"line {line}: a bare carriage return inside a field; save the file with \\n or \\r\\n line endings",
            rule="line-endings",
            line=line,
        )
    return InvalidDataset(f"line {line}: the CSV is malformed ({text[:120]})", rule="malformed", line=line)


def _config_names(config: ModelConfig) -> set[str]:
    return {config.target, *config.drop_columns, *(f.name for f in config.features or [])}


def _column(i: int, header: list[str], names: set[str]) -> str:
    name = header[i] if i < len(header) else None
    return f"column {i + 1} ('{_shown(name)}')" if name in names and name is not None else f"column {i + 1}"


def _shown(name: str) -> str:
    """A config's column name as pages show it: safe characters only, at most 40."""
    safe = _UNSAFE_NAME.sub("?", name)
    return safe if len(safe) <= 40 else safe[:39] + "…"


def _canonical(label: str) -> str:
    text = label.strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return repr(number) if math.isfinite(number) else text


class _NumericTally:
    """Each tracked column's present and non-numeric cells, counted a block of rows at a time: a column holds
    few distinct cells per block (categories, repeated numbers), so each is classified once per block rather
    than once per row (the per-cell loop was most of the check's CPU)."""

    def __init__(self, columns: dict[int, ColumnStats], max_rows: int) -> None:
        self.columns = columns
        self.max_rows = max_rows
        self.rows: list[list[str]] = []
        self.lines: list[int] = []
        self._chars_at_start: int | None = None  # characters read when the block's first row was added

    def add(self, row: list[str], line: int, chars_read: int) -> None:
        self.rows.append(row)
        self.lines.append(line)
        if self._chars_at_start is None:
            self._chars_at_start = chars_read
        if len(self.rows) >= self.max_rows or chars_read - self._chars_at_start >= _TALLY_CHARS:
            self.flush()

    def flush(self) -> None:
        for i, stats in self.columns.items():
            text_cells = set()
            for cell, count in Counter(map(itemgetter(i), self.rows)).items():
                value = cell.strip()
                if value.lower() in MISSING:
                    continue
                stats.present += count
                if not _is_number(value):
                    stats.non_numeric += count
                    text_cells.add(cell)
            if text_cells and stats.first_non_numeric_line is None:
                stats.first_non_numeric_line = next(
                    line for row, line in zip(self.rows, self.lines, strict=True) if row[i] in text_cells
                )
        self.rows.clear()
        self.lines.clear()
        self._chars_at_start = None


def _is_number(value: str) -> bool:
    # float() takes a leading letter only in inf/nan spellings, never finite: a category skips the exception,
    # which was most of the upload check's CPU on categorical columns
    if value[:1].isalpha():
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False
