"""on_batch_uploaded and on_transform_state_change on moto: what the user and on-call observe."""

import json

import boto3
import pytest
from driftline import state

from .conftest import REGION, invoke, put_config, sample, upload

CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\n"
RUN = "bank-marketing-upload-20261128T050000"
PREPROCESSOR = {"features": [{"name": "age", "type": "numeric"}, {"name": "job", "type": "categorical"}]}
GOOD = b"job,customer,age\nadmin.,c-1,41\ntechnician,c-2,35\n"
WITH_IDS = CONFIG + "batch: {id_column: customer}\n"


def _in_production(stack) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.artifact_bucket,
        Key=f"bank-marketing/runs/{RUN}/preprocessor/preprocessor.json",
        Body=json.dumps(PREPROCESSOR).encode(),
    )
    state.put_production("bank-marketing", run_id=RUN, endpoint_name="driftline-bank-marketing")


def _drop(stack, name: str, body: bytes, sequencer: str = "01") -> dict:
    return upload(stack, f"batch/bank-marketing/{name}", body, sequencer=sequencer)


def _jobs() -> list[str]:
    listing = boto3.client("sagemaker", region_name=REGION).list_transform_jobs()["TransformJobSummaries"]
    return [job["TransformJobName"] for job in listing]


def _keys(stack, prefix: str) -> list[str]:
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=stack.data_bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def _kind(page: dict) -> str:
    return page["MessageAttributes"]["kind"]["Value"]


def test_a_valid_file_starts_a_transform_job_with_the_production_model(stack):
    put_config(stack, WITH_IDS)
    _in_production(stack)

    outcome = invoke("on_batch_uploaded", _drop(stack, "nov.csv", GOOD))

    assert outcome["outcome"] == "started"
    assert outcome["output_key"] == "predictions/bank-marketing/nov.csv.out"
    job = boto3.client("sagemaker", region_name=REGION).describe_transform_job(TransformJobName=outcome["job_name"])
    assert job["ModelName"] == f"{RUN}-model"
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{stack.data_bucket}/predictions/bank-marketing/"
    assert job["DataProcessing"]["JoinSource"] == "Input"
    staged_uri = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, prefix = staged_uri.removeprefix("s3://").split("/", 1)
    staged = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=prefix + "nov.csv")["Body"].read()
    assert staged == b"c-1,41,admin.\nc-2,35,technician\n"
    record = state.get_batch("bank-marketing", outcome["job_name"])
    assert (record["status"], record["rows"], record["file"]) == ("STARTED", 2, "batch/bank-marketing/nov.csv")
    assert stack.pages() == []


def test_a_bad_file_is_quarantined_with_its_reason_and_paged(stack):
    put_config(stack, CONFIG)
    _in_production(stack)
    body = b"customer,age\nc-1,41\n"

    outcome = invoke("on_batch_uploaded", _drop(stack, "nov.csv", body))

    assert outcome["outcome"] == "quarantined"
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_object(Bucket=stack.data_bucket, Key=outcome["quarantine_key"])["Body"].read() == body
    reason = json.loads(
        s3.get_object(Bucket=stack.data_bucket, Key=outcome["quarantine_key"] + ".reason.json")["Body"].read()
    )
    assert "missing feature column(s) job" in reason["reason"]
    assert "batch/<model>/" in reason["what_to_do"]
    assert _keys(stack, "batch/") == []
    assert _jobs() == []
    [page] = stack.pages()
    assert "batch file rejected" in page["Subject"] and "missing feature column(s) job" in page["Message"]
    assert _kind(page) == "batch-rejected"


def test_a_drop_while_no_model_is_in_production_is_kept_and_paged(stack):
    put_config(stack, WITH_IDS)

    outcome = invoke("on_batch_uploaded", _drop(stack, "nov.csv", GOOD))

    assert outcome["outcome"] == "kept"
    assert _keys(stack, "batch/") == ["batch/bank-marketing/nov.csv"]
    assert _jobs() == []
    [page] = stack.pages()
    assert _kind(page) == "batch-kept" and "no model of this name is in production" in page["Message"]


