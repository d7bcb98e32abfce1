"""Scaling of the streaming preprocessing job (jobs/preprocess.py) and of evaluation from 10k to 10M rows.

For each size, bank-marketing rows (driftline_local.sample_data, at most 100,000 rows at a time, appended to two
CSV files on disk: the data never sits in this process's memory) go through the jobs as the local cloud runs
them: subprocesses on their image's Python.
- 1 instance: jobs/preprocess.py with both files in its input (one process, both passes). Per stage (the
  statistics pass, the encode pass) and for the whole job: wall time, CPU time, peak memory and rows/s.
- 2 instances: the same two files, one per "instance": --stage statistics on both at once, then --stage encode
  on both at once, as two sharded processing jobs would run; per stage the larger process's peak.
- evaluate: jobs/evaluate.py scores the whole test split in chunks with a model that jobs/train.py trains on
  the first TRAIN_ROWS train rows (training is not a stage here: it holds its whole matrix in memory, and its
  scaling is bench/spot.py's and the distributed path's).

Peak memory is each job's own: the VmHWM its process logs (`<job>_stage ... peak_memory_mib=`, read from
/proc/self/status), not wait4's ru_maxrss. On Linux ru_maxrss is never below the peak of the process that
started the child (the kernel folds the parent's address-space high-water mark into the child at exec:
fs/exec.c exec_mmap, setmax_mm_hiwater_rss), so it measured this bench's own growing peak, not the job's; both
are printed. The bench refuses when what it reports did not happen: rows generated != the size, rows
preprocessed or written != rows generated, a stage that did not log its figures, two instances' preprocessor.json
!= one instance's, evaluation scoring another number of rows than the test split holds.

Aims: peak memory flat past 1M rows (the largest size within FLAT_AIM of 1M's) and 10M rows within 11x of
1M's time.

Run: `.venv/bin/python bench/scale.py --sizes 10000,100000,1000000` (`--quick`: 10k and 100k).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from figures import Figures, add_json_argument, refuse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "local"))

from driftline_local.sagemaker.image_envs import python_for_image  # noqa: E402
from driftline_local.sample_data import generate_bank_marketing  # noqa: E402

JOBS = ROOT / "jobs"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
GENERATE_ROWS = 100_000
TRAIN_ROWS = 50_000  # the model evaluate scores with is trained on this many train rows, whatever the size
CONFIG = (
    '{"name": "scale", "problem_type": "binary_classification", "target": "y", "drop_columns": ["duration"], '
    '"split": {"test_fraction": 0.15, "validation_fraction": 0.15}}'
)
HYPERPARAMETERS = ["--num_round", "20", "--max_depth", "4", "--eta", "0.3", "--objective", "binary:logistic"]
HYPERPARAMETERS += ["--eval_metric", "auc", "--seed", "42"]
QUICK_SIZES = [10_000, 100_000]
FLAT_AIM = 1.10
TIME_AIM = 11.0
BUSY = 1.3  # wall / CPU time above this: the machine was shared, and a wall-time ratio is no evidence
STAGE_LINE = re.compile(
    r"(\w+)_stage stage=(\w+) rows=(\d+) seconds=([\d.]+) cpu_seconds=([\d.]+) peak_memory_mib=([\d.]+|unknown)"
)


@dataclass
class Stage:
    rows: int
    wall: float
    cpu: float
    peak: float  # MiB: the largest process's own peak at the end of the stage


@dataclass
class Run:
    """Processes run at once: wall time from start to the last exit, summed CPU, each one's figures."""

    wall: float
    cpu: float
    maxrss: float  # MiB, the largest wait4 ru_maxrss (includes this bench's own peak: see the docstring)
    stages: dict[str, Stage] = field(default_factory=dict)  # by stage name; rows summed over the processes

    @property
    def peak(self) -> float:
        return max(stage.peak for stage in self.stages.values())


