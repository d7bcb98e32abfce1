"""on_config_uploaded and on_data_uploaded on moto: what the user and on-call observe."""

import json

import boto3
import pytest
from driftline import dashboards, state

from .conftest import REGION, invoke, put_config, upload

CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
GOOD = b"age,job,duration,y\n41,admin.,120,no\n35,technician,300,yes\n52,retired,80,no\n"


def _executions(stack):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.list_executions(stateMachineArn=stack.pipeline_arn)["executions"]


def _keys(stack, prefix):
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=stack.data_bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_valid_upload_starts_one_run_named_after_model_and_time(stack):
    put_config(stack, CONFIG)

    outcome = invoke("on_data_uploaded", upload(stack, "incoming/bank-marketing/a.csv", GOOD, sequencer="01"))

    assert outcome["outcome"] == "started"
    assert outcome["run_id"] == "bank-marketing-upload-20261128T050000"
    [execution] = _executions(stack)
    assert execution["name"] == outcome["run_id"]
    assert (
        json.loads(
            boto3.client("stepfunctions", region_name=REGION).describe_execution(
                executionArn=execution["executionArn"]
            )["input"]
        )["model"]
        == "bank-marketing"
    )


def test_burst_of_uploads_gives_exactly_one_run(stack):
    put_config(stack, CONFIG)

    outcomes = [
        invoke(
            "on_data_uploaded",
            upload(
                stack, f"incoming/bank-marketing/part-{i}.csv", GOOD, sequencer=f"0{i}", time=f"2026-11-28T05:00:0{i}Z"
            ),
        )
        for i in range(5)
    ]

    assert [o["outcome"] for o in outcomes] == ["started"] + ["joined"] * 4
    assert len({o["run_id"] for o in outcomes}) == 1
    assert len(_executions(stack)) == 1


def test_duplicate_delivery_of_the_same_event_starts_no_second_run(stack):
    put_config(stack, CONFIG)
    event = upload(stack, "incoming/bank-marketing/a.csv", GOOD, sequencer="01")

    first = invoke("on_data_uploaded", event)
    second = invoke("on_data_uploaded", event)

    assert (first["outcome"], second["outcome"]) == ("started", "duplicate")
    assert len(_executions(stack)) == 1


