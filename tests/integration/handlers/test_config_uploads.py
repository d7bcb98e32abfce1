"""on_config_uploaded on moto: every key under models/ ends in an active config, a page, or (folder markers) nothing."""

import boto3
import pytest
from driftline import state

from .conftest import REGION, invoke, put_config, sample

CONFIG = "name: bank-marketing\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"


def put_key(stack, key: str, body: bytes) -> dict:
    """Upload any key under models/ and deliver its `Object Created` event, as the widened rule would."""
    version = boto3.client("s3", region_name=REGION).put_object(Bucket=stack.data_bucket, Key=key, Body=body)
    event = sample("config_uploaded.json")
    event["detail"]["object"].update({"key": key, "size": len(body), "version-id": version.get("VersionId")})
    return invoke("on_config_uploaded", event)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("monitoring:\n  schedule: whenever\n", "monitoring.schedule: 'whenever' is not an EventBridge schedule"),
        ("monitoring:\n  schedule: rate(2 weeks)\n", "monitoring.schedule"),
        ("monitoring:\n  schedule: rate(30 days)\n", "at most 7 days"),
        ("gate:\n  metric: precison\n", "did you mean 'precision'?"),
        ("training:\n  instance_type: ml.banana.huge\n", "training.instance_type: 'ml.banana.huge'"),
        ("training:\n  hyperparameters:\n    max_depth: deep\n", "max_depth: must be a whole number"),
        ("drop_columns: " + "[" * 3000 + "]" * 3000 + "\n", "nesting deeper than 20 levels"),
    ],
)
def test_semantically_invalid_config_is_paged_and_the_previous_one_stays_active(stack, change, words):
    assert put_config(stack, CONFIG + "seed: 7\n")["outcome"] == "activated"
    stack.pages()

    outcome = put_config(stack, CONFIG.replace("drop_columns: [duration]\n", "") + change)

    assert outcome["outcome"] == "rejected" and words in outcome["reason"]
    [page] = stack.pages()
    assert "model.yaml rejected" in page["Subject"]
    assert words in page["Message"] and "previous valid config stays active" in page["Message"]
    assert page["MessageAttributes"]["kind"]["Value"] == "config-rejected"
    active = state.load_config("bank-marketing")
    assert active.seed == 7 and active.drop_columns == ["duration"]


def test_oversized_config_is_rejected_without_reading_it_whole(stack):
    outcome = put_key(stack, "models/bank-marketing/model.yaml", CONFIG.encode() + b"#" * (70 * 1024) + b"\n")

    assert outcome["outcome"] == "rejected" and "the limit is 65536 (64 KiB)" in outcome["reason"]
    assert "model.yaml rejected" in stack.pages()[0]["Subject"]
    assert state.load_config("bank-marketing") is None


def test_oversized_config_is_caught_by_the_read_cap_when_the_event_has_no_size(stack):
    body = CONFIG.encode() + b"#" * (70 * 1024) + b"\n"
    version = boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.data_bucket, Key="models/bank-marketing/model.yaml", Body=body
    )
    event = sample("config_uploaded.json")
    event["detail"]["object"].update({"key": "models/bank-marketing/model.yaml", "version-id": version["VersionId"]})
    del event["detail"]["object"]["size"]

    outcome = invoke("on_config_uploaded", event)

    assert outcome["outcome"] == "rejected" and "65537 bytes; the limit is 65536" in outcome["reason"]


def test_empty_config_is_rejected(stack):
    outcome = put_key(stack, "models/bank-marketing/model.yaml", b"")

    assert outcome["outcome"] == "rejected" and "must be a mapping" in outcome["reason"]
    assert len(stack.pages()) == 1


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("models/bank-marketing/model.yml", "'model.yml', which Driftline does not read"),
        ("models/bank-marketing/v2/model.yaml", "a model.yaml 1 folder(s) too deep"),
        ("models/model.yaml", "a model.yaml directly under models/"),
        ("models/bank-marketing/README.md", "'README.md', which is not a model config"),
    ],
)
def test_misplaced_file_under_models_is_paged_with_where_it_must_go(stack, key, words):
    assert put_config(stack, CONFIG)["outcome"] == "activated"
    stack.pages()

    outcome = put_key(stack, key, CONFIG.replace("[duration]", "[]").encode())

    assert outcome["outcome"] == "misplaced" and words in outcome["reason"]
    [page] = stack.pages()
    assert "file under models/ ignored" in page["Subject"]
    assert page["MessageAttributes"]["kind"]["Value"] == "config-misplaced"
    assert words in page["Message"] and "models/" in page["Message"] and "/model.yaml" in page["Message"]
    assert state.load_config("bank-marketing").drop_columns == ["duration"]


