"""Jobs import only what they use: no scikit-learn dragged in through `import xgboost`.

xgboost's compat module imports scikit-learn whenever the image has it (the XGBoost 3.2-0 image does), which
was most of every XGBoost job's start-up. Each job runs here in its image's Python, in one process, through its
whole `main` (or, for inference.py, model_fn and a request, as the serving container calls it); then
`sys.modules` says what it imported. The metrics evaluate.py computes itself are checked against scikit-learn's.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from driftline_local.sagemaker.image_envs import python_for_image
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

JOBS = Path(__file__).resolve().parents[3] / "jobs"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"

RUN_IN_ONE_PROCESS = """
import importlib.util, json, sys
script, argv = sys.argv[1], sys.argv[2:]
sys.path.insert(0, str(__import__("pathlib").Path(script).parent))
spec = importlib.util.spec_from_file_location("job_under_test", script)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if script.endswith("inference.py"):
    model = module.model_fn(argv[0])
    body, content_type = module.transform_fn(model, argv[1], "text/csv", "application/json")
    code = 0 if content_type == "application/json" and json.loads(body)["predictions"] else 1
else:
    code = module.main(argv)
print(json.dumps({
    "exit": code,
    "sklearn": sorted(name for name in sys.modules if name.split(".")[0] == "sklearn" and sys.modules[name]),
    "xgboost": "xgboost" in sys.modules,
}))
"""


def run_job_in_one_process(harness, script: str, args: list[str], env: dict[str, str] | None = None) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    environment |= env or {}
    python = python_for_image(harness.SCRIPT_IMAGES.get(script, XGBOOST_IMAGE))
    done = subprocess.run(
        [python, "-c", RUN_IN_ONE_PROCESS, str(JOBS / script), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_evaluate_scores_models_without_importing_scikit_learn(pipelines, harness, tmp_path):
    bank = pipelines.trained.bank
    args = bank.evaluate_job().args
    args[args.index("--output-dir") + 1] = str(tmp_path)
    outcome = run_job_in_one_process(harness, "evaluate.py", args)
    assert outcome["exit"] == 0 and (tmp_path / "evaluation.json").is_file()
    assert outcome["xgboost"] and outcome["sklearn"] == []


def test_inference_serves_a_request_without_importing_scikit_learn(pipelines, harness):
    bank = pipelines.trained.bank
    features = [feature["name"] for feature in bank.preprocessor["features"]]
    request = pd.read_csv(bank.data_dir / "bank.csv", nrows=3)[features].to_csv(header=False, index=False)
    outcome = run_job_in_one_process(harness, "inference.py", [str(bank.model_dir), request])
    assert outcome["exit"] == 0
    assert outcome["xgboost"] and outcome["sklearn"] == []


def test_preprocess_runs_without_importing_scikit_learn(pipelines, harness, tmp_path):
    bank = pipelines.preprocessed.bank
    args = bank.preprocess_job().args
    args[args.index("--output-dir") + 1] = str(tmp_path)
    outcome = run_job_in_one_process(harness, "preprocess.py", args)
    assert outcome["exit"] == 0 and outcome["sklearn"] == []


def test_train_trains_without_importing_scikit_learn(pipelines, harness, tmp_path):
    bank = pipelines.preprocessed.bank
    job = bank.train_job(num_round=5, checkpoints=tmp_path / "checkpoints")
    env = job.env | bank.training_env(model_dir=tmp_path / "model", output_data=tmp_path / "output")
    outcome = run_job_in_one_process(harness, "train.py", job.args, env)
    assert outcome["exit"] == 0 and (tmp_path / "model").is_dir()
    assert outcome["xgboost"] and outcome["sklearn"] == []


def test_scikit_learn_stays_importable_after_xgboost_is(harness):
    python = python_for_image(XGBOOST_IMAGE)
    code = (
        f"import sys; sys.path.insert(0, {str(JOBS)!r}); import _common; xgb = _common.import_xgboost(); "
        "assert 'sklearn' not in sys.modules; import sklearn.metrics; print(xgb.Booster.__name__)"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "Booster", done.stderr


@pytest.mark.parametrize("seed", range(6))
def test_evaluate_metrics_equal_scikit_learns(harness, seed):
    evaluate = harness.load_job_module("evaluate")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300).astype(float)
    scores = np.round(rng.random(300) * 0.6 + labels * 0.3, 1)  # rounded: many tied scores
    binary = evaluate.classification_metrics(labels, scores, binary=True)
    predicted = (scores >= 0.5).astype(int)
    assert binary["auc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert binary["f1"] == pytest.approx(f1_score(labels, predicted, zero_division=0), abs=1e-12)
    assert binary["accuracy"] == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)

    classes = rng.integers(0, 4, 200)
    classes[classes == 3] = 2  # class 3 never present in the labels, yet it can be predicted
    probabilities = np.round(rng.dirichlet(np.ones(4), 200), 1)
    multi = evaluate.classification_metrics(classes.astype(float), probabilities, binary=False)
    chosen = probabilities.argmax(axis=1)
    one_vs_rest = [roc_auc_score(classes == k, probabilities[:, k]) for k in range(3)]
    assert multi["auc"] == pytest.approx(np.mean(one_vs_rest), abs=1e-12)
    assert multi["f1"] == pytest.approx(f1_score(classes, chosen, average="macro", zero_division=0), abs=1e-12)
    assert multi["accuracy"] == pytest.approx(accuracy_score(classes, chosen), abs=1e-12)


def test_evaluate_auc_is_none_with_one_class_and_f1_zero_without_positives(harness):
    evaluate = harness.load_job_module("evaluate")
    metrics = evaluate.classification_metrics(np.zeros(5), np.full(5, 0.2), binary=True)
    assert metrics["auc"] is None and metrics["f1"] == 0.0 and metrics["accuracy"] == 1.0
