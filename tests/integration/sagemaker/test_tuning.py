"""Hyperparameter tuning jobs really run their trials: within their limits, best trial chosen, events sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .sagemaker_testkit import IMAGE, ROLE, sourcedir, wait_for

# A trial's "model quality" is a known function of its hyperparameter x (best at x = 0.3), logged as
# train.py logs its validation metric; unknown hyperparameters (_tuning_objective_metric) are ignored.
TUNE_PY = """
import json, os, sys, time

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
x = float(args["--x"])
if args.get("--fail"):
    raise ValueError("this trial cannot train: " + args["--fail"])
time.sleep(float(args.get("--sleep", "0")))
score = 1 - (x - 0.3) ** 2
print(f"round=1 validation-auc={score:.6f}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump({"x": x, "objective_metric": args.get("--_tuning_objective_metric")}, f)
"""
TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"


@pytest.fixture
def tune_code(aws: Callable[[str], Any], bucket: str) -> str:
    aws("s3").put_object(Bucket=bucket, Key="code/tune/sourcedir.tar.gz", Body=sourcedir({"tune.py": TUNE_PY}))
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n")
    return f"s3://{bucket}/code/tune/sourcedir.tar.gz"


def tuning_request(bucket: str, code: str, *, max_jobs: int, parallel: int, **static: Any) -> dict[str, Any]:
    name = f"t-{uuid.uuid4().hex[:12]}"
    hyperparameters = {"sagemaker_program": "tune.py", "sagemaker_submit_directory": code} | static
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
            "TrainingJobEarlyStoppingType": "Off",
            "RandomSeed": 7,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {k: json.dumps(v) for k, v in hyperparameters.items()},
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "validation:auc", "Regex": r"validation-auc=([0-9.]+)"}],
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train/"}},
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/tuning/model"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1200},
            "EnableManagedSpotTraining": True,
            "CheckpointConfig": {"S3Uri": f"s3://{bucket}/tuning/checkpoints", "LocalPath": "/opt/ml/checkpoints"},
        },
        "Tags": [{"Key": "driftline:run", "Value": "r1"}],
    }


def _ended(aws: Callable[[str], Any], name: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        described = aws("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        return described if described["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped") else None

    return wait_for(done, timeout=180, interval=0.5)


def _trials(aws: Callable[[str], Any], name: str) -> list[dict[str, Any]]:
    pages = aws("sagemaker").get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    trials = [t for page in pages.paginate(HyperParameterTuningJobName=name) for t in page["TrainingJobSummaries"]]
    return sorted(trials, key=lambda t: t["CreationTime"])


def test_tuning_runs_every_trial_and_names_the_best_one(aws, bucket, tune_code, event_queue):
    events = event_queue({"source": ["aws.sagemaker"], "detail-type": [TUNING_EVENT]})
    request = tuning_request(bucket, tune_code, max_jobs=4, parallel=2)

    aws("sagemaker").create_hyper_parameter_tuning_job(**request)
    described = _ended(aws, request["HyperParameterTuningJobName"])

    trials = _trials(aws, request["HyperParameterTuningJobName"])
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert len(trials) == 4 and all(t["TrainingJobStatus"] == "Completed" for t in trials)
    objectives = {t["TrainingJobName"]: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials}
    for trial in trials:  # each objective is what that trial's x gives
        x = float(trial["TunedHyperParameters"]["x"])
        assert objectives[trial["TrainingJobName"]] == pytest.approx(1 - (x - 0.3) ** 2, abs=1e-5)
    best = max(objectives, key=lambda name: objectives[name])
    assert described["BestTrainingJob"]["TrainingJobName"] == best
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    # a trial is a training job of its own: the tuning job's tags, its own checkpoints, the objective's name
    job = aws("sagemaker").describe_training_job(TrainingJobName=best)
    assert job["TuningJobArn"] == described["HyperParameterTuningJobArn"]
    assert job["CheckpointConfig"]["S3Uri"].endswith(f"/tuning/checkpoints/{best}")
    assert job["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
    ended = wait_for(lambda: [e for e in events() if e["detail"]["HyperParameterTuningJobStatus"] == "Completed"])
    # the event has what SageMaker's has: counters, no BestTrainingJob (a handler describes the job for it)
    assert ended[0]["detail"]["TrainingJobStatusCounters"]["Completed"] == 4
    assert "BestTrainingJob" not in ended[0]["detail"] and "FailureReason" not in ended[0]["detail"]


def test_trials_never_run_beyond_max_parallel_jobs(aws, bucket, tune_code):
    request = tuning_request(bucket, tune_code, max_jobs=3, parallel=1, sleep=0.5)

    aws("sagemaker").create_hyper_parameter_tuning_job(**request)
    _ended(aws, request["HyperParameterTuningJobName"])

    trials = _trials(aws, request["HyperParameterTuningJobName"])
    assert len(trials) == 3
    for earlier, later in zip(trials, trials[1:], strict=False):  # each trial is created after the last one ended
        assert later["CreationTime"] >= earlier["TrainingEndTime"]


def test_a_tuning_job_whose_trials_all_fail_fails_with_their_reason(aws, bucket, tune_code, event_queue):
    events = event_queue({"source": ["aws.sagemaker"], "detail-type": [TUNING_EVENT]})
    request = tuning_request(bucket, tune_code, max_jobs=2, parallel=2, fail="bad data")

    aws("sagemaker").create_hyper_parameter_tuning_job(**request)
    described = _ended(aws, request["HyperParameterTuningJobName"])

    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "this trial cannot train: bad data" in described["FailureReason"]
    assert "BestTrainingJob" not in described
    assert wait_for(lambda: [e for e in events() if e["detail"]["HyperParameterTuningJobStatus"] == "Failed"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(HyperParameterTuningJobName="x" * 33), "length less than or equal to 32"),
        # The enum is Off | Auto (botocore's TrainingJobEarlyStoppingType), whatever the API's prose spells
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(TrainingJobEarlyStoppingType="OFF"),
            "Member must satisfy enum value set: [Off, Auto]",
        ),
        (
            lambda r: r["TrainingJobDefinition"]["StaticHyperParameters"].update(x="0.5"),
            "specified as both static and tunable",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(
                Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto"
            ),
            "must be Off when Strategy is Hyperband",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"].update(MetricName="loss"),
            "is not defined in the algorithm's MetricDefinitions",
        ),
        (
            lambda r: r.update(
                WarmStartConfig={
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "never-ran"}],
                    "WarmStartType": "TransferLearning",
                }
            ),
            "Parent tuning job never-ran does not exist",
        ),
    ],
)
def test_requests_sagemaker_refuses_are_refused(aws, bucket, tune_code, change, message):
    request = tuning_request(bucket, tune_code, max_jobs=1, parallel=1)
    change(request)

    with pytest.raises(ClientError) as refused:
        aws("sagemaker").create_hyper_parameter_tuning_job(**request)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]


def test_listing_trials_of_an_unknown_tuning_job_is_refused(aws):
    with pytest.raises(ClientError) as refused:
        aws("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")

    assert "Could not find" in refused.value.response["Error"]["Message"]


# A trial that checkpoints each epoch and says which checkpoints it resumed from.
TUNE_SPOT_PY = """
import json, os, sys, time

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
x, checkpoints = float(args["--x"]), args["--checkpoint_dir"]
os.makedirs(checkpoints, exist_ok=True)
resumed = sorted(os.listdir(checkpoints))
for epoch in range(3):
    if f"checkpoint-{epoch}.json" in resumed:
        continue
    with open(os.path.join(checkpoints, f"checkpoint-{epoch}.json"), "w") as f:
        json.dump({"x": x}, f)
    print(f"spot-trial epoch={epoch}", flush=True)
    time.sleep(0.5)
print(f"round=3 validation-auc={1 - (x - 0.3) ** 2:.6f}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump({"x": x, "resumed": resumed}, f)
"""


def test_a_spot_interrupted_trial_restarts_in_place_from_its_own_checkpoints(aws, bucket, tune_code):
    import io
    import re
    import tarfile

    from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption

    from .sagemaker_testkit import sourcedir as make_sourcedir

    # Given trials that checkpoint every epoch, and spot capacity reclaimed from the first trial to reach epoch 1
    aws("s3").put_object(
        Bucket=bucket, Key="code/tune/sourcedir.tar.gz", Body=make_sourcedir({"tune.py": TUNE_SPOT_PY})
    )
    request = tuning_request(bucket, tune_code, max_jobs=2, parallel=2, checkpoint_dir="/opt/ml/checkpoints")
    plan = plan_training_interruption(
        PlannedInterruption("", re.compile(r"^spot-trial epoch=(\d+)$"), at_least=1, notice_seconds=1, outcome="resume")
    )

    # When the tuning job runs
    aws("sagemaker").create_hyper_parameter_tuning_job(**request)
    described = _ended(aws, request["HyperParameterTuningJobName"])

    # Then the interrupted trial was restarted in place (same name), resumed from its own checkpoints, and counted
    assert plan.fired.is_set(), "the planned interruption never landed"
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    trials = _trials(aws, request["HyperParameterTuningJobName"])
    assert [t["TrainingJobStatus"] for t in trials] == ["Completed", "Completed"]
    jobs = [aws("sagemaker").describe_training_job(TrainingJobName=t["TrainingJobName"]) for t in trials]
    [interrupted] = [j for j in jobs if "Interrupted" in [s["Status"] for s in j["SecondaryStatusTransitions"]]]

    def model_of(job: dict) -> dict:
        artifact = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
        body = aws("s3").get_object(Bucket=bucket, Key=artifact)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            return json.loads(tar.extractfile("model.json").read())  # type: ignore[union-attr]

    model = model_of(interrupted)
    assert model["resumed"][:2] == ["checkpoint-0.json", "checkpoint-1.json"]
    # the other trial never saw those checkpoints: each trial has its own prefix
    [other] = [j for j in jobs if j["TrainingJobName"] != interrupted["TrainingJobName"]]
    assert model_of(other)["resumed"] == []
    assert float(model["x"]) == pytest.approx(float(next(
        t["TunedHyperParameters"]["x"] for t in trials if t["TrainingJobName"] == interrupted["TrainingJobName"]
    )))  # fmt: skip
    assert all(t.get("FinalHyperParameterTuningJobObjectiveMetric") for t in trials)


def test_a_warm_started_tuning_job_learns_from_its_parents_trials(aws, bucket, tune_code):
    from driftline_local.sagemaker.tuning import tuning_job

    parent = tuning_request(bucket, tune_code, max_jobs=2, parallel=2)
    aws("sagemaker").create_hyper_parameter_tuning_job(**parent)
    _ended(aws, parent["HyperParameterTuningJobName"])
    child = tuning_request(bucket, tune_code, max_jobs=1, parallel=1)
    child["HyperParameterTuningJobConfig"]["Strategy"] = "Bayesian"
    child["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent["HyperParameterTuningJobName"]}],
        "WarmStartType": "TransferLearning",
    }

    aws("sagemaker").create_hyper_parameter_tuning_job(**child)
    described = _ended(aws, child["HyperParameterTuningJobName"])

    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["WarmStartConfig"]["WarmStartType"] == "TransferLearning"
    # the child's search knew the parent's two results before its own trial reported
    assert len(tuning_job(child["HyperParameterTuningJobName"]).search.seen) == 3
    # and only the child's own trials are its trials
    assert len(_trials(aws, child["HyperParameterTuningJobName"])) == 1


@pytest.mark.parametrize(
    ("tuning", "branch"), [(None, "Train the model"), ({"any": "request"}, "Tune the hyperparameters")]
)
def test_the_pipeline_tunes_only_when_the_plan_has_a_tuning_job(aws, tuning, branch):
    # Given TrainingPipeline's own choice state, with each branch's first state stubbed
    from pathlib import Path

    definition = json.loads(
        (Path(__file__).resolve().parents[3] / "statemachines" / "training_pipeline.asl.json").read_text()
    )
    choice = definition["States"]["Is tuning configured?"]
    targets = {c["Next"] for c in choice["Choices"]} | {choice["Default"]}
    machine = {
        "StartAt": "Is tuning configured?",
        "States": {"Is tuning configured?": choice}
        | {name: {"Type": "Pass", "Result": name, "ResultPath": "$.branch", "End": True} for name in targets},
    }
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"choice-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(machine),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]

    # When a run's plan has (or has not) a tuning request
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"plan": {"Payload": {"tuning": tuning}}}))
    described = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] != "RUNNING" and d
    )

    # Then the run takes the matching branch
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["branch"] == branch


def test_a_warm_start_with_one_more_hyperparameter_than_its_parent_is_refused(aws, bucket, tune_code):
    # SageMaker: "The total number of static plus tunable hyperparameters must remain the same between parent
    # jobs and the new tuning job"
    parent = tuning_request(bucket, tune_code, max_jobs=1, parallel=1)
    aws("sagemaker").create_hyper_parameter_tuning_job(**parent)
    _ended(aws, parent["HyperParameterTuningJobName"])
    child = tuning_request(bucket, tune_code, max_jobs=1, parallel=1, gamma=1)
    child["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent["HyperParameterTuningJobName"]}],
        "WarmStartType": "TransferLearning",
    }

    with pytest.raises(ClientError) as refused:
        aws("sagemaker").create_hyper_parameter_tuning_job(**child)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "static plus tunable hyperparameters must remain the same" in refused.value.response["Error"]["Message"]
