"""Checks on an uploaded CSV, made on its first bytes (pure: no AWS here).

The whole file is read by the preprocessing job; here we catch what would make that job fail or
train on the wrong thing, and say so in words a person can act on.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from driftline.config import Feature, ModelConfig
from driftline.errors import InvalidDataset

SAMPLE_BYTES = 256 * 1024
_NUMERIC_SHARE = 0.95
_MISSING = {"", "na", "nan", "null", "none", "?"}


@dataclass(frozen=True)
class CsvSample:
    header: list[str]
    rows: list[list[str]]


def read_sample(head: bytes, *, complete: bool) -> CsvSample:
    """Parse the first bytes of a CSV upload. `complete` says the head is the whole file."""
    if not head.strip():
        raise InvalidDataset("the file is empty; upload a CSV with a header row and at least one example")
    if b"\x00" in head:
        raise InvalidDataset("the file is binary (it contains NUL bytes); upload a plain-text CSV")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if complete or exc.start < len(head) - 4:  # a multi-byte character cut at the sample edge is fine
            raise InvalidDataset(f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from exc
        text = head[: exc.start].decode("utf-8-sig")
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of a partial read may be cut short
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    if delimiter != ",":
        raise InvalidDataset(
            f"the file is separated by {delimiter!r}, not commas; export it as comma-separated CSV"
        )
    rows = [row for row in csv.reader(lines) if row]
    if not rows:
        raise InvalidDataset("the file is empty; upload a CSV with a header row and at least one example")
    header = [name.strip() for name in rows[0]]
    if len(header) < 2:
        raise InvalidDataset("the header has fewer than two columns; is this a CSV with a header row?")
    if any(not name for name in header):
        raise InvalidDataset("the header has an empty column name; name every column")
    if len(set(header)) != len(header):
        dupes = sorted({n for n in header if header.count(n) > 1})
        raise InvalidDataset(f"the header repeats column(s) {', '.join(dupes)}; names must be unique")
    if _looks_numeric_row(header):
        raise InvalidDataset("the first row is all numbers: the file has no header row; add one")
    body = rows[1:]
    if not body:
        raise InvalidDataset("the file has a header but no examples; add at least one labelled row")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise InvalidDataset(
                f"line {number} has {len(row)} fields but the header has {len(header)}; "
                "check for unquoted commas or missing values"
            )
    return CsvSample(header=header, rows=body)


def check_against_config(sample: CsvSample, config: ModelConfig) -> None:
    """Raise InvalidDataset if the columns contradict the model's schema."""
    columns = set(sample.header)
    if config.target not in columns:
        raise InvalidDataset(
            f"the header has no target column '{config.target}' (model '{config.name}'); "
            f"columns found: {', '.join(sample.header)}"
        )
    if config.features is None:
        return
    expected = {f.name for f in config.features}
    missing = sorted(expected - columns)
    unexpected = sorted(columns - expected - {config.target} - set(config.drop_columns))
    problems = []
    if missing:
        problems.append(f"missing feature column(s) {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected column(s) {', '.join(unexpected)}")
    if problems:
        raise InvalidDataset(
            f"the columns contradict model '{config.name}': {'; '.join(problems)}. "
            "Fix the file, or upload a new models/<model>/model.yaml that lists the new features"
        )
    index = {name: i for i, name in enumerate(sample.header)}
    for feature in config.features:
        if feature.type != "numeric":
            continue
        values = [row[index[feature.name]].strip() for row in sample.rows]
        bad = [v for v in values if v.lower() not in _MISSING and not _is_number(v)]
        if len(bad) > (1 - _NUMERIC_SHARE) * max(len(values), 1):
            raise InvalidDataset(
                f"numeric feature '{feature.name}' has non-numeric values such as {bad[0]!r}; "
                "fix the values or declare the feature categorical in model.yaml"
            )
    labels = [row[index[config.target]].strip() for row in sample.rows]
    if all(label.lower() in _MISSING for label in labels):
        raise InvalidDataset(f"the target column '{config.target}' is empty in every sampled row")


def infer_features(sample: CsvSample, config: ModelConfig) -> list[Feature]:
    """Feature names and types from the first data: numeric if ≥95 % of present values parse."""
    features = []
    skip = {config.target, *config.drop_columns}
    for i, name in enumerate(sample.header):
        if name in skip:
            continue
        present = [row[i].strip() for row in sample.rows if row[i].strip().lower() not in _MISSING]
        numeric = bool(present) and sum(_is_number(v) for v in present) >= _NUMERIC_SHARE * len(present)
        features.append(Feature(name=name, type="numeric" if numeric else "categorical"))
    return features


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _looks_numeric_row(row: list[str]) -> bool:
    return all(_is_number(v) for v in row if v.strip())
