"""Training and processing jobs really run their scripts under the script-mode contract."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from driftline_local.sagemaker import interrupt_training_job

from .sagemaker_testkit import at_least, job_log, processing_request, training_request, wait_for


def _status(aws: Callable[[str], Any], name: str) -> str:
    return aws("sagemaker").describe_training_job(TrainingJobName=name)["TrainingJobStatus"]


def _ended(aws: Callable[[str], Any], name: str, timeout: float = 30.0) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (d := aws("sagemaker").describe_training_job(TrainingJobName=name))["TrainingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        timeout,
    )


def _put_training_data(aws: Callable[[str], Any], bucket: str) -> None:
    aws("s3").put_object(Bucket=bucket, Key="data/train/part/data.csv", Body=b"1,2\n3,4\n5,6\n")


def _untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_training_job_runs_the_script_and_uploads_model_checkpoints_and_events(aws, bucket, code, event_queue):
    # Given training data, the job code and a rule that catches this job's state changes
    _put_training_data(aws, bucket)
    name = f"train-{uuid.uuid4().hex[:8]}"
    events = event_queue(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Training Job State Change"],
            "detail": {"TrainingJobName": [name]},
        }
    )

    # When the training job is created
    aws("sagemaker").create_training_job(**training_request(name, bucket, code, epochs=3))

    # Then it is in progress at first, and completes with the script's model as model.tar.gz
    assert _status(aws, name) == "InProgress"
    job = _ended(aws, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{bucket}/runs/model/{name}/output/model.tar.gz"
    assert 1 <= job["BillableTimeInSeconds"] <= job["TrainingTimeInSeconds"]
    model = json.loads(
        _untar(aws("s3").get_object(Bucket=bucket, Key=f"runs/model/{name}/output/model.tar.gz")["Body"].read())[
            "model.json"
        ]
    )
    assert model["factor"] == 3
    assert model["hps"] == {"epochs": 3, "checkpoint_dir": model["hps"]["checkpoint_dir"]}
    assert model["hps"]["checkpoint_dir"].endswith(f"/jobs/{name}/checkpoints")
    assert model["channels"] == ["train"]
    assert model["argv"][-2:] == ["--epochs", "3"]
    output = _untar(aws("s3").get_object(Bucket=bucket, Key=f"runs/model/{name}/output/output.tar.gz")["Body"].read())
    assert json.loads(output["summary.json"]) == {"rows": 3}
    checkpoints = aws("s3").list_objects_v2(Bucket=bucket, Prefix="runs/checkpoints/")["Contents"]
    assert {c["Key"] for c in checkpoints} == {f"runs/checkpoints/checkpoint-{i}.json" for i in range(3)}
    logs = aws("logs").filter_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name)
    assert any(e["message"] == "epoch=2" for e in logs["events"])
    # And a state-change event in AWS's shape went onto the bus for each primary status
    caught = at_least(events, 2)
    assert [e["detail"]["TrainingJobStatus"] for e in caught] == ["InProgress", "Completed"]
    assert caught[-1]["source"] == "aws.sagemaker"
    assert caught[-1]["resources"] == [job["TrainingJobArn"]]
    assert caught[-1]["detail"]["ModelArtifacts"] == job["ModelArtifacts"]
    assert isinstance(caught[-1]["detail"]["TrainingEndTime"], int)


def test_failing_training_script_fails_the_job_with_the_scripts_error(aws, bucket, code):
    _put_training_data(aws, bucket)
    name = f"train-fail-{uuid.uuid4().hex[:8]}"

    aws("sagemaker").create_training_job(**training_request(name, bucket, code, fail="label column missing"))

    job = _ended(aws, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError:")
    assert 'ErrorMessage "ValueError: label column missing"' in job["FailureReason"]


def test_duplicate_training_job_name_is_rejected(aws, bucket, code):
    _put_training_data(aws, bucket)
    name = f"train-dup-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_training_job(**training_request(name, bucket, code))

    with pytest.raises(aws("sagemaker").exceptions.ClientError, match="must be unique"):
        aws("sagemaker").create_training_job(**training_request(name, bucket, code))
    _ended(aws, name)


def test_stop_training_job_stops_the_script_and_ends_stopped(aws, bucket, code, event_queue):
    _put_training_data(aws, bucket)
    name = f"train-stop-{uuid.uuid4().hex[:8]}"
    events = event_queue({"source": ["aws.sagemaker"], "detail": {"TrainingJobName": [name]}})
    aws("sagemaker").create_training_job(**training_request(name, bucket, code, epochs=100, sleep=0.2))
    wait_for(lambda: aws("s3").list_objects_v2(Bucket=bucket, Prefix="runs/checkpoints/checkpoint-0").get("KeyCount"))

    aws("sagemaker").stop_training_job(TrainingJobName=name)

    assert _status(aws, name) in ("Stopping", "Stopped")
    job = _ended(aws, name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    statuses = [e["detail"]["TrainingJobStatus"] for e in at_least(events, 3)]
    assert statuses == ["InProgress", "Stopping", "Stopped"]
    # the script's SIGTERM checkpoint was synced to S3 before the job ended
    keys = {c["Key"] for c in aws("s3").list_objects_v2(Bucket=bucket, Prefix="runs/checkpoints/")["Contents"]}
    assert "runs/checkpoints/on-sigterm.json" in keys


def test_spot_interruption_without_capacity_ends_the_job_at_max_wait_with_checkpoints_saved(
    aws, bucket, code, event_queue
):
    _put_training_data(aws, bucket)
    name = f"train-spot-{uuid.uuid4().hex[:8]}"
    events = event_queue({"source": ["aws.sagemaker"], "detail": {"TrainingJobName": [name]}})
    aws("sagemaker").create_training_job(**training_request(name, bucket, code, epochs=100, sleep=0.2))
    wait_for(lambda: aws("s3").list_objects_v2(Bucket=bucket, Prefix="runs/checkpoints/checkpoint-1").get("KeyCount"))

    interrupt_training_job(name, notice_seconds=2)

    job = _ended(aws, name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxWaitTimeExceeded")
    assert "Interrupted" in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    secondary = [e["detail"]["SecondaryStatus"] for e in at_least(events, 3)]
    assert secondary == ["Starting", "Interrupted", "MaxWaitTimeExceeded"]
    keys = {c["Key"] for c in aws("s3").list_objects_v2(Bucket=bucket, Prefix="runs/checkpoints/")["Contents"]}
    assert "runs/checkpoints/on-sigterm.json" in keys


def test_spot_interruption_with_capacity_back_resumes_from_checkpoints(aws, bucket, code):
    _put_training_data(aws, bucket)
    name = f"train-resume-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_training_job(**training_request(name, bucket, code, epochs=6, sleep=0.3))
    wait_for(lambda: aws("s3").list_objects_v2(Bucket=bucket, Prefix="runs/checkpoints/checkpoint-1").get("KeyCount"))

    interrupt_training_job(name, notice_seconds=1, outcome="resume")

    job = _ended(aws, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    model_tar = aws("s3").get_object(Bucket=bucket, Key=f"runs/model/{name}/output/model.tar.gz")["Body"].read()
    model = json.loads(_untar(model_tar)["model.json"])
    assert "checkpoint-0.json" in model["resumed"]


def test_processing_job_downloads_inputs_runs_entrypoint_and_uploads_outputs(aws, bucket, code, event_queue):
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"x,y\n")
    aws("s3").put_object(Bucket=bucket, Key="incoming/more/b.csv", Body=b"z,w\n")
    name = f"process-{uuid.uuid4().hex[:8]}"
    events = event_queue(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Processing Job State Change"],
            "detail": {"ProcessingJobName": [name]},
        }
    )

    aws("sagemaker").create_processing_job(**processing_request(name, bucket, code))

    job = wait_for(
        lambda: (
            (d := aws("sagemaker").describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
            != "InProgress"
            and d
        )
    )
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    body = aws("s3").get_object(Bucket=bucket, Key="runs/splits/train/train.csv")["Body"].read()
    assert body == b"X,Y\nZ,W\n"
    logs = aws("logs").filter_log_events(logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=name)
    assert any("MODE = local" in e["message"] for e in logs["events"])
    statuses = [e["detail"]["ProcessingJobStatus"] for e in at_least(events, 2)]
    assert statuses == ["InProgress", "Completed"]


def test_failing_processing_script_fails_the_job_with_its_error(aws, bucket, code):
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"x\n")
    name = f"process-fail-{uuid.uuid4().hex[:8]}"

    aws("sagemaker").create_processing_job(**processing_request(name, bucket, code, "--fail", "no config"))

    job = wait_for(
        lambda: (
            (d := aws("sagemaker").describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
            != "InProgress"
            and d
        )
    )
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: See job logs for more information"  # what AWS says
    assert "RuntimeError: no config" in job_log(aws, name)


def test_a_processing_job_explains_its_failure_through_its_exit_message(aws, bucket):
    # Given a processing script that writes why it fails where SageMaker reads it (/opt/ml/output/message)
    script = (
        "import pathlib, sys\n"
        "path = pathlib.Path(sys.argv[sys.argv.index('--exit-message') + 1])\n"
        "path.parent.mkdir(parents=True, exist_ok=True)\n"
        "path.write_text('incoming/m/a.csv, line 3: 9 fields, the header has 8')\n"
        "sys.exit(1)\n"
    )
    aws("s3").put_object(Bucket=bucket, Key="explains/src/process.py", Body=script.encode())
    aws("s3").put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"x\n")
    name = f"process-explains-{uuid.uuid4().hex[:8]}"

    # When it runs and fails
    aws("sagemaker").create_processing_job(
        **processing_request(name, bucket, f"s3://{bucket}/explains", "--exit-message", "/opt/ml/output/message")
    )

    # Then the reason is SageMaker's generic one and the job's own words are its ExitMessage
    job = wait_for(
        lambda: (
            (d := aws("sagemaker").describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
            != "InProgress"
            and d
        )
    )
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert job["ExitMessage"] == "incoming/m/a.csv, line 3: 9 fields, the header has 8"