def count_lines(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with path.open("rb") as handle:
            while block := handle.read(1 << 24):
                total += block.count(b"\n")
    return total


def generate(rows: int, files: list[Path]) -> None:
    """`rows` rows dealt in 100,000-row blocks round-robin to `files` (each with a header)."""
    for file in files:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.unlink(missing_ok=True)
    written = 0
    block = 0
    while written < rows:
        take = min(GENERATE_ROWS, -(-rows // len(files)), rows - written)
        frame = generate_bank_marketing(take, seed=block)
        file = files[block % len(files)]
        frame.to_csv(file, mode="a", header=not file.exists(), index=False)
        written += take
        block += 1
    generated = count_lines(files) - len(files)
    if generated != rows:
        refuse(f"asked for {rows} rows, the data files hold {generated}")


def wait_all(commands: list[list[str]], env: dict[str, str] | None = None) -> Run:
    """Run the commands at once and read each one's `<job>_stage` lines. Refuses on a failure or a missing line."""
    # files, not pipes: no process waits on a full pipe
    logs = [tempfile.TemporaryFile("w+") for _ in commands]  # noqa: SIM115 - closed once read, below
    started = time.perf_counter()
    processes = [
        subprocess.Popen(c, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        for c, log in zip(commands, logs, strict=True)
    ]
    usages = []
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        usages.append(usage)
    run = Run(time.perf_counter() - started, 0.0, 0.0)
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
        log.close()
    for process, output, usage in zip(processes, outputs, usages, strict=True):
        where = Path(str(process.args[1])).name  # type: ignore[index]
        if process.returncode != 0:
            refuse(f"{where} exited {process.returncode}: {output[-2000:]}")
        run.cpu += usage.ru_utime + usage.ru_stime
        run.maxrss = max(run.maxrss, usage.ru_maxrss / 1024)  # KiB on Linux
        lines = STAGE_LINE.findall(output)
        if not lines:
            refuse(f"{where} logged no stage figures: {output[-2000:]}")
        for _, name, rows, wall, cpu, peak in lines:
            if peak == "unknown":
                refuse(f"{where}: the job could not read its peak memory (no /proc/self/status)")
            stage = Stage(int(rows), float(wall), float(cpu), float(peak))
            known = run.stages.get(name)
            if known:  # the same stage on another instance
                stage = Stage(
                    known.rows + stage.rows,
                    max(known.wall, stage.wall),
                    known.cpu + stage.cpu,
                    max(known.peak, stage.peak),
                )
            run.stages[name] = stage
    return run


def job(python: str, config: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [python, str(JOBS / "preprocess.py"), "--config", str(config), "--data-dir", str(data)] + [
        "--output-dir",
        str(out),
        *extra,
    ]


def split_files(out: Path) -> dict[str, list[Path]]:
    return {split: sorted((out / split).glob("*.csv")) for split in ("train", "validation", "test")}


def check_written(size: int, out: Path, what: str) -> None:
    written = count_lines([f for files in split_files(out).values() for f in files])
    if written != size:
        refuse(f"{size} rows: {what} wrote {written} encoded rows")


def evaluate(work: Path, out: Path, size: int, test_rows: int) -> tuple[Run, Run]:
    """Train on the first TRAIN_ROWS train rows (fixed), then evaluate the whole test split: (train, evaluate)."""
    subset = {"train": work / "subset" / "train", "validation": work / "subset" / "validation"}
    for split, directory in subset.items():
        directory.mkdir(parents=True)
        with (out / split / f"{split}.csv").open() as source, (directory / f"{split}.csv").open("w") as target:
            for number, line in enumerate(source):
                if number >= TRAIN_ROWS:
                    break
                target.write(line)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= {
        "SM_CHANNEL_TRAIN": str(subset["train"]),
        "SM_CHANNEL_VALIDATION": str(subset["validation"]),
        "SM_CHANNEL_PREPROCESSOR": str(out / "preprocessor"),
        "SM_MODEL_DIR": str(work / "model"),
        "SM_OUTPUT_DATA_DIR": str(work / "train-output"),
        "SM_HOSTS": '["algo-1"]',
        "SM_CURRENT_HOST": "algo-1",
    }
    python = python_for_image(XGBOOST_IMAGE)
    started = time.perf_counter()
    trained = subprocess.run(
        [python, str(JOBS / "train.py"), *HYPERPARAMETERS, "--checkpoint_dir", str(work / "checkpoints")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    train = Run(time.perf_counter() - started, 0.0, 0.0)
    if trained.returncode != 0:
        refuse(f"train.py exited {trained.returncode}: {trained.stdout[-2000:]}{trained.stderr[-2000:]}")
    archive = shutil.make_archive(str(work / "model"), "gztar", root_dir=work / "model")
    command = [python, str(JOBS / "evaluate.py"), "--model", archive, "--test", str(out / "test")]
    command += ["--production", str(work / "no-production" / "model.tar.gz"), "--output-dir", str(work / "evaluation")]
    scored = wait_all([command], env)
    evaluation = json.loads((work / "evaluation" / "evaluation.json").read_text())
    if evaluation["test_rows"] != test_rows or scored.stages["evaluate"].rows != test_rows:
        refuse(f"{size} rows: evaluate scored {evaluation['test_rows']} rows, the test split holds {test_rows}")
    if evaluation["metrics"].get("auc") is None:
        refuse(f"{size} rows: evaluate computed no AUC")
    return train, scored


def measure(size: int, work: Path, python: str, config: Path, with_evaluate: bool) -> dict[str, Run]:
    single, hosts = work / "single", [work / "algo-1", work / "algo-2"]
    # the same two files: both in one instance's input, one per instance when sharded
    generate(size, [host / f"data-{number}.csv" for number, host in enumerate(hosts, start=1)])
    single.mkdir(parents=True)
    for number, host in enumerate(hosts, start=1):
        os.link(host / f"data-{number}.csv", single / f"data-{number}.csv")
    one = wait_all([job(python, config, single, work / "out-single")])
    preprocessor = json.loads((work / "out-single" / "preprocessor" / "preprocessor.json").read_text())
    if sum(preprocessor["rows"].values()) != size or one.stages["statistics"].rows != size:
        refuse(f"{size} rows generated, the single instance preprocessed {preprocessor['rows']}")
    check_written(size, work / "out-single", "the single instance")
    names = ["algo-1", "algo-2"]
    statistics_run = wait_all(
        [
            job(python, config, host, work / f"stats-{name}", "--stage", "statistics", "--resource-config", str(rc))
            for host, name, rc in zip(hosts, names, resource_configs(work, names), strict=True)
        ]
    )
    statistics = work / "statistics"
    statistics.mkdir(exist_ok=True)
    for name in names:
        for file in (work / f"stats-{name}" / "statistics").iterdir():
            shutil.move(str(file), statistics / file.name)
    encode_run = wait_all(
        [
            job(python, config, host, work / "out-two", "--stage", "encode", "--statistics-dir", str(statistics))
            + ["--resource-config", str(rc)]
            for host, rc in zip(hosts, resource_configs(work, names), strict=True)
        ]
    )
    two = (work / "out-two" / "preprocessor" / "preprocessor.json").read_text()
    if _without_mean(json.dumps(preprocessor)) != _without_mean(two):
        refuse(f"{size} rows: two instances' preprocessor.json differs from one instance's")
    check_written(size, work / "out-two", "two instances")
    results = {"one": one, "two-statistics": statistics_run, "two-encode": encode_run}
    if with_evaluate:
        results["train"], results["evaluate"] = evaluate(work, work / "out-single", size, preprocessor["rows"]["test"])
    shutil.rmtree(work)
    return results


def _without_mean(text: str) -> dict[str, object]:
    content = json.loads(text)
    content.pop("train_target_mean", None)
    return content


def resource_configs(work: Path, names: list[str]) -> list[Path]:
    paths = []
    for name in names:
        path = work / f"resourceconfig-{name}.json"
        path.write_text(json.dumps({"current_host": name, "hosts": names}))
        paths.append(path)
    return paths


def label(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1000}k"


def add_stage(figures: Figures, what: str, stage: Stage, note: str | None = None) -> None:
    figures.add(f"{what}: wall time", stage.wall, "s", note=note)
    figures.add(f"{what}: peak memory", stage.peak, "MiB", note=note)
    figures.add(f"{what}: throughput", stage.rows / max(stage.wall, 1e-9), "rows/s", note=note)


def report(figures: Figures, size: int, result: dict[str, Run]) -> None:
    one, name = result["one"], label(size)
    print(
        f"{name:>4} rows: 1 instance {one.wall:.1f} s ({one.cpu:.1f} s CPU), {one.peak:.0f} MiB peak "
        f"(wait4 said {one.maxrss:.0f} MiB), {size / one.wall:,.0f} rows/s",
        flush=True,
    )
    for stage_name in ("statistics", "encode"):
        stage = one.stages[stage_name]
        print(
            f"      {stage_name:<10} {stage.wall:6.1f} s ({stage.cpu:.1f} s CPU), peak {stage.peak:.0f} MiB, "
            f"{stage.rows / max(stage.wall, 1e-9):,.0f} rows/s",
            flush=True,
        )
    statistics, encode = result["two-statistics"], result["two-encode"]
    print(
        f"      2 instances: statistics {statistics.wall:.1f} s, encode {encode.wall:.1f} s, "
        f"peak {max(statistics.peak, encode.peak):.0f} MiB per process",
        flush=True,
    )
    figures.add(f"preprocess {name} rows, 1 instance: wall time", one.wall, "s")
    figures.add(f"preprocess {name} rows, 1 instance: CPU time (user + sys)", one.cpu, "s")
    figures.add(
        f"preprocess {name} rows, 1 instance: peak memory",
        one.peak,
        "MiB",
        note=f"the job's own VmHWM; wait4's ru_maxrss said {one.maxrss:.0f} MiB (it includes the bench's peak)",
    )
    figures.add(f"preprocess {name} rows, 1 instance: throughput", size / one.wall, "rows/s")
    add_stage(figures, f"preprocess {name} rows, 1 instance, statistics pass", one.stages["statistics"])
    add_stage(
        figures,
        f"preprocess {name} rows, 1 instance, encode pass",
        one.stages["encode"],
        note="peak: the process's, at the end of the pass",
    )
    figures.add(
        f"preprocess {name} rows, 2 instances: wall time (statistics + encode)",
        statistics.wall + encode.wall,
        "s",
        baseline=one.wall,
        baseline_name="1 instance",
        note="2 processes on this 2-core machine, sharing it with the other benches' neighbours",
    )
    figures.add(f"preprocess {name} rows, 2 instances: statistics job wall time", statistics.wall, "s")
    figures.add(f"preprocess {name} rows, 2 instances: encode job wall time", encode.wall, "s")
    figures.add(
        f"preprocess {name} rows, 2 instances: peak memory per process", max(statistics.peak, encode.peak), "MiB"
    )
    if "evaluate" in result:
        stage = result["evaluate"].stages["evaluate"]
        print(
            f"      evaluate {stage.rows:,} test rows: {stage.wall:.1f} s "
            f"({result['evaluate'].wall:.1f} s with start-up), peak {stage.peak:.0f} MiB "
            f"(model trained on the first {TRAIN_ROWS:,} train rows or fewer in {result['train'].wall:.1f} s)",
            flush=True,
        )
        add_stage(
            figures,
            f"evaluate {name} rows ({stage.rows:,} test rows)",
            stage,
            note=f"candidate trained on the first {TRAIN_ROWS:,} train rows (or all, if fewer); no production model",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000", help="comma-separated row counts")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the train + evaluate stage")
    parser.add_argument("--workdir", help="where the generated data goes (default: a temporary directory)")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else sorted(int(s) for s in args.sizes.split(","))
    python = python_for_image(IMAGE)
    figures = Figures("scale")
    results: dict[int, dict[str, Run]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as temporary:
        config = Path(temporary) / "config.json"
        config.write_text(CONFIG)
        for size in sizes:
            results[size] = measure(size, Path(temporary) / str(size), python, config, not args.no_evaluate)
            report(figures, size, results[size])
    big = [s for s in sizes if s > 1_000_000]
    if 1_000_000 in results and big:
        largest = max(big)
        peak = results[largest]["one"].peak / results[1_000_000]["one"].peak
        print(f"peak memory {label(largest)} / 1M: {peak:.2f}x (aim <= {FLAT_AIM}x)")
        figures.add(
            f"peak memory {label(largest)} / 1M rows, 1 instance",
            peak,
            "x",
            aim=f"<= {FLAT_AIM}x (flat past 1M rows)",
            holds=peak <= FLAT_AIM,
            note="the job's own peak (VmHWM)",
        )
    if 1_000_000 in results and 10_000_000 in results:
        one, ten = results[1_000_000]["one"], results[10_000_000]["one"]
        ratio, cpu_ratio = ten.wall / one.wall, ten.cpu / one.cpu
        print(f"10M / 1M time: {ratio:.1f}x wall, {cpu_ratio:.1f}x CPU (aim <= {TIME_AIM:g}x)")
        busy = max(run.wall / max(run.cpu, 1e-9) for run in (one, ten))
        figures.add(
            "wall time 10M / 1M rows",
            ratio,
            "x",
            aim=f"<= {TIME_AIM:g}x",
            holds=ratio <= TIME_AIM if busy <= BUSY else None,
            note=None
            if busy <= BUSY
            else f"not judged: a run's wall time was {busy:.1f}x its CPU time (a shared machine); see the CPU ratio",
        )
        figures.add(
            "CPU time 10M / 1M rows",
            cpu_ratio,
            "x",
            aim=f"<= {TIME_AIM:g}x",
            holds=cpu_ratio <= TIME_AIM,
            note="CPU time is what a shared machine's neighbours do not inflate",
        )
    figures.write_if_asked(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
