"""preprocess.py --train-files N: the train split as N non-empty files, one per training instance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from driftline_local.sample_data import generate_bank_marketing

from tests.unit.jobs.test_preprocess_sharded import assert_same, outputs, run_two_instances, shard_inputs


@pytest.fixture(scope="module")
def preprocess(harness):
    return harness.load_job_module("preprocess")


def rows_of(files: list[Path]) -> np.ndarray:
    frames = [pd.read_csv(f, header=None, dtype=float) for f in files]
    rows = pd.concat(frames).to_numpy()
    return rows[np.lexsort(rows.T[::-1])]


def test_the_train_split_is_n_disjoint_files_whose_union_is_the_one_file_split(tmp_path, harness, preprocess):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(2000, seed=11), files=2)

    one = preprocess.preprocess(config, everything, tmp_path / "one", 7)
    three = preprocess.preprocess(config, everything, tmp_path / "three", 7, train_files=3)

    files = sorted((tmp_path / "three" / "train").iterdir())
    assert [f.name for f in files] == ["train-algo-1-f001-0000.csv", "train-algo-1-f002-0000.csv", "train.csv"]
    sizes = [len(pd.read_csv(f, header=None)) for f in files]
    assert min(sizes) > 0.25 * three["rows"]["train"]  # dealt by key: about a third each
    # disjoint and complete: the files' rows together are exactly the one-file split's rows
    assert np.array_equal(rows_of(files), outputs(tmp_path / "one")["splits"]["train"])
    assert sum(sizes) == one["rows"]["train"]
    # validation, test, the preprocessor and the baseline do not change
    assert_same(outputs(tmp_path / "one"), outputs(tmp_path / "three"))


def test_the_files_are_the_same_on_every_run(tmp_path, harness, preprocess):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(800, seed=12), files=2)

    preprocess.preprocess(config, everything, tmp_path / "a", 7, train_files=2)
    preprocess.preprocess(config, everything, tmp_path / "b", 7, train_files=2, chunk_rows=61)

    for name in ("train.csv", "train-algo-1-f001-0000.csv"):
        assert (tmp_path / "a" / "train" / name).read_text() == (tmp_path / "b" / "train" / name).read_text()


def test_each_file_rolls_over_at_shard_rows(tmp_path, harness, preprocess, monkeypatch):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(2000, seed=9), files=1)
    monkeypatch.setattr(preprocess, "SHARD_ROWS", 300)

    pre = preprocess.preprocess(config, everything, tmp_path / "out", 7, chunk_rows=128, train_files=2)

    names = {p.name for p in (tmp_path / "out" / "train").iterdir()}
    assert {
        "train.csv",
        "train-algo-1-f000-0001.csv",
        "train-algo-1-f001-0000.csv",
        "train-algo-1-f001-0001.csv",
    } <= names
    sizes = [len(pd.read_csv(tmp_path / "out" / "train" / n, header=None)) for n in names]
    assert max(sizes) <= 300 and sum(sizes) == pre["rows"]["train"]


def test_few_train_rows_still_fill_every_file(tmp_path, harness, preprocess):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(40, seed=3), files=1)

    pre = preprocess.preprocess(config, everything, tmp_path / "out", 7, train_files=12)

    files = sorted((tmp_path / "out" / "train").iterdir())
    sizes = [len(pd.read_csv(f, header=None)) for f in files]
    assert len(files) == 12 and min(sizes) > 0  # dealing 40 * 0.7 rows by key alone leaves some of 12 empty
    assert sum(sizes) == pre["rows"]["train"]
    preprocess.preprocess(config, everything, tmp_path / "one", 7)
    assert np.array_equal(rows_of(files), outputs(tmp_path / "one")["splits"]["train"])  # rows moved, none lost


def test_fewer_train_rows_than_instances_is_a_clear_error(tmp_path, harness, preprocess):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(40, seed=3), files=1)

    with pytest.raises(
        preprocess.JobInputError, match=r"fewer than the 100 training instances \(training.instance_count\)"
    ):
        preprocess.preprocess(config, everything, tmp_path / "out", 7, train_files=100)


def test_two_processing_instances_each_write_their_n_way_share(tmp_path, harness, preprocess):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, hosts = shard_inputs(tmp_path, generate_bank_marketing(3000, seed=5))

    preprocess.preprocess(config, everything, tmp_path / "single", 7)
    run_two_instances(preprocess, config, hosts, tmp_path, train_files=2)

    assert {p.name for p in (tmp_path / "merged" / "train").iterdir()} == {
        "train.csv",
        "train-algo-1-f001-0000.csv",
        "train-algo-2-f000-0000.csv",
        "train-algo-2-f001-0000.csv",
    }
    assert_same(outputs(tmp_path / "single"), outputs(tmp_path / "merged"))


def test_the_command_line_takes_train_files(preprocess):
    assert preprocess.parse_args(["--train-files", "4"]).train_files == 4
    assert preprocess.parse_args([]).train_files == 1
    with pytest.raises(SystemExit):
        preprocess.parse_args(["--train-files", "0"])
