"""preprocess.py at any size: chunked reading equals one read, and two instances' merged statistics equal one's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from driftline_local.sample_data import generate_bank_marketing, generate_regression, write_csv


@pytest.fixture(scope="module")
def preprocess(harness):
    return harness.load_job_module("preprocess")


def shard_inputs(root: Path, data: pd.DataFrame, files: int = 4) -> tuple[Path, dict[str, Path]]:
    """The data as `files` CSVs in one directory, and the same files dealt to two hosts (as ShardedByS3Key does)."""
    everything = root / "all"
    hosts = {"algo-1": root / "algo-1", "algo-2": root / "algo-2"}
    for number, part in enumerate(np.array_split(np.arange(len(data)), files)):
        name = f"part-{number}.csv"
        write_csv(data.iloc[part], everything / name)
        write_csv(data.iloc[part], hosts["algo-1" if number % 2 == 0 else "algo-2"] / name)
    return everything, hosts


def outputs(root: Path) -> dict[str, object]:
    """What a run leaves: preprocessor.json, the baseline, and each split's rows (as a sorted multiset)."""
    splits = {}
    for split in ("train", "validation", "test"):
        frames = [pd.read_csv(f, header=None, dtype=float) for f in sorted((root / split).glob("*.csv"))]
        rows = pd.concat(frames).to_numpy() if frames else np.zeros((0, 0))
        splits[split] = rows[np.lexsort(rows.T[::-1])] if rows.size else rows
    return {
        "preprocessor": json.loads((root / "preprocessor" / "preprocessor.json").read_text()),
        "baseline": pd.read_csv(root / "baseline" / "baseline.csv", dtype=str, keep_default_na=False),
        "splits": splits,
    }


def assert_same(one: dict, other: dict) -> None:
    a, b = dict(one["preprocessor"]), dict(other["preprocessor"])
    mean_a, mean_b = a.pop("train_target_mean"), b.pop("train_target_mean")
    assert a == b
    assert mean_a == pytest.approx(mean_b, rel=1e-12) if mean_a is not None else mean_b is None
    pd.testing.assert_frame_equal(one["baseline"], other["baseline"])
    for split in ("train", "validation", "test"):
        assert np.array_equal(one["splits"][split], other["splits"][split])


def run_two_instances(preprocess, config: dict, hosts: dict[str, Path], out: Path, **kw) -> None:
    statistics = out / "statistics"
    for host, data_dir in hosts.items():  # the first job: one process per host
        preprocess.preprocess(
            config, data_dir, out / "stats-out" / host, 7, stage="statistics", hosts=(host, list(hosts)), **kw
        )
        for file in (out / "stats-out" / host / "statistics").iterdir():
            statistics.mkdir(parents=True, exist_ok=True)
            file.rename(statistics / file.name)  # every host's output lands under one S3 prefix
    for host, data_dir in hosts.items():  # the second job: every host merges, each encodes its shard
        preprocess.preprocess(
            config,
            data_dir,
            out / "merged",
            7,
            stage="encode",
            statistics_dir=statistics,
            hosts=(host, list(hosts)),
            **kw,
        )


@pytest.mark.parametrize(
    ("problem", "target", "generate"),
    [("binary_classification", "y", generate_bank_marketing), ("regression", "price", generate_regression)],
)
def test_two_instances_produce_what_one_produces(tmp_path, harness, preprocess, problem, target, generate):
    config = harness.base_config("scale", problem, target)
    everything, hosts = shard_inputs(tmp_path, generate(3000, seed=5))

    preprocess.preprocess(config, everything, tmp_path / "single", 7)
    run_two_instances(preprocess, config, hosts, tmp_path)

    assert_same(outputs(tmp_path / "single"), outputs(tmp_path / "merged"))
    # the first host's first shard keeps the single-instance name; the others name their host
    assert {p.name for p in (tmp_path / "merged" / "test").iterdir()} == {"test.csv", "test-algo-2-0000.csv"}


