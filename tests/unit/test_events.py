import json
from pathlib import Path

import pytest
from driftline.events import EventBridgeEvent, S3ObjectCreated
from pydantic import ValidationError

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_s3_object_created_reads_bucket_key_size_sequencer_and_version():
    created = S3ObjectCreated.model_validate(sample("data_uploaded.json"))

    assert created.detail.bucket.name == "driftline-data-example"
    assert created.detail.object.key == "incoming/bank-marketing/batch-001.csv"
    assert created.detail.object.size == 5576
    assert created.detail.object.sequencer == "00617F08299329D189"
    assert created.detail.object.version_id == "IYV3p45BhZA9zk2AaSpadPMvjrQ5TAcD"
    assert created.id == "17793124-05d4-b198-2fde-7ededc63b103"
    assert created.time.year == 2026


@pytest.mark.parametrize("name", ["training_job_completed.json", "monitoring_job_completed.json", "alarm_drift.json"])
def test_every_service_event_sample_has_an_envelope_and_a_detail(name):
    event = EventBridgeEvent.model_validate(sample(name))

    assert event.detail and event.detail_type


def test_an_event_without_a_bucket_names_the_missing_field():
    broken = sample("data_uploaded.json")
    del broken["detail"]["bucket"]

    with pytest.raises(ValidationError, match="detail.bucket"):
        S3ObjectCreated.model_validate(broken)
