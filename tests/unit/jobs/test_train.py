"""train.py: script-mode training with checkpoints that survive spot interruptions."""

from __future__ import annotations

import re
import signal
import time

import numpy as np
import pytest
import xgboost as xgb


def predict(model_dir, matrix):
    booster = xgb.Booster(model_file=str(model_dir / "xgboost-model.json"))
    return booster.predict(xgb.DMatrix(matrix))


def test_training_writes_the_model_its_preprocessor_and_a_summary(pipelines, harness):
    bank = pipelines.trained.bank
    assert (bank.model_dir / "xgboost-model.json").is_file()
    assert harness.read_json(bank.model_dir / "preprocessor.json") == bank.preprocessor
    summary = bank.summary
    assert summary["rounds_completed"] == 20 and summary["resumed_from_round"] == 0
    assert summary["row_rounds_per_second"] > 0 and summary["checkpoints_skipped"] == []


def test_training_logs_the_validation_metric_every_checkpoint_interval(pipelines):
    log = pipelines.trained.bank.logs["train"]
    rounds = [int(r) for r in re.findall(r"round=(\d+) validation-auc=[0-9.]+", log)]
    assert rounds == [5, 10, 15, 20]
    assert re.search(r"training_throughput row_rounds_per_second=[0-9.]+ rows=\d+ rounds=20 seconds=", log)


def test_sdk_hyperparameters_reach_xgboost_decoded_and_sagemaker_ones_are_ignored(pipelines):
    log = pipelines.trained.bank.logs["train"]
    assert '"objective": "binary:logistic"' in log and '"max_depth": 4' in log
    assert "sagemaker_program" not in log


def test_checkpoints_are_written_every_interval_keeping_the_newest(pipelines):
    names = sorted(p.name for p in (pipelines.trained.bank.root / "checkpoints").iterdir())
    assert names == ["checkpoint-10.json", "checkpoint-15.json", "checkpoint-20.json"]


def test_resumed_training_matches_uninterrupted_run(pipelines, harness):
    done = pipelines.finished
    summary = harness.read_json(done.resume_root / "output" / "training_summary.json")
    assert summary["resumed_from_round"] == 10 and summary["rounds_completed"] == 20
    _, matrix = harness.read_label_first(done.bank.processed / "test" / "test.csv")
    uninterrupted = predict(done.bank.model_dir, matrix)
    resumed = predict(done.resume_root / "model", matrix)
    assert np.abs(uninterrupted - resumed).max() < 1e-6


def test_a_corrupt_newest_checkpoint_is_skipped(pipelines, harness):
    done = pipelines.finished
    summary = harness.read_json(done.resume_root / "output" / "training_summary.json")
    assert summary["checkpoints_skipped"] == ["checkpoint-15.json"]
    assert "skipping unreadable checkpoint checkpoint-15.json" in done.resume_log
    assert (done.resume_root / "checkpoints" / "checkpoint-15.json").is_file()  # rewritten when round 15 came


def test_sigterm_checkpoints_the_completed_rounds_and_a_rerun_resumes(pipelines, tmp_path, harness):
    bank = pipelines.preprocessed.bank
    checkpoints = tmp_path / "checkpoints"
    job = bank.train_job(
        num_round=1_000_000,
        checkpoints=checkpoints,
        model_dir=tmp_path / "model",
        output_data=tmp_path / "output",
        log=tmp_path / "train.log",
    )
    job.args[job.args.index("--checkpoint_interval") + 1] = "25"
    process = harness.start(job)
    try:
        deadline = time.monotonic() + 60
        while not list(checkpoints.glob("checkpoint-*.json")):
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "train.log").read_text()
            time.sleep(0.02)
        first = min(int(p.stem.split("-")[1]) for p in checkpoints.glob("checkpoint-*.json"))
        time.sleep(0.5)  # let it train past the checkpoint: SIGTERM must save the rounds done since

        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        process.wait(timeout=30)
        stopped_within = time.monotonic() - signalled
    finally:
        process.kill()
    log = (tmp_path / "train.log").read_text()

    assert process.returncode != 0 and stopped_within < 10
    stopped_at = int(re.search(r"SIGTERM received: checkpoint-(\d+)\.json written", log).group(1))
    assert stopped_at > first and (checkpoints / f"checkpoint-{stopped_at}.json").is_file()

    rerun = bank.train_job(
        num_round=stopped_at + 5, checkpoints=checkpoints, model_dir=tmp_path / "model", output_data=tmp_path / "output"
    )
    harness.run_all([rerun])
    summary = harness.read_json(tmp_path / "output" / "training_summary.json")
    assert summary["resumed_from_round"] == stopped_at and summary["rounds_completed"] == stopped_at + 5


@pytest.fixture(scope="module")
def train_module(harness):
    return harness.load_job_module("train")


def test_hyperparameters_split_into_driftline_settings_and_xgboost_params(train_module):
    settings, params = train_module.parse_arguments(
        [
            "--num_round",
            '"50"',
            "--eta=0.1",
            "--objective",
            '"multi:softprob"',
            "--num_class",
            "3",
            "--checkpoint_dir",
            "/opt/ml/checkpoints",
            "--sagemaker_program",
            '"train.py"',
            "--_tuning_objective_metric",
            '"validation:auc"',
            "--grow_policy",
            "lossguide",
        ]
    )
    assert settings["num_round"] == "50" and settings["checkpoint_dir"] == "/opt/ml/checkpoints"
    assert params == {"eta": 0.1, "objective": "multi:softprob", "num_class": 3, "grow_policy": "lossguide"}


def test_a_hyperparameter_without_a_value_is_rejected(train_module):
    with pytest.raises(train_module.JobInputError, match="--max_depth has no value"):
        train_module.parse_arguments(["--max_depth"])


def test_training_writes_the_validation_metric_of_every_round_and_its_attempt(pipelines, harness):
    history = harness.read_json(pipelines.trained.bank.root / "output-data" / "metric_history.json")
    assert len(history["metrics"]["auc"]) == 20 and all(0.5 < value <= 1 for value in history["metrics"]["auc"])
    assert history["attempts"] == [
        {"attempt": 1, "job": None, "started_at_round": 0, "last_round": 20, "ended": "completed"}
    ]


def test_served_model_carries_no_metric_history(pipelines):
    booster = xgb.Booster(model_file=str(pipelines.trained.bank.model_dir / "xgboost-model.json"))
    assert booster.attributes() == {}


def test_resumed_training_continues_the_history_from_its_checkpoint(pipelines, harness):
    done = pipelines.finished
    first = harness.read_json(pipelines.trained.bank.root / "output-data" / "metric_history.json")
    resumed = harness.read_json(done.resume_root / "output" / "metric_history.json")
    # The resume started from checkpoint-10.json (15 was half-written): its first attempt ends there, unfinished.
    assert [(a["started_at_round"], a["last_round"], a["ended"]) for a in resumed["attempts"]] == [
        (0, 10, "interrupted"),
        (10, 20, "completed"),
    ]
    assert len(resumed["metrics"]["auc"]) == 20
    assert np.allclose(resumed["metrics"]["auc"], first["metrics"]["auc"], atol=1e-6)
