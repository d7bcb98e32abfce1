"""preprocess.py's memory: the peak it reports is its own, whoever starts it (bench/scale.py reads it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from driftline_local.sample_data import generate_bank_marketing, write_csv

BALLAST_MIB = 600
STAGE_PEAK = re.compile(r"preprocess_stage stage=(\w+) rows=(\d+) .* peak_memory_mib=([\d.]+)")


def test_the_peak_memory_a_job_logs_is_its_own_not_the_process_that_started_it(tmp_path: Path, harness) -> None:
    # Given a parent holding far more memory than the job needs (a bench that generated 10M rows, a test runner)
    ballast = b"\x01" * (BALLAST_MIB << 20)
    config = harness.base_config("scale", "binary_classification", "y", drop_columns=["duration"])
    (tmp_path / "config.json").write_text(json.dumps(config))
    write_csv(generate_bank_marketing(2000, seed=3), tmp_path / "data" / "bank.csv")
    job = harness.Job(
        "preprocess.py",
        ["--config", str(tmp_path / "config.json"), "--data-dir", str(tmp_path / "data")]
        + ["--output-dir", str(tmp_path / "out"), "--seed", "7"],
        log=tmp_path / "job.log",
    )

    # When it runs preprocess.py
    process = harness.start(job)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    del ballast

    # Then each pass logs the job's own peak, far below the parent's memory, although the kernel's ru_maxrss of
    # the same process counts the parent's (what bench/scale.py used to report as the job's peak memory)
    output = (tmp_path / "job.log").read_text()
    assert process.returncode == 0, output
    peaks = {stage: float(peak) for stage, _, peak in STAGE_PEAK.findall(output)}
    assert set(peaks) == {"statistics", "encode"}
    assert 0 < max(peaks.values()) < BALLAST_MIB / 2
    assert usage.ru_maxrss / 1024 >= BALLAST_MIB


def test_once_the_baseline_sample_is_full_rows_that_cannot_enter_it_are_not_held(harness) -> None:
    preprocess = harness.load_job_module("preprocess")
    rng = np.random.default_rng(11)
    top = np.iinfo(np.uint64).max

    def chunk(number: int, low: int = 0, rows: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
        keys = rng.integers(low, top, size=rows, dtype=np.uint64, endpoint=True)
        frame = pd.DataFrame({"x": [f"v{number}-{i}" for i in range(rows)], "y": ["yes", "no"] * (rows // 2)})
        return frame, keys

    def offer(frame: pd.DataFrame, keys: np.ndarray) -> None:
        partial.add(frame, keys, np.zeros(len(keys), dtype=np.int8), "y", "binary_classification")

    # Given a first pass whose 1,000-row baseline sample has filled from 30 chunks of training rows
    partial = preprocess.Partial(["x", "y"], ["x"], baseline_rows=1000)
    offered = []
    for number in range(30):
        frame, keys = chunk(number)
        offer(frame, keys)
        offered.append(keys)
    largest = np.sort(np.concatenate(offered))[999]
    partial.sample  # noqa: B018 - reading the sample settles it (the rows offered since the last cut join it)
    held = partial.held_rows

    # When a chunk comes whose rows all have larger keys than every sampled row
    offer(*chunk(30, low=int(largest) + 1))

    # Then none of its rows is held for the sample (before, every chunk's training rows waited for the next cut)
    assert partial.held_rows == held
    # and the sample is still exactly the 1,000 training rows with the smallest keys
    sample_keys, sample = partial.sample
    assert np.array_equal(np.sort(sample_keys), np.sort(np.concatenate(offered))[:1000])
    assert len(sample) == 1000


HEAP_CHECK = """
import ctypes, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import _common

if sys.argv[2] == "steady":
    assert _common.steady_allocator()


class MallInfo2(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(name, ctypes.c_size_t) for name in names.split()]


mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
before = mallinfo2().arena
kept = []
for number in range(300):  # a chunk loop: temporary arrays of varying sizes, a little kept from each chunk
    temporary = np.ones((1 + number % 8) << 20, dtype=np.uint8)
    kept.append(np.ones(2000 + number, dtype=np.uint8))
    del temporary