BAD_UPLOADS = {
    "empty": (b"", "empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    "not-csv": (b"age;job;y\n41;admin.;no\n", "not commas"),
    "no-target": (b"age,job,label\n41,admin.,no\n", "no target column 'y'"),
    "ragged": (b"age,job,y\n41,admin.,no,oops\n", "line 2 has 4 fields"),
}


@pytest.mark.parametrize("kind", sorted(BAD_UPLOADS))
def test_bad_upload_is_quarantined_with_reason_and_paged_and_the_original_kept(stack, kind):
    put_config(stack, CONFIG)
    body, words = BAD_UPLOADS[kind]

    outcome = invoke("on_data_uploaded", upload(stack, f"incoming/bank-marketing/{kind}.csv", body, sequencer="01"))

    assert outcome["outcome"] == "quarantined"
    assert words in outcome["reason"]
    s3 = boto3.client("s3", region_name=REGION)
    kept = s3.get_object(Bucket=stack.data_bucket, Key=outcome["quarantine_key"])["Body"].read()
    assert kept == body
    reason = json.loads(
        s3.get_object(Bucket=stack.data_bucket, Key=outcome["quarantine_key"] + ".reason.json")["Body"].read()
    )
    assert words in reason["reason"]
    assert _keys(stack, "incoming/") == []
    assert _executions(stack) == []
    [page] = stack.pages()
    assert "upload rejected" in page["Subject"]
    assert words in page["Message"] and outcome["quarantine_key"] in page["Message"]
    attributes = {n: v["Value"] for n, v in page["MessageAttributes"].items()}
    assert (attributes["kind"], attributes["model"]) == ("upload-rejected", "bank-marketing")


def test_columns_contradicting_the_inferred_schema_are_quarantined(stack):
    put_config(stack, CONFIG)
    invoke("on_data_uploaded", upload(stack, "incoming/bank-marketing/a.csv", GOOD, sequencer="01"))

    outcome = invoke(
        "on_data_uploaded",
        upload(stack, "incoming/bank-marketing/b.csv", b"age,balance,y\n41,100,no\n", sequencer="02"),
    )

    assert outcome["outcome"] == "quarantined"
    assert "missing feature column(s) job" in outcome["reason"]
    assert "unexpected column(s) at position(s) 2" in outcome["reason"]
    assert "balance" not in outcome["reason"]  # a header from the file is data: never quoted


def test_a_broken_first_file_never_defines_the_schema(stack):
    put_config(stack, CONFIG)
    broken = invoke(
        "on_data_uploaded",
        upload(stack, "incoming/bank-marketing/broken.csv", b"age,job,outcome\n41,admin.,no\n", sequencer="01"),
    )

    good = invoke("on_data_uploaded", upload(stack, "incoming/bank-marketing/a.csv", GOOD, sequencer="02"))

    assert broken["outcome"] == "quarantined" and good["outcome"] == "started"
    assert [f.name for f in state.load_config("bank-marketing").features] == ["age", "job"]


def test_upload_for_a_model_without_config_is_quarantined(stack):
    outcome = invoke("on_data_uploaded", upload(stack, "incoming/ghost/a.csv", GOOD, sequencer="01"))

    assert outcome["outcome"] == "quarantined"
    assert "upload models/ghost/model.yaml first" in outcome["reason"]


def test_oversized_upload_is_quarantined(stack):
    put_config(stack, CONFIG + "limits:\n  max_upload_bytes: 10\n")

    outcome = invoke("on_data_uploaded", upload(stack, "incoming/bank-marketing/a.csv", GOOD, sequencer="01"))

    assert outcome["outcome"] == "quarantined"
    assert "above the limit of 10" in outcome["reason"]


def test_invalid_config_is_paged_with_the_field_and_the_last_valid_one_stays(stack):
    assert put_config(stack, CONFIG)["outcome"] == "activated"

    rejected = put_config(stack, CONFIG.replace("binary_classification", "clustering"))

    assert rejected["outcome"] == "rejected"
    assert "problem_type" in rejected["reason"]
    [page] = stack.pages()
    assert "model.yaml rejected" in page["Subject"] and "problem_type" in page["Message"]
    assert "previous valid config stays active" in page["Message"]
    # Data is still validated against the last valid config.
    outcome = invoke("on_data_uploaded", upload(stack, "incoming/bank-marketing/a.csv", GOOD, sequencer="01"))
    assert outcome["outcome"] == "started"


# --- the exact object version, and a quarantine that cannot lose or collide ---------------------------


def _put(stack, key: str, body: bytes) -> str:
    return boto3.client("s3", region_name=REGION).put_object(Bucket=stack.data_bucket, Key=key, Body=body)["VersionId"]


def _event(key: str, body: bytes, version: str, sequencer: str, time: str = "2026-11-28T05:00:00Z") -> dict:
    from .conftest import sample

    event = sample("data_uploaded.json")
    event.update(id=f"event-{sequencer}", time=time)
    event["detail"]["object"].update({"key": key, "size": len(body), "version-id": version, "sequencer": sequencer})
    return event


def _current(stack, key: str) -> bytes | None:
    try:
        return boto3.client("s3", region_name=REGION).get_object(Bucket=stack.data_bucket, Key=key)["Body"].read()
    except boto3.client("s3", region_name=REGION).exceptions.NoSuchKey:
        return None


BAD = b"age,job,y\n41,admin.,no,oops\n"


def test_good_then_bad_under_one_name_each_event_judges_its_own_version(stack):
    put_config(stack, CONFIG)
    key = "incoming/bank-marketing/a.csv"
    good_version, bad_version = _put(stack, key, GOOD), _put(stack, key, BAD)

    good = invoke("on_data_uploaded", _event(key, GOOD, good_version, "01"))
    bad = invoke("on_data_uploaded", _event(key, BAD, bad_version, "02"))

    assert (good["outcome"], bad["outcome"]) == ("started", "quarantined")
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_object(Bucket=stack.data_bucket, Key=bad["quarantine_key"])["Body"].read() == BAD
    assert _current(stack, key) == GOOD  # only the bad version left incoming/


def test_bad_then_good_under_one_name_keeps_the_good_file(stack):
    put_config(stack, CONFIG)
    key = "incoming/bank-marketing/a.csv"
    bad_version, good_version = _put(stack, key, BAD), _put(stack, key, GOOD)

    bad = invoke("on_data_uploaded", _event(key, BAD, bad_version, "01"))
    good = invoke("on_data_uploaded", _event(key, GOOD, good_version, "02", time="2026-11-28T05:00:01Z"))

    assert (bad["outcome"], good["outcome"]) == ("quarantined", "started")
    assert _current(stack, key) == GOOD


def test_an_event_for_a_version_deleted_since_is_gone_without_a_crash_or_page(stack):
    put_config(stack, CONFIG)
    key = "incoming/bank-marketing/a.csv"
    version = _put(stack, key, GOOD)
    boto3.client("s3", region_name=REGION).delete_object(Bucket=stack.data_bucket, Key=key, VersionId=version)

    outcome = invoke("on_data_uploaded", _event(key, GOOD, version, "01"))

    assert outcome["outcome"] == "gone"
    assert stack.pages() == [] and _executions(stack) == []


def test_the_same_bad_name_uploaded_many_times_at_once_loses_no_byte(stack):
    from concurrent.futures import ThreadPoolExecutor

    put_config(stack, CONFIG)
    key = "incoming/bank-marketing/bad.csv"
    bodies = [BAD.replace(b"oops", f"oops{i}".encode()) for i in range(12)]
    events = [_event(key, body, _put(stack, key, body), f"{i:02d}") for i, body in enumerate(bodies)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda event: invoke("on_data_uploaded", event), events))

    assert {o["outcome"] for o in outcomes} == {"quarantined"}
    targets = {o["quarantine_key"] for o in outcomes}
    assert len(targets) == len(bodies)
    s3 = boto3.client("s3", region_name=REGION)
    kept = sorted(s3.get_object(Bucket=stack.data_bucket, Key=t)["Body"].read() for t in targets)
    assert kept == sorted(bodies)
    assert len([k for k in _keys(stack, "quarantine/") if k.endswith(".reason.json")]) == len(bodies)
    assert _keys(stack, "incoming/") == []