def test_reading_in_small_chunks_changes_nothing(tmp_path, harness, preprocess):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(3000, seed=6), files=2)

    preprocess.preprocess(config, everything, tmp_path / "whole", 7)
    preprocess.preprocess(config, everything, tmp_path / "chunked", 7, chunk_rows=97)

    assert_same(outputs(tmp_path / "whole"), outputs(tmp_path / "chunked"))


def test_the_baseline_is_a_bounded_sample_the_same_however_the_input_is_sharded(tmp_path, harness, preprocess):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, hosts = shard_inputs(tmp_path, generate_bank_marketing(3000, seed=8))

    preprocess.preprocess(config, everything, tmp_path / "single", 7, chunk_rows=211, baseline_rows=400)
    run_two_instances(preprocess, config, hosts, tmp_path, chunk_rows=173, baseline_rows=400)

    single, merged = outputs(tmp_path / "single"), outputs(tmp_path / "merged")
    assert len(single["baseline"]) == 400 < single["preprocessor"]["rows"]["train"]
    assert_same(single, merged)


def test_output_shards_roll_over_and_keep_every_row(tmp_path, harness, preprocess, monkeypatch):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(2000, seed=9), files=1)
    monkeypatch.setattr(preprocess, "SHARD_ROWS", 300)

    pre = preprocess.preprocess(config, everything, tmp_path / "out", 7, chunk_rows=128)

    shards = sorted(p.name for p in (tmp_path / "out" / "train").iterdir())
    assert shards[0] == "train-algo-1-0001.csv" and "train.csv" in shards and len(shards) > 3
    assert sum(len(pd.read_csv(tmp_path / "out" / "train" / s, header=None)) for s in shards) == pre["rows"]["train"]


def test_the_vectorised_encoder_and_writer_match_the_serving_encoder(tmp_path, harness, preprocess):
    common = harness.load_job_module("_common")
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(1500, seed=10), files=1)
    pre = preprocess.preprocess(config, everything, tmp_path / "out", 7)
    files = preprocess.input_files(everything)
    _, _, rows = next(preprocess.read_chunks(files, everything, preprocess.header_columns(files, everything), 500))
    rows.loc[0, "age"], rows.loc[1, "job"] = None, "a job never seen"

    matrix = preprocess.encode_clean(rows, pre)

    assert np.array_equal(matrix, common.encode_frame(rows, pre))
    written = np.loadtxt(preprocess.csv_text(np.zeros(len(rows), dtype=int), matrix).splitlines(), delimiter=",")
    assert np.allclose(written[:, 1:], matrix, rtol=1e-11, atol=0)


def test_wide_data_is_read_and_encoded_in_smaller_blocks_with_the_same_result(
    tmp_path, harness, preprocess, monkeypatch
):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, _ = shard_inputs(tmp_path, generate_bank_marketing(1200, seed=11), files=1)
    preprocess.preprocess(config, everything, tmp_path / "default", 7)

    monkeypatch.setattr(preprocess, "READ_CELLS", 3_000)  # 150 rows of these 20 columns at a time
    monkeypatch.setattr(preprocess, "ENCODED_CELLS", 7_000)  # about 110 encoded rows at a time
    preprocess.preprocess(config, everything, tmp_path / "blocks", 7)

    assert_same(outputs(tmp_path / "default"), outputs(tmp_path / "blocks"))


def test_numeric_columns_stop_being_counted_without_changing_the_result(tmp_path, harness, preprocess, monkeypatch):
    config = harness.base_config("scale", "binary_classification", "y")
    everything, hosts = shard_inputs(tmp_path, generate_bank_marketing(2000, seed=12))
    preprocess.preprocess(config, everything, tmp_path / "counted", 7)

    monkeypatch.setattr(preprocess, "MAX_TRACKED_VALUES", 40)  # age, euribor3m... pass it; job, month... do not
    preprocess.preprocess(config, everything, tmp_path / "single", 7, chunk_rows=300)
    run_two_instances(preprocess, config, hosts, tmp_path, chunk_rows=300)

    assert_same(outputs(tmp_path / "counted"), outputs(tmp_path / "single"))
    assert_same(outputs(tmp_path / "counted"), outputs(tmp_path / "merged"))