print((mallinfo2().arena - before) >> 20)
"""


def test_a_chunk_loop_keeps_no_heap_for_its_freed_arrays_once_the_allocator_is_steady(tmp_path: Path, harness) -> None:
    # Given a job's chunk loop (arrays of a few MiB freed each chunk, small allocations kept between them)
    python = harness.start.__globals__["python_for_image"](harness.SCRIPT_IMAGES["preprocess.py"])
    jobs = str(Path(harness.start.__globals__["JOBS"]))

    def heap_mib(mode: str) -> int:
        done = subprocess.run([python, "-c", HEAP_CHECK, jobs, mode], capture_output=True, text=True, check=True)
        return int(done.stdout.strip())

    # When it runs with glibc's default (dynamic) thresholds, and with steady_allocator()
    default, steady = heap_mib("default"), heap_mib("steady")

    # Then the default heap grows with the freed arrays (the mmap threshold rises to the largest one freed, so
    # later ones come from the heap and the kept allocations pin it); the steady heap stays where it was
    assert steady <= 1
    assert default >= 4


def test_rows_offered_to_a_full_sample_in_many_small_chunks_are_cut_in_before_their_frames_pile_up(harness) -> None:
    preprocess = harness.load_job_module("preprocess")
    # Given a first pass whose 1,000-row baseline sample is full
    partial = preprocess.Partial(["x", "y"], ["x"], baseline_rows=1000)
    top = np.iinfo(np.uint64).max
    keys = np.random.default_rng(5).integers(2**40, top, size=2000, dtype=np.uint64)
    partial.add(pd.DataFrame({"x": ["a"] * 2000, "y": ["yes", "no"] * 1000}), keys, np.zeros(2000, np.int8), "y", "b")
    parts = []

    # When 200 chunks each bring one row that enters the sample (as at 10M rows, where few rows per chunk do)
    for number in range(200):
        row = pd.DataFrame({"x": [f"new-{number}"], "y": ["yes"]})
        partial.add(row, np.array([number], dtype=np.uint64), np.zeros(1, np.int8), "y", "b")
        parts.append(partial.held_parts)

    # Then the frames held between cuts stay few (each costs a DataFrame's overhead), and every new row is sampled
    assert max(parts) <= preprocess.PENDING_PARTS
    _, sample = partial.sample
    assert {f"new-{number}" for number in range(200)} <= set(sample["x"])


CHUNK_GARBAGE_CHECK = """
import gc, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import preprocess

data, out = Path(sys.argv[2]), Path(sys.argv[3])
config = json.loads(sys.argv[4])
files = preprocess.input_files(data)
columns = preprocess.header_columns(files, data)
gc.collect()
gc.disable()  # what reference counting alone frees; the rest waits for the cyclic collector
partial = preprocess.scan(files, data, columns, config, 7, 100, baseline_rows=500)
preprocessor, _, index = preprocess.finish(partial, config, 7)
preprocess.write_shards(files, data, columns, config, 7, 100, preprocessor, index, out, "algo-1", True)
gc.set_debug(gc.DEBUG_SAVEALL)
gc.collect()
print(json.dumps(sorted({type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("pandas")})))
"""


def test_a_chunk_leaves_nothing_for_the_cyclic_garbage_collector_once_it_is_done(tmp_path: Path, harness) -> None:
    # Given 40 chunks of bank-marketing rows, read by the job's image (its pandas)
    python = harness.start.__globals__["python_for_image"](harness.SCRIPT_IMAGES["preprocess.py"])
    jobs = str(Path(harness.start.__globals__["JOBS"]))
    write_csv(generate_bank_marketing(4000, seed=3), tmp_path / "data" / "bank.csv")
    config = harness.base_config("scale", "binary_classification", "y", drop_columns=["duration"])

    # When both passes run with the cyclic garbage collector off
    done = subprocess.run(
        [python, "-c", CHUNK_GARBAGE_CHECK, jobs, str(tmp_path / "data"), str(tmp_path / "out"), json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
    )

    # Then no pandas object of a finished chunk was left in a reference cycle: each chunk's frames and arrays are
    # freed when the next one comes, not when a full collection comes, which grows rarer as the job runs (before:
    # every column's Series cached its `.str` accessor, which refers back to it, and kept its chunk alive)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_cutting_the_baseline_sample_copies_the_rows_it_keeps_not_the_rows_it_drops(harness) -> None:
    preprocess = harness.load_job_module("preprocess")
    columns = [f"c{number}" for number in range(20)]
    top = np.iinfo(np.uint64).max

    def chunk(number: int, rows: int) -> pd.DataFrame:
        return pd.DataFrame({c: [f"{c}-{number}-{i}" for i in range(rows)] for c in columns} | {"y": ["yes"] * rows})

    def cut_memory(offered: int) -> int:
        # Given a full 5,000-row sample and PENDING_PARTS - 1 chunks of `offered` rows that may enter it, held
        partial = preprocess.Partial([*columns, "y"], columns, baseline_rows=5000, counted=[])
        keys = np.arange(top - 5000, top, dtype=np.uint64)
        partial.add(chunk(0, 5000), keys, np.zeros(5000, np.int8), "y", "b")
        partial.sample  # noqa: B018 - settles the sample
        for number in range(1, preprocess.PENDING_PARTS):
            keys = np.arange(number * 1000, number * 1000 + offered, dtype=np.uint64)
            partial.add(chunk(number, offered), keys, np.zeros(offered, np.int8), "y", "b")
        assert partial.held_rows == 5000 + offered * (preprocess.PENDING_PARTS - 1)
        # When the next chunk's row makes the sample cut (the frames held reach PENDING_PARTS)
        tracemalloc.start()
        try:
            partial.add(chunk(99, 1), np.zeros(1, dtype=np.uint64), np.zeros(1, np.int8), "y", "b")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert partial.held_parts == 0 and partial.held_rows == 5000
        return peak

    few, many = 10, 300
    extra_rows = (many - few) * (preprocess.PENDING_PARTS - 1)

    # Then the cut's transient memory grows with the rows held by their keys alone (8 bytes each, and their
    # order), not by copies of the rows it drops: it keeps 5,000 rows either way (before, every held row was
    # copied into one frame to take the sample from it, about 180 bytes a row here with 21 columns; in the first
    # chunks of a job, where 50,000 rows are dropped at each cut, that set the job's peak memory)
    assert (cut_memory(many) - cut_memory(few)) / extra_rows < 64