@pytest.mark.parametrize(
    "key",
    [
        "incoming/bank-marketing/../../etc/passwd.csv",
        "incoming/bank-marketing//x.csv",
        "incoming/../bank-marketing/x.csv",
        "incoming/bank-marketing/" + "é" * 495 + ".csv",
        "incoming/bank-marketing/.hidden.csv",
        "incoming/bank-marketing/a b\tc\r\n.csv",
    ],
)
def test_quarantine_keys_have_safe_segments_and_stay_under_s3s_key_limit(stack, key):
    put_config(stack, CONFIG)

    outcome = invoke("on_data_uploaded", upload(stack, key, BAD, sequencer="01"))

    target = outcome["quarantine_key"]
    assert outcome["outcome"] == "quarantined"
    segments = target.split("/")
    assert all(segments) and not {".", ".."} & set(segments)
    assert len((target + ".reason.json").encode()) <= 1024
    reason = json.loads(
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=stack.data_bucket, Key=target + ".reason.json")["Body"]
        .read()
    )
    assert reason["original_key"] == key  # the exact name is kept in the reason


def test_a_quarantine_copy_above_the_multipart_threshold_is_a_multipart_copy(stack, monkeypatch):
    from driftline import uploads

    monkeypatch.setattr(uploads, "MULTIPART_COPY_BYTES", 5 * 1024 * 1024)  # S3's smallest part
    put_config(stack, CONFIG + "limits:\n  max_upload_bytes: 1000\n")
    body = b"age,job,y\n" + b"41,admin.,no\n" * (11 * 1024 * 1024 // 13)

    outcome = invoke("on_data_uploaded", upload(stack, "incoming/bank-marketing/big.csv", body, sequencer="01"))

    assert outcome["outcome"] == "quarantined" and outcome["rule"] == "size"
    kept = boto3.client("s3", region_name=REGION).get_object(Bucket=stack.data_bucket, Key=outcome["quarantine_key"])
    assert kept["ETag"].strip('"').endswith("-3")  # three parts: UploadPartCopy, not one CopyObject
    assert kept["Body"].read() == body


def test_a_started_run_is_counted_per_model_for_the_dashboard(stack, capsys):
    put_config(stack, CONFIG)
    capsys.readouterr()

    invoke("on_data_uploaded", upload(stack, "incoming/bank-marketing/a.csv", GOOD, sequencer="01"))

    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    [record] = [r for r in emitted if "RunsStarted" in r]
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert ["Model", "service"] in [sorted(d) for d in directive["Dimensions"]]
    assert record["Model"] == "bank-marketing"
    # the model dashboard's "Runs" widget draws the same metric with the same dimensions
    body = json.dumps(dashboards.model_dashboard_body("bank-marketing", "driftline-bank-marketing", REGION, [], 0.2))
    assert '["Driftline", "RunsStarted", "Model", "bank-marketing", "service", ' in body
