"""The training throughput metric says its unit, and reads both spellings of train.py's log line."""

from __future__ import annotations

import re

from driftline.sagemaker_requests import TRAINING_METRICS


def _values(line: str) -> dict[str, float]:
    found = {}
    for definition in TRAINING_METRICS:
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    return found


def test_throughput_is_named_for_rows_times_rounds_per_second():
    names = {definition["Name"] for definition in TRAINING_METRICS}
    assert "train:row_rounds_per_second" in names
    assert "train:samples_per_second" not in names


def test_the_current_log_line_gives_throughput_and_rounds():
    assert _values("training_throughput samples_per_second=12345.6 rounds=20") == {
        "train:row_rounds_per_second": 12345.6,
        "train:rounds_completed": 20.0,
    }


def test_a_log_line_that_names_its_unit_gives_the_same_figures():
    assert _values("training_throughput row_rounds_per_second=12345.6 rows=617 rounds=20") == {
        "train:row_rounds_per_second": 12345.6,
        "train:rounds_completed": 20.0,
    }
