"""What every dropped file (incoming/, batch/, labels/) goes through alike: driftline.drops (pure parts)."""

import json
from pathlib import Path

import pytest
from driftline.batch import BATCH_FOLDER, BatchOutcome
from driftline.drops import handle_once
from driftline.labels import LABELS_FOLDER, LabelsOutcome
from driftline.uploads import INCOMING_FOLDER, UploadedObject, UploadOutcome

EVENTS = Path(__file__).resolve().parents[2] / "events"
FOLDERS = [(INCOMING_FOLDER, UploadOutcome), (BATCH_FOLDER, BatchOutcome), (LABELS_FOLDER, LabelsOutcome)]


def upload(key: str, size: int = 10) -> UploadedObject:
    return UploadedObject(
        bucket="b", key=key, size=size, event_id="e", event_time="2026-12-01T09:00:00Z", sequencer="01"
    )


@pytest.mark.parametrize(("folder", "outcome"), FOLDERS)
def test_each_folder_reads_the_model_from_the_first_folder_below_it(folder, outcome):
    assert folder.model_of(f"{folder.prefix}churn/nov.csv") == "churn"
    assert folder.model_of(f"{folder.prefix}churn/2026/nov.csv") == "churn"
    assert folder.model_of(f"{folder.prefix}nov.csv") is None  # no model folder
    assert folder.model_of(f"{folder.prefix}/nov.csv") is None


@pytest.mark.parametrize(("folder", "outcome"), FOLDERS)
def test_a_key_outside_the_folder_is_ignored_before_any_work(folder, outcome):
    def work(budget: float):
        raise AssertionError("no work for a key outside the folder")

    result = handle_once(upload("elsewhere/churn/nov.csv"), folder, work, outcome)

    assert result.outcome == "ignored" and result.reason == f"not under {folder.prefix}"


@pytest.mark.parametrize(("folder", "outcome"), FOLDERS)
def test_a_folder_marker_is_ignored_before_any_work(folder, outcome):
    def work(budget: float):
        raise AssertionError("no work for a folder marker")

    result = handle_once(upload(f"{folder.prefix}churn/", size=0), folder, work, outcome)

    assert result.outcome == "ignored" and result.reason == "a folder marker, not a file"


@pytest.mark.parametrize("name", ["data_uploaded.json", "batch_uploaded.json", "labels_uploaded.json"])
def test_every_drop_sample_event_names_its_exact_object_version(name):
    event = json.loads((EVENTS / name).read_text())

    dropped = UploadedObject.from_event(event)

    s3 = event["detail"]
    assert (dropped.bucket, dropped.key, dropped.size) == (
        s3["bucket"]["name"],
        s3["object"]["key"],
        s3["object"]["size"],
    )
    assert (dropped.version_id, dropped.sequencer) == (s3["object"]["version-id"], s3["object"]["sequencer"])
    assert dropped.event_id == event["id"] and dropped.event_time.isoformat().startswith(event["time"][:19])