def test_a_duplicate_event_starts_one_job(stack):
    put_config(stack, CONFIG)
    _in_production(stack)
    event = _drop(stack, "nov.csv", b"age,job\n41,admin.\n")

    first = invoke("on_batch_uploaded", event)
    again = invoke("on_batch_uploaded", event)

    assert (first["outcome"], again["outcome"]) == ("started", "duplicate")
    assert _jobs() == [first["job_name"]]


def test_a_failed_transform_job_pages_with_sagemakers_reason_and_is_recorded(stack):
    put_config(stack, WITH_IDS)
    _in_production(stack)
    started = invoke("on_batch_uploaded", _drop(stack, "nov.csv", GOOD))
    event = sample("transform_job_failed.json")
    event["detail"]["TransformJobName"] = started["job_name"]

    outcome = invoke("on_transform_state_change", event)

    assert outcome["outcome"] == "failed"
    record = state.get_batch("bank-marketing", started["job_name"])
    assert (record["status"], record["failure_reason"]) == ("FAILED", "ClientError: See job logs for more information")
    [page] = stack.pages()
    assert _kind(page) == "batch-failed"
    assert "ClientError: See job logs" in page["Message"] and "batch/bank-marketing/nov.csv" in page["Message"]


def test_a_completed_transform_job_is_recorded_with_its_rows_and_output(stack):
    put_config(stack, WITH_IDS)
    _in_production(stack)
    started = invoke("on_batch_uploaded", _drop(stack, "nov.csv", GOOD))
    event = sample("transform_job_failed.json")
    event["detail"].update({"TransformJobName": started["job_name"], "TransformJobStatus": "Completed"})
    del event["detail"]["FailureReason"]

    outcome = invoke("on_transform_state_change", event)

    assert (outcome["outcome"], outcome["rows"], outcome["output_key"]) == (
        "completed",
        2,
        "predictions/bank-marketing/nov.csv.out",
    )
    assert state.get_batch("bank-marketing", started["job_name"])["status"] == "COMPLETED"
    assert stack.pages() == []


def test_a_completed_transform_job_whose_event_carries_no_tags_is_recorded(stack):
    # SageMaker's event reference shows a transform event with "Tags": {}: the job's name names the model
    put_config(stack, WITH_IDS)
    _in_production(stack)
    started = invoke("on_batch_uploaded", _drop(stack, "nov.csv", GOOD))
    event = sample("transform_job_failed.json")
    event["detail"].update({"TransformJobName": started["job_name"], "TransformJobStatus": "Completed", "Tags": {}})
    del event["detail"]["FailureReason"]

    outcome = invoke("on_transform_state_change", event)

    assert outcome["outcome"] == "completed"
    assert state.get_batch("bank-marketing", started["job_name"])["status"] == "COMPLETED"


def test_a_drop_retried_after_its_job_finished_leaves_the_finished_record(stack, monkeypatch):
    from driftline import batch

    put_config(stack, WITH_IDS)
    _in_production(stack)
    event = _drop(stack, "nov.csv", GOOD)

    class CrashAfterStart:  # the invocation dies after CreateTransformJob: the event is delivered again
        def add_dimension(self, **kwargs):
            pass

        def add_metric(self, **kwargs):
            raise RuntimeError("the invocation timed out")

    monkeypatch.setattr(batch, "metrics", CrashAfterStart())
    with pytest.raises(RuntimeError):
        invoke("on_batch_uploaded", event)
    monkeypatch.undo()
    [job] = _jobs()
    finished = sample("transform_job_failed.json")
    finished["detail"].update({"TransformJobName": job, "TransformJobStatus": "Completed"})
    invoke("on_transform_state_change", finished)

    retried = invoke("on_batch_uploaded", event)

    assert (retried["outcome"], retried["job_name"]) == ("started", job)
    assert _jobs() == [job]
    assert state.get_batch("bank-marketing", job)["status"] == "COMPLETED"
