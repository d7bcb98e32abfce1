"""evaluate.py's memory: what it keeps per test chunk is the labels and predictions, not the chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_the_labels_kept_from_each_test_chunk_do_not_hold_the_chunk(tmp_path: Path, harness) -> None:
    evaluate = harness.load_job_module("evaluate")
    # Given an encoded test split (label first, then the features)
    rows = np.arange(400, dtype=float).reshape(100, 4)
    (tmp_path / "test").mkdir()
    np.savetxt(tmp_path / "test" / "test.csv", rows, delimiter=",", fmt="%g")

    # When it is read in chunks of 10 rows
    chunks = list(evaluate.test_chunks(tmp_path / "test", 10))

    # Then each chunk's labels own their memory: a view would keep the chunk's whole matrix alive for as long as
    # evaluate keeps the labels (all of the test split's rows, at 10M rows about 760 MB)
    assert len(chunks) == 10
    assert all(labels.flags.owndata for labels, _ in chunks)
    assert np.array_equal(np.concatenate([labels for labels, _ in chunks]), rows[:, 0])
