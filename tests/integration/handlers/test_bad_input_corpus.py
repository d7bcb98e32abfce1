"""A corpus of careless and hostile uploads, each with the outcome a user and on-call should see.

Every quarantined input keeps every byte (quarantine/ + .reason.json), pages on-call with the rule that
failed, and never copies the file's content into the page or the reason: the canary `s3cr3t` hidden in
cells, labels and headers must never come back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import pytest

from .conftest import REGION, invoke, put_config, sample, upload

BINARY = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
MULTICLASS = "name: bank-marketing\nproblem_type: multiclass_classification\ntarget: y\n"
REGRESSION = "name: bank-marketing\nproblem_type: regression\ntarget: y\n"
GOOD = b"age,job,duration,y\n41,admin.,120,no\n35,technician,300,yes\n52,retired,80,no\n"
DIR = "incoming/bank-marketing/"
CANARY = "s3cr3t"


@dataclass(frozen=True)
class Case:
    body: bytes
    expect: str  # the outcome
    rule: str | None = None  # the rule a quarantine names
    key: str = DIR + "upload.csv"
    config: str = BINARY
    after_good: bool = False  # a good file was accepted first (features and labels known)


def _rows(n: int, row: bytes = b"41,admin.,120,no\n35,technician,300,yes\n") -> bytes:
    return b"age,job,duration,y\n" + row * n


CASES: dict[str, Case] = {
    # encoding and shape
    "empty": Case(b"", "quarantined", "empty"),
    "whitespace-only": Case(b"   \n \n", "quarantined", "empty"),
    "header-only": Case(b"age,job,duration,y\n", "quarantined", "no-rows"),
    "header-and-blank-lines": Case(b"age,job,duration,y\n\n\n", "quarantined", "no-rows"),
    "png": Case(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "quarantined", "binary"),
    "nul-after-a-megabyte": Case(_rows(40_000) + b"1,\x00,2,no\n", "quarantined", "binary"),
    "utf16-bom": Case("age,job,y\n1,a,no\n".encode("utf-16"), "quarantined", "binary"),
    "latin1": Case("age,job,duration,y\n41,employé,1,no\n".encode("latin-1"), "quarantined", "encoding"),
    "semicolons": Case(b"age;job;y\n41;admin.;no\n", "quarantined", "delimiter"),
    "tabs": Case(b"age\tjob\ty\n41\tadmin.\tno\n", "quarantined", "delimiter"),
    "pipes": Case(b"age|job|y\n41|admin.|no\n", "quarantined", "delimiter"),
    "one-column": Case(b"y\nno\nyes\n", "quarantined", "header"),
    "no-target": Case(b"age,job,label\n41,admin.,no\n", "quarantined", "target-column"),
    "no-header-row": Case(b"41,admin.,120,no\n35,technician,300,yes\n", "quarantined", "target-column"),
    "numbers-as-header": Case(b"1,2,3\n4,5,6\n", "quarantined", "header"),
    "duplicate-header": Case(b"age,age,y\n1,2,no\n", "quarantined", "header"),
    "empty-header-name": Case(b"age,,y\n1,2,no\n", "quarantined", "header"),
    "trailing-comma-header": Case(b"age,job,y,\n1,a,no,\n", "quarantined", "header"),
    "huge-header-name": Case(b"age," + CANARY.encode() * 100 + b",y\n1,2,no\n", "quarantined", "header"),
    "control-char-header": Case(b"age,j\x07ob,y\n1,2,no\n", "quarantined", "header"),
    "too-many-columns": Case(
        (",".join(f"c{i}" for i in range(1001)) + ",y\n").encode() + b"0," * 1001 + b"no\n", "quarantined", "header"
    ),
    "extra-field": Case(b"age,job,duration,y\n41,admin.,120,no,oops\n", "quarantined", "field-count"),
    "missing-field": Case(b"age,job,duration,y\n41,admin.,no\n", "quarantined", "field-count"),
    "ragged-after-300-kib": Case(_rows(9_000) + b"1,2,no\n", "quarantined", "field-count"),
    "unbalanced-quotes": Case(b"age,job,duration,y\n1,a,2,no\n" + b',"x\n' * 60_000, "quarantined", "field-count"),
    "no-line-breaks": Case(b"age,job,duration,y\n" + b"1" * (2 * 1024 * 1024), "quarantined", "line-length"),
    "bare-cr-line-endings": Case(b"age,job,duration,y\r41,admin.,1,no\r35,tech,2,yes\r", "quarantined", "line-endings"),
    # labels
    "third-class": Case(_rows(2) + f"3,a,1,{CANARY}\n".encode(), "quarantined", "label-count"),
    "single-class-first-data": Case(
        b"age,job,duration,y\n41,admin.,120,no\n35,t,3,no\n", "quarantined", "single-class"
    ),
    "one-and-one-point-zero": Case(
        b"age,job,duration,y\n1,a,1,0\n2,b,2,1\n3,c,3,1.0\n", "quarantined", "label-variant"
    ),
    "yes-and-Yes": Case(b"age,job,duration,y\n1,a,1,no\n2,b,2,yes\n3,c,3,Yes\n", "quarantined", "label-variant"),
    "no-labels": Case(b"age,job,duration,y\n1,a,1,\n2,b,2,NA\n", "quarantined", "no-labels"),
    "label-too-long": Case(b"age,job,duration,y\n1,a,1,no\n2,b,2," + b"x" * 200 + b"\n", "quarantined", "label-format"),
    "third-class-after-good": Case(b"age,job,duration,y\n1,a,1,maybe\n", "quarantined", "label-count", after_good=True),
    "zero-one-after-yes-no": Case(b"age,job,duration,y\n1,a,1,0\n", "quarantined", "label-count", after_good=True),
    "single-known-class-after-good": Case(b"age,job,duration,y\n1,a,1,no\n", "joined", after_good=True),
    "multiclass-new-class": Case(b"age,job,y\n1,a,bird\n", "joined", config=MULTICLASS, after_good=True),
    "multiclass-single-class-first": Case(b"age,job,y\n1,a,cat\n", "quarantined", "single-class", config=MULTICLASS),
    "multiclass-good": Case(b"age,job,y\n1,a,cat\n2,b,dog\n3,c,bird\n", "started", config=MULTICLASS),
    "positive-class-with-three-labels": Case(
        b"age,job,y\n1,a,no\n2,b,yes\n3,c,maybe\n", "started", config=BINARY + "positive_class: 'yes'\n"
    ),
    "positive-class-absent-first": Case(
        b"age,job,y\n1,a,no\n2,b,maybe\n", "quarantined", "no-positive-class", config=BINARY + "positive_class: 'yes'\n"
    ),
    "regression-text-target": Case(
        b"age,job,y\n1,a,2.5\n2,b,high\n", "quarantined", "target-not-numeric", config=REGRESSION
    ),
    "regression-infinite-target": Case(
        b"age,job,y\n1,a,2.5\n2,b,inf\n", "quarantined", "target-not-numeric", config=REGRESSION
    ),
    "regression-good": Case(b"age,job,y\n1,a,2.5\n2,b,3\n", "started", config=REGRESSION),
    # the schema of earlier data
    "numeric-feature-as-text": Case(
        b"age,job,duration,y\n" + f"{CANARY},a,1,no\nforty,b,2,yes\n".encode(),
        "quarantined",
        "numeric-feature",
        after_good=True,
    ),
    "new-column": Case(b"age,job,duration,balance,y\n1,a,1,5,no\n", "quarantined", "columns", after_good=True),
    "missing-column": Case(b"age,duration,y\n1,1,no\n", "quarantined", "columns", after_good=True),
    "reordered-columns": Case(b"y,job,age,duration\nno,a,1,1\n", "joined", after_good=True),
    # names and places
    "txt-extension": Case(GOOD, "quarantined", "file-type", key=DIR + "upload.txt"),
    "gzip-extension": Case(GOOD, "quarantined", "file-type", key=DIR + "upload.csv.gz"),
    "no-model-folder": Case(GOOD, "quarantined", "location", key="incoming/upload.csv"),
    "unknown-model": Case(GOOD, "quarantined", "unknown-model", key="incoming/ghost/upload.csv"),
    "dot-dot-model": Case(GOOD, "quarantined", "unknown-model", key="incoming/../upload.csv"),
    "too-big": Case(GOOD, "quarantined", "size", config=BINARY + "limits:\n  max_upload_bytes: 10\n"),
    "folder-marker": Case(b"", "ignored", key=DIR + "subfolder/"),
    "outside-incoming": Case(GOOD, "ignored", key="batch/bank-marketing/upload.csv"),
    # good files in their many shapes
    "good": Case(GOOD, "started"),
    "good-crlf": Case(GOOD.replace(b"\n", b"\r\n"), "started"),
    "good-bom": Case(b"\xef\xbb\xbf" + GOOD, "started"),
    "good-quoted-commas-and-newlines": Case(
        b'age,job,duration,y\n41,"admin, senior",120,no\n35,"line one\nline two",300,yes\n', "started"
    ),
    "good-blank-lines": Case(GOOD.replace(b"\n41", b"\n\n41"), "started"),
    "good-missing-values": Case(b"age,job,duration,y\nNA,admin.,,no\n35,,300,yes\n", "started"),
    "good-uppercase-extension": Case(GOOD, "started", key=DIR + "UPLOAD.CSV"),
    "good-nested-folder": Case(GOOD, "started", key=DIR + "2026/11/upload.csv"),
    "kept-without-training": Case(GOOD, "kept", config=BINARY + "training:\n  start_on_upload: false\n"),
}


def _s3():
    return boto3.client("s3", region_name=REGION)


def _executions(stack) -> list[dict]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.list_executions(stateMachineArn=stack.pipeline_arn)["executions"]


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_corpus(stack, name):
    case = CASES[name]
    put_config(stack, case.config)
    if case.after_good:
        good = GOOD if "multiclass" not in case.config else b"age,job,y\n1,a,cat\n2,b,dog\n"
        first = invoke("on_data_uploaded", upload(stack, DIR + "first.csv", good, sequencer="00"))
        assert first["outcome"] == "started"

    outcome = invoke(
        "on_data_uploaded", upload(stack, case.key, case.body, sequencer="01", time="2026-11-28T05:00:01Z")
    )

    assert outcome["outcome"] == case.expect, outcome.get("reason")
    pages = stack.pages()
    if case.expect != "quarantined":
        assert pages == []
        return
    if case.rule:
        assert outcome["rule"] == case.rule, outcome["reason"]
    kept = _s3().get_object(Bucket=stack.data_bucket, Key=outcome["quarantine_key"])["Body"].read()
    assert kept == case.body  # every byte kept
    reason = _s3().get_object(Bucket=stack.data_bucket, Key=outcome["quarantine_key"] + ".reason.json")
    reason_text = reason["Body"].read().decode()
    assert json.loads(reason_text)["rule"] == outcome["rule"]
    [page] = pages
    assert outcome["quarantine_key"] in page["Message"]
    assert CANARY not in page["Message"] and CANARY not in reason_text
    listing = _s3().list_object_versions(Bucket=stack.data_bucket, Prefix=case.key)
    assert [v for v in listing.get("Versions", []) if v["Key"] == case.key] == []  # its version left incoming/
    assert len(_executions(stack)) == (1 if case.after_good else 0)


# --- event shapes: duplicated, out of order, without a version, for a version that is gone ---------------------


def test_a_duplicated_event_starts_one_run(stack):
    put_config(stack, BINARY)
    event = upload(stack, DIR + "a.csv", GOOD, sequencer="01")

    outcomes = [invoke("on_data_uploaded", event)["outcome"] for _ in range(3)]

    assert outcomes == ["started", "duplicate", "duplicate"] and len(_executions(stack)) == 1


def test_the_same_name_uploaded_twice_is_two_uploads_not_a_duplicate(stack):
    put_config(stack, BINARY)
    first = upload(stack, DIR + "a.csv", GOOD, sequencer="01")
    second = upload(stack, DIR + "a.csv", GOOD, sequencer="02", time="2026-11-28T05:00:02Z")

    outcomes = [invoke("on_data_uploaded", first)["outcome"], invoke("on_data_uploaded", second)["outcome"]]

    assert outcomes == ["started", "joined"] and len(_executions(stack)) == 1


def test_events_delivered_out_of_order_give_one_run(stack):
    put_config(stack, BINARY)
    early = upload(stack, DIR + "a.csv", GOOD, sequencer="01", time="2026-11-28T05:00:00Z")
    late = upload(stack, DIR + "b.csv", GOOD, sequencer="02", time="2026-11-28T05:00:05Z")

    outcomes = [invoke("on_data_uploaded", late)["outcome"], invoke("on_data_uploaded", early)["outcome"]]

    assert outcomes == ["started", "joined"] and len(_executions(stack)) == 1


def test_an_event_without_version_or_sequencer_is_deduplicated_by_its_id(stack):
    put_config(stack, BINARY)
    event = upload(stack, DIR + "a.csv", GOOD, sequencer="01")
    event["detail"]["object"].pop("version-id")
    event["detail"]["object"]["sequencer"] = ""

    outcomes = [invoke("on_data_uploaded", event)["outcome"] for _ in range(2)]

    assert outcomes == ["started", "duplicate"]


def test_an_event_for_a_deleted_version_is_gone(stack):
    put_config(stack, BINARY)
    event = upload(stack, DIR + "a.csv", GOOD, sequencer="01")
    _s3().delete_object(Bucket=stack.data_bucket, Key=DIR + "a.csv", VersionId=event["detail"]["object"]["version-id"])

    assert invoke("on_data_uploaded", event)["outcome"] == "gone"
    assert stack.pages() == []


def test_an_event_without_a_bucket_fails_so_it_is_retried_and_dead_lettered(stack):
    event = sample("data_uploaded.json")
    del event["detail"]["bucket"]

    with pytest.raises(ValueError):
        invoke("on_data_uploaded", event)


def test_a_folder_marker_for_a_model_is_ignored(stack):
    put_config(stack, BINARY)
    _s3().put_object(Bucket=stack.data_bucket, Key=DIR, Body=b"")
    event = sample("data_uploaded.json")
    event["detail"]["object"].update({"key": DIR, "size": 0})

    assert invoke("on_data_uploaded", event)["outcome"] == "ignored"
    assert stack.pages() == []
