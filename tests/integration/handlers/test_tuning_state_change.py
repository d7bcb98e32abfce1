"""on_training_state_change and a tuning job's end: the trials recorded, the best model on, or the reason paged."""

import copy
from datetime import UTC, datetime

import boto3
import pytest
from driftline import aws, state

from .conftest import REGION, invoke

MODEL = "bank-marketing"
RUN = "bank-marketing-upload-20261201T050000"
TUNING = "bank-marketing-up-fb4d15d283-hpo"
TRIALS = [f"{TUNING}-001-aaaa1111", f"{TUNING}-002-bbbb2222", f"{TUNING}-003-cccc3333"]
EVENT = {
    "version": "0",
    "id": "5d6f1a1e-0000-4000-8000-000000000001",
    "detail-type": "SageMaker HyperParameter Tuning Job State Change",
    "source": "aws.sagemaker",
    "account": "123456789012",
    "time": "2026-12-01T05:30:00Z",
    "region": REGION,
    "resources": [f"arn:aws:sagemaker:{REGION}:123456789012:hyper-parameter-tuning-job/{TUNING}"],
    # What SageMaker's event holds (its EventBridge reference): no BestTrainingJob, no FailureReason.
    "detail": {
        "HyperParameterTuningJobName": TUNING,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:hyper-parameter-tuning-job/{TUNING}",
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": 1795842000000,
        "LastModifiedTime": 1795843800000,
        "TrainingJobStatusCounters": {"Completed": 2, "NonRetryableError": 1},
        "ObjectiveStatusCounters": {"Succeeded": 2, "Pending": 0, "Failed": 1},
        "Tags": {},
    },
}
# What DescribeHyperParameterTuningJob answers once the job has ended.
DESCRIBED = {
    "HyperParameterTuningJobName": TUNING,
    "HyperParameterTuningJobStatus": "Completed",
    "BestTrainingJob": {
        "TrainingJobName": TRIALS[1],
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": 0.91},
    },
    "TrainingJobStatusCounters": {"Completed": 2, "NonRetryableError": 1},
}


@pytest.fixture
def described(monkeypatch):
    """DescribeHyperParameterTuningJob's answer (moto invents a best training job of its own)."""
    answer = copy.deepcopy(DESCRIBED)
    monkeypatch.setattr(
        aws.client("sagemaker"),
        "describe_hyper_parameter_tuning_job",
        lambda **kwargs: answer if kwargs["HyperParameterTuningJobName"] == TUNING else {},
    )
    return answer


@pytest.fixture
def trials(stack, monkeypatch, described):
    """Three trials as SageMaker lists them (moto has no ListTrainingJobsForHyperParameterTuningJob)."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for name in TRIALS:
        sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
            RoleArn="arn:aws:iam::123456789012:role/sm",
            OutputDataConfig={"S3OutputPath": f"s3://{stack.artifact_bucket}/{MODEL}/runs/{RUN}/model/"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
    created = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    summaries = [
        {
            "TrainingJobName": TRIALS[0],
            "TrainingJobStatus": "Completed",
            "CreationTime": created,
            "TunedHyperParameters": {"eta": "0.1"},
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": 0.85},
            "ObjectiveStatus": "Succeeded",
        },
        {
            "TrainingJobName": TRIALS[1],
            "TrainingJobStatus": "Completed",
            "CreationTime": created.replace(minute=1),
            "TunedHyperParameters": {"eta": "0.3"},
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "validation:auc", "Value": 0.91},
            "ObjectiveStatus": "Succeeded",
        },
        {
            "TrainingJobName": TRIALS[2],
            "TrainingJobStatus": "Failed",
            "CreationTime": created.replace(minute=2),
            "TunedHyperParameters": {"eta": "0.9"},
            "FailureReason": "AlgorithmError: monotone constraints exceed the features",
            "ObjectiveStatus": "Failed",
        },
    ]
    client = aws.client("sagemaker")
    monkeypatch.setattr(
        client,
        "list_training_jobs_for_hyper_parameter_tuning_job",
        lambda **kwargs: {"TrainingJobSummaries": summaries} if kwargs["HyperParameterTuningJobName"] == TUNING else {},
        raising=False,
    )
    state.put_training_token(TUNING, "token-1", MODEL, RUN, policy={"tuning": True})
    state.put_run(MODEL, RUN, status="TUNING", tuning={"job": TUNING, "status": "InProgress", "strategy": "Random"})
    return summaries


def test_a_completed_tuning_job_records_every_trial_and_continues_with_the_best(trials):
    first = invoke("on_training_state_change", copy.deepcopy(EVENT))
    duplicate = invoke("on_training_state_change", copy.deepcopy(EVENT))

    assert first == {"tuning_job": TUNING, "action": "completed", "best": TRIALS[1]}
    assert duplicate["action"] == "ignored"
    run = state.get_run(MODEL, RUN)
    recorded = run["tuning"]
    assert recorded["strategy"] == "Random" and recorded["best_training_job"] == TRIALS[1]
    assert [(t["job_name"], t["params"], t["status"]) for t in recorded["trials"]] == [
        (TRIALS[0], {"eta": "0.1"}, "Completed"),
        (TRIALS[1], {"eta": "0.3"}, "Completed"),
        (TRIALS[2], {"eta": "0.9"}, "Failed"),
    ]
    assert [float(t["objective"]) if t["objective"] is not None else None for t in recorded["trials"]] == [
        0.85,
        0.91,
        None,
    ]
    # the best trial is the run's training job from here on (report, registry, rollout)
    assert run["training_job"] == TRIALS[1]
    assert [a["job_name"] for a in run["attempts"]] == [TRIALS[1]]


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        ("Failed", "ClientError: the tuning job failed", "TuningJobFailed"),
        ("Stopped", None, "TuningJobStopped"),
        ("Completed", None, "TuningFoundNoModel"),
    ],
)
def test_a_tuning_job_without_a_best_trial_fails_the_run_with_the_reason(trials, described, status, reason, error):
    event = copy.deepcopy(EVENT)
    event["detail"]["HyperParameterTuningJobStatus"] = status
    described |= {"HyperParameterTuningJobStatus": status, "FailureReason": reason}
    described.pop("BestTrainingJob")

    outcome = invoke("on_training_state_change", event)

    assert outcome["action"] == "failed" and outcome["error"] == error
    assert state.get_run(MODEL, RUN)["tuning"]["status"] == status
    assert state.get_run(MODEL, RUN)["tuning"]["failure_reason"] == reason  # from Describe: the event has none


def test_an_in_progress_tuning_event_changes_nothing(trials):
    event = copy.deepcopy(EVENT)
    event["detail"]["HyperParameterTuningJobStatus"] = "InProgress"

    assert invoke("on_training_state_change", event)["action"] == "none"
    assert state.claim_training_token(TUNING) is not None
