"""training.instance_count: 2 from model.yaml alone: preprocessing writes one train file per host, so
ShardedByS3Key gives each of the two training hosts rows, and the model they train together is served.
(The distributed model's quality against a single-instance one is tested in
tests/integration/sagemaker/test_distributed_training.py.)"""

import re

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, predict, upload_frames, wait_for_run
from driftline_local.sample_data import generate_bank_marketing

pytestmark = pytest.mark.e2e

CONFIG = f"""name: twohosts
problem_type: binary_classification
target: y
drop_columns: [duration]
{FAST_TIMINGS}training:
  instance_count: 2
  hyperparameters:
    num_round: 60
"""
HOST_ROWS = re.compile(r"host (algo-\d+) \(rank \d+ of 2\) trains on (\d+) rows")
TRAINING_ROWS = re.compile(r"training on (\d+) rows x")


def host_logs(clients: Clients, job: str) -> dict[str, str]:
    """Each training host's log (SageMaker's /aws/sagemaker/TrainingJobs streams, <job>/<host>-<started>)."""
    logs = clients("logs")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job}/")["logStreams"]
    text = {}
    for stream in streams:
        name = stream["logStreamName"]
        events = logs.get_log_events(logGroupName=group, logStreamName=name, startFromHead=True)["events"]
        text[name.removeprefix(f"{job}/")] = "\n".join(e["message"] for e in events)
    return text


def test_two_training_instances_each_train_on_their_own_rows_and_the_model_serves(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG, "twohosts")

    since = upload_frames(clients, stack, "twohosts", [generate_bank_marketing(4000, seed=21)])
    result = wait_for_run(clients, stack, "twohosts", since, progress=lambda message: None, timeout=600)

    assert result.status == "SUCCEEDED", result.error
    sagemaker = clients("sagemaker")
    assert sagemaker.describe_endpoint(EndpointName=result.endpoint_name)["EndpointStatus"] == "InService"
    (job,) = [
        j["TrainingJobName"] for j in sagemaker.list_training_jobs(NameContains=result.run_id)["TrainingJobSummaries"]
    ]
    assert sagemaker.describe_training_job(TrainingJobName=job)["ResourceConfig"]["InstanceCount"] == 2
    # the preprocessing job wrote the train split as two files (one per training host)
    train = clients("s3").list_objects_v2(Bucket=stack.artifact_bucket, Prefix=f"twohosts/runs/{result.run_id}/train/")
    assert len([o for o in train.get("Contents", []) if o["Key"].endswith(".csv")]) == 2
    # each host's log says it trained on its own rows, and together they are the whole train split
    logs = host_logs(clients, job)
    per_host = {m[1]: int(m[2]) for text in logs.values() for m in HOST_ROWS.finditer(text)}
    assert sorted(per_host) == ["algo-1", "algo-2"], logs.keys()
    assert all(rows > 0 for rows in per_host.values()), per_host
    (total,) = {int(m[1]) for text in logs.values() for m in TRAINING_ROWS.finditer(text)}
    assert sum(per_host.values()) == total
    assert result.metrics["auc"] > 0.7
    fresh = generate_bank_marketing(50, seed=22).drop(columns=["y"])
    assert len(predict(clients, result.endpoint_name, fresh)) == 50


SHARDED_PREPROCESSING = f"""name: twoprep
problem_type: binary_classification
target: y
drop_columns: [duration]
{FAST_TIMINGS}processing:
  instance_count: 2
training:
  hyperparameters:
    num_round: 40
"""


def test_two_preprocessing_instances_share_the_uploads_and_the_model_serves(cloud):
    # Given a model whose model.yaml asks for two preprocessing instances, and four uploaded files
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, SHARDED_PREPROCESSING, "twoprep")
    frames = [generate_bank_marketing(1000, seed=31 + part) for part in range(4)]

    # When the uploads settle and the run goes through
    since = upload_frames(clients, stack, "twoprep", frames)
    result = wait_for_run(clients, stack, "twoprep", since, progress=lambda message: None, timeout=600)

    # Then a sharded statistics job and a sharded encode job ran on two instances each
    assert result.status == "SUCCEEDED", result.error
    sagemaker = clients("sagemaker")
    jobs = {
        name: sagemaker.describe_processing_job(ProcessingJobName=f"{result.run_id}-{name}")
        for name in ("statistics", "preprocess")
    }
    for job in jobs.values():
        assert job["ProcessingJobStatus"] == "Completed"
        assert job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
        (data,) = [i["S3Input"] for i in job["ProcessingInputs"] if i["InputName"] == "data"]
        assert data["S3DataDistributionType"] == "ShardedByS3Key"
    s3 = clients("s3")
    run = f"twoprep/runs/{result.run_id}"

    def keys(prefix: str) -> list[str]:
        listed = s3.list_objects_v2(Bucket=stack.artifact_bucket, Prefix=f"{run}/{prefix}/").get("Contents", [])
        return sorted(o["Key"].removeprefix(f"{run}/{prefix}/") for o in listed)

    # each host wrote its own statistics, each encoded its share of the rows, one preprocessor.json for both
    assert keys("statistics") == ["algo-1-sample.csv", "algo-1.json", "algo-2-sample.csv", "algo-2.json"]
    assert any("algo-2" in key for key in keys("train")), keys("train")
    assert keys("preprocessor") == ["preprocessor.json"]
    assert sagemaker.describe_endpoint(EndpointName=result.endpoint_name)["EndpointStatus"] == "InService"
    assert result.metrics["auc"] > 0.7
    fresh = generate_bank_marketing(50, seed=39).drop(columns=["y"])
    assert len(predict(clients, result.endpoint_name, fresh)) == 50