def test_misplaced_config_of_a_named_model_says_the_exact_key(stack):
    outcome = put_key(stack, "models/bank-marketing/model.yml", CONFIG.encode())

    assert "Driftline reads only models/bank-marketing/model.yaml" in outcome["reason"]


@pytest.mark.parametrize("key", ["models/", "models/bank-marketing/", "models/bank-marketing/v2/"])
def test_console_folder_markers_are_ignored_without_a_page(stack, key):
    outcome = put_key(stack, key, b"")

    assert outcome["outcome"] == "ignored"
    assert stack.pages() == []


def test_config_in_a_folder_that_is_not_a_model_name_is_rejected(stack):
    outcome = put_key(stack, "models/Bank_Marketing/model.yaml", CONFIG.encode())

    assert (
        outcome["outcome"] == "rejected"
        and "the folder name 'Bank_Marketing' is not a valid model name" in (outcome["reason"])
    )
    assert len(stack.pages()) == 1


def test_valid_config_with_every_checked_field_is_activated(stack):
    text = CONFIG + (
        "training:\n  instance_type: ml.m5.xlarge\n  hyperparameters: {max_depth: 4, eta: 0.1, eval_metric: auc}\n"
        "processing:\n  instance_type: ml.t3.large\ndeployment:\n  instance_type: ml.c6i.large\n"
        "gate:\n  metric: f1\nmonitoring:\n  schedule: cron(0 */2 * * ? *)\n  window_seconds: 7200\n"
    )

    assert put_config(stack, text)["outcome"] == "activated"
    assert stack.pages() == []
    assert state.load_config("bank-marketing").gate_metric == "f1"


def test_an_older_config_delivered_late_does_not_replace_the_newer_one(stack):
    s3 = boto3.client("s3", region_name=REGION)
    key = "models/bank-marketing/model.yaml"
    events = []
    for seed in (1, 2):
        body = (CONFIG + f"seed: {seed}\n").encode()
        version = s3.put_object(Bucket=stack.data_bucket, Key=key, Body=body)["VersionId"]
        event = sample("config_uploaded.json")
        event["detail"]["object"].update({"key": key, "size": len(body), "version-id": version})
        events.append(event)

    newer = invoke("on_config_uploaded", events[1])
    older = invoke("on_config_uploaded", events[0])

    assert (newer["outcome"], older["outcome"]) == ("activated", "superseded")
    assert state.load_config("bank-marketing").seed == 2
    assert stack.pages() == []


def test_a_duplicate_delivery_of_the_newest_config_activates_it_again(stack):
    event = sample("config_uploaded.json")
    version = boto3.client("s3", region_name=REGION).put_object(
        Bucket=stack.data_bucket, Key="models/bank-marketing/model.yaml", Body=CONFIG.encode()
    )["VersionId"]
    event["detail"]["object"].update({"key": "models/bank-marketing/model.yaml", "version-id": version})

    assert [invoke("on_config_uploaded", event)["outcome"] for _ in range(2)] == ["activated", "activated"]
    assert stack.pages() == []


def _throttled_once(monkeypatch, client, method: str) -> None:
    from botocore.exceptions import ClientError

    real = getattr(client, method)

    def throttled(**kwargs):
        monkeypatch.setattr(client, method, real)
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, method)

    monkeypatch.setattr(client, method, throttled)


def test_a_rejection_whose_page_failed_is_paged_by_the_retry(stack, monkeypatch):
    from botocore.exceptions import ClientError
    from driftline import aws

    # Given SNS throttles the first page of a rejection: the invocation fails (Lambda will retry it)
    _throttled_once(monkeypatch, aws.client("sns"), "publish")
    with pytest.raises(ClientError):
        put_config(stack, CONFIG + "gate:\n  metric: precison\n")

    # When the event is retried, then the rejection reaches on-call once
    assert put_config(stack, CONFIG + "gate:\n  metric: precison\n")["outcome"] == "rejected"
    assert [p["Subject"] for p in stack.pages()] == ["[Driftline] bank-marketing: model.yaml rejected"]


def test_a_config_whose_save_failed_is_activated_by_the_retry(stack, monkeypatch):
    from botocore.exceptions import ClientError

    # Given the state table throttles the first write of a valid config
    table = state._table()
    _throttled_once(monkeypatch, table.meta.client, "put_item")
    with pytest.raises(ClientError):
        put_config(stack, CONFIG)
    assert state.load_config("bank-marketing") is None

    # When the event is retried, then the config is active
    assert put_config(stack, CONFIG)["outcome"] == "activated"
    assert state.load_config("bank-marketing") is not None
