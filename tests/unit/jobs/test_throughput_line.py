"""Jobs state their throughput with its unit, in a line the training job's metric definitions read."""

from __future__ import annotations

import logging
import re
from types import ModuleType

import pytest
from driftline.sagemaker_requests import TRAINING_METRICS


@pytest.fixture(scope="module")
def common(harness) -> ModuleType:
    return harness.load_job_module("_common")


def _metrics(line: str) -> dict[str, float]:
    found = {}
    for definition in TRAINING_METRICS:
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    return found


def test_the_training_line_names_its_unit_and_its_counts(common):
    value, line = common.throughput_line("training", "row_rounds", 14000 * 200, 60.5, rows=14000, rounds=200)
    assert line == "training_throughput row_rounds_per_second=46281.0 rows=14000 rounds=200 seconds=60.500"
    assert round(value, 1) == 46281.0


def test_the_training_metric_definitions_read_the_helpers_line(common):
    _, line = common.throughput_line("training", "row_rounds", 617 * 20, 0.5, rows=617, rounds=20)
    assert _metrics(line) == {"train:row_rounds_per_second": 24680.0, "train:rounds_completed": 20.0}


def test_a_processing_job_states_rows_per_second(common, caplog):
    log = logging.getLogger("driftline.jobs.test")
    with caplog.at_level(logging.INFO, logger="driftline.jobs.test"):
        value = common.log_throughput(log, "preprocess", "rows", 50000, 2.0, rows=50000)
    assert value == 25000.0
    assert caplog.messages == ["preprocess_throughput rows_per_second=25000.0 rows=50000 seconds=2.000"]


def test_nothing_done_or_no_time_is_zero_not_a_division_error(common):
    assert common.throughput_line("training", "row_rounds", 0, 1.0)[0] == 0.0
    assert common.throughput_line("training", "row_rounds", 100, 0.0)[0] == 0.0
