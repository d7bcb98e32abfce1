"""Run the job scripts for real, as SageMaker would: subprocesses with arguments and SM_* variables.

One session-wide `pipelines` workspace holds three small end-to-end runs (binary bank marketing,
multiclass segments, regression prices). Each stage (preprocess, train, evaluate) runs its jobs in
parallel and only when a test first needs it, so the whole folder stays fast.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from driftline_local.sagemaker.image_envs import python_for_image
from driftline_local.sample_data import (
    generate_bank_marketing,
    generate_multiclass,
    generate_regression,
    write_csv,
)

JOBS = Path(__file__).resolve().parents[3] / "jobs"
JOB_TIMEOUT = 180


@dataclass
class Job:
    script: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None


# The image each script runs on in production (driftline.sagemaker_requests): the scripts run here in
# that image's environment (`make image-envs`), as the local cloud runs them, not in the project's venv.
SCRIPT_IMAGES = {
    "preprocess.py": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    "monitor.py": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    "quality.py": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    "train.py": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
    "evaluate.py": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
}


def start(job: Job) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= {"PYTHONUNBUFFERED": "1", **job.env}
    stdout = open(job.log, "w") if job.log else subprocess.PIPE  # noqa: SIM115 - closed by the caller's wait
    return subprocess.Popen(
        [python_for_image(SCRIPT_IMAGES[job.script]), str(JOBS / job.script), *job.args],
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_all(jobs: list[Job]) -> list[str]:
    """Run jobs concurrently; fail with their output if any exits non-zero. Returns each one's output."""
    processes = [start(job) for job in jobs]
    outputs = []
    for job, process in zip(jobs, processes, strict=True):
        output, _ = process.communicate(timeout=JOB_TIMEOUT)
        if job.log:
            output = job.log.read_text()
        if process.returncode != 0:
            for other in processes:
                other.kill()
            pytest.fail(f"{job.script} {' '.join(job.args)} exited {process.returncode}:\n{output}")
        outputs.append(output)
    return outputs


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def load_job_module(name: str) -> ModuleType:
    """Import a job script in-process (as the serving container imports inference.py)."""
    if str(JOBS) not in sys.path:
        sys.path.insert(0, str(JOBS))
    spec = importlib.util.spec_from_file_location(f"driftline_job_{name}", JOBS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_label_first(path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(path, delimiter=",", ndmin=2)
    return data[:, 0], data[:, 1:]


@dataclass
class Pipeline:
    """One model's run: the job inputs and outputs laid out as the containers see them."""

    name: str
    root: Path
    config: dict[str, Any]
    hyperparameters: list[str]
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    @property
    def config_path(self) -> Path:
        return self.root / "input" / "config" / "config.json"

    @property
    def processed(self) -> Path:
        return self.root / "output"

    @property
    def preprocessor(self) -> dict[str, Any]:
        return read_json(self.processed / "preprocessor" / "preprocessor.json")

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def model_archive(self) -> Path:
        return self.root / "model.tar.gz"

    @property
    def evaluation(self) -> dict[str, Any]:
        return read_json(self.root / "evaluation" / "evaluation.json")

    @property
    def summary(self) -> dict[str, Any]:
        return read_json(self.root / "output-data" / "training_summary.json")

    def preprocess_job(self) -> Job:
        return Job(
            "preprocess.py",
            [
                "--config",
                str(self.config_path),
                "--data-dir",
                str(self.data_dir),
                "--output-dir",
                str(self.processed),
                "--seed",
                "42",
            ],
        )

    def train_job(
        self,
        *,
        num_round: int | None = None,
        checkpoints: Path | None = None,
        model_dir: Path | None = None,
        output_data: Path | None = None,
        log: Path | None = None,
    ) -> Job:
        args = list(self.hyperparameters)
        if num_round is not None:
            args[args.index("--num_round") + 1] = str(num_round)
        args += ["--checkpoint_dir", str(checkpoints or self.root / "checkpoints")]
        return Job("train.py", args, self.training_env(model_dir, output_data), log)

    def training_env(self, model_dir: Path | None = None, output_data: Path | None = None) -> dict[str, str]:
        return {
            "SM_CHANNEL_TRAIN": str(self.processed / "train"),
            "SM_CHANNEL_VALIDATION": str(self.processed / "validation"),
            "SM_CHANNEL_PREPROCESSOR": str(self.processed / "preprocessor"),
            "SM_MODEL_DIR": str(model_dir or self.model_dir),
            "SM_OUTPUT_DATA_DIR": str(output_data or self.root / "output-data"),
        }

    def evaluate_job(self, production: Path | None = None) -> Job:
        args = [
            "--model",
            str(self.model_archive),
            "--test",
            str(self.processed / "test" / "test.csv"),
            "--output-dir",
            str(self.root / "evaluation"),
        ]
        args += ["--production", str(production or self.root / "input" / "production" / "model.tar.gz")]
        return Job("evaluate.py", args)

    def archive_model(self) -> None:
        shutil.make_archive(str(self.root / "model"), "gztar", root_dir=self.model_dir)


def bank_hyperparameters() -> list[str]:
    # As the training job receives them: JSON-encoded strings and the SDK's sagemaker_* entries.
    return [
        "--num_round",
        "20",
        "--max_depth",
        "4",
        "--eta",
        "0.2",
        "--subsample",
        "0.8",
        "--objective",
        '"binary:logistic"',
        "--eval_metric",
        '"auc"',
        "--checkpoint_interval",
        "5",
        "--seed",
        "42",
        "--sagemaker_program",
        '"train.py"',
        "--sagemaker_submit_directory",
        '"s3://artifacts/code/jobs/sourcedir.tar.gz"',
        "--sagemaker_region",
        '"us-east-1"',
        "--sagemaker_container_log_level",
        "20",
    ]


def base_config(name: str, problem_type: str, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "problem_type": problem_type,
        "target": target,
        "features": None,
        "drop_columns": [],
        "positive_class": None,
        "seed": 42,
        "split": {"validation_fraction": 0.15, "test_fraction": 0.15},
        **extra,
    }


class Pipelines:
    """bank (binary), segments (multiclass), prices (regression), plus a resumed bank job."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bank = Pipeline(
            "bank",
            root / "bank",
            base_config("bank-marketing", "binary_classification", "y", drop_columns=["duration"]),
            bank_hyperparameters(),
        )
        self.segments = Pipeline(
            "segments",
            root / "segments",
            base_config("segments", "multiclass_classification", "segment"),
            [
                "--num_round",
                "15",
                "--max_depth",
                "4",
                "--eta",
                "0.3",
                "--objective",
                "multi:softprob",
                "--num_class",
                "4",
                "--eval_metric",
                "mlogloss",
                "--checkpoint_interval",
                "5",
                "--seed",
                "7",
            ],
        )
        self.prices = Pipeline(
            "prices",
            root / "prices",
            base_config("prices", "regression", "price"),
            [
                "--num_round",
                "40",
                "--max_depth",
                "4",
                "--eta",
                "0.3",
                "--objective",
                "reg:squarederror",
                "--eval_metric",
                "rmse",
                "--checkpoint_interval",
                "10",
                "--seed",
                "7",
            ],
        )
        self.all = [self.bank, self.segments, self.prices]
        self.resume_root = root / "resume"

    @cached_property
    def preprocessed(self) -> Pipelines:
        frames = {
            "bank": generate_bank_marketing(4000, seed=1),
            "segments": generate_multiclass(1500, seed=2),
            "prices": generate_regression(1500, seed=3),
        }
        for pipeline in self.all:
            write_csv(frames[pipeline.name], pipeline.data_dir / f"{pipeline.name}.csv")
            pipeline.config_path.parent.mkdir(parents=True, exist_ok=True)
            pipeline.config_path.write_text(json.dumps(pipeline.config))
        for pipeline, output in zip(self.all, run_all([p.preprocess_job() for p in self.all]), strict=True):
            pipeline.logs["preprocess"] = output
        return self

    @cached_property
    def trained(self) -> Pipelines:
        _ = self.preprocessed  # the earlier stage first
        for pipeline, output in zip(self.all, run_all([p.train_job() for p in self.all]), strict=True):
            pipeline.logs["train"] = output
            pipeline.archive_model()
        return self

    @cached_property
    def finished(self) -> Pipelines:
        """Evaluations, and the bank job resumed as a spot replacement job would be.

        The replacement finds what an interruption after round 10 leaves: the run's own checkpoint-10.json
        and a half-written checkpoint-15.json, which it must skip.
        """
        _ = self.trained  # the earlier stage first
        written = self.bank.root / "checkpoints"
        left_behind = self.resume_root / "checkpoints"
        left_behind.mkdir(parents=True)
        shutil.copy(written / "checkpoint-10.json", left_behind)
        half = (written / "checkpoint-15.json").read_bytes()
        (left_behind / "checkpoint-15.json").write_bytes(half[: len(half) // 2])
        resume = self.bank.train_job(
            checkpoints=left_behind,
            model_dir=self.resume_root / "model",
            output_data=self.resume_root / "output",
        )
        outputs = run_all([p.evaluate_job() for p in self.all] + [resume])
        self.resume_log = outputs[-1]
        return self


@pytest.fixture(scope="session")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Pipelines:
    return Pipelines(tmp_path_factory.mktemp("pipelines"))


@pytest.fixture(scope="session")
def inference() -> ModuleType:
    return load_job_module("inference")


class Harness:
    """The helpers above, handed to tests as the `harness` fixture (test modules never import conftest)."""

    Job = Job
    SCRIPT_IMAGES = SCRIPT_IMAGES
    start = staticmethod(start)
    run_all = staticmethod(run_all)
    read_json = staticmethod(read_json)
    read_label_first = staticmethod(read_label_first)
    load_job_module = staticmethod(load_job_module)
    base_config = staticmethod(base_config)


@pytest.fixture(scope="session")
def harness() -> type[Harness]:
    return Harness
