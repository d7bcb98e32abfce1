"""Every sample in events/ matches the pattern of the rule that should deliver it, and no other."""

import json

import pytest
from moto.events.models import EventPattern

from .conftest import REPO

SAMPLE_BUCKET = "driftline-data-example"

# sample file -> (function, event name) of the rule that must deliver it
EXPECTED = {
    "data_uploaded.json": ("OnDataUploadedFunction", "DataUploaded"),
    "config_uploaded.json": ("OnConfigUploadedFunction", "ConfigUploaded"),
    "training_job_completed.json": ("OnTrainingStateChangeFunction", "TrainingJobStateChange"),
    "training_job_failed.json": ("OnTrainingStateChangeFunction", "TrainingJobStateChange"),
    "monitoring_job_completed.json": ("OnMonitoringCompletedFunction", "ProcessingJobStateChange"),
    "alarm_drift.json": ("OnAlarmFunction", "AlarmStateChange"),
    "batch_uploaded.json": ("OnBatchUploadedFunction", "BatchUploaded"),
    "labels_uploaded.json": ("OnLabelsUploadedFunction", "LabelsUploaded"),
    "transform_job_failed.json": ("OnTransformStateChangeFunction", "TransformJobStateChange"),
    "tuning_job_completed.json": ("OnTrainingStateChangeFunction", "TuningJobStateChange"),
}


def _resolve(node):
    """Replace the bucket's !Ref with the name the samples use."""
    if isinstance(node, dict):
        if node == {"Ref": "DataBucket"}:
            return SAMPLE_BUCKET
        return {k: _resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v) for v in node]
    return node


def _rules(template):
    for name, resource in template["Resources"].items():
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            if event["Type"] == "EventBridgeRule":
                yield (name, event_name), _resolve(event["Properties"]["Pattern"])


def test_every_sample_event_has_an_expected_rule():
    assert {p.name for p in (REPO / "events").glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_sample_event_matches_only_its_rule(template, sample):
    event = json.loads((REPO / "events" / sample).read_text())

    matching = {rule for rule, pattern in _rules(template) if EventPattern(None, pattern).matches_event(event)}

    assert matching == {EXPECTED[sample]}
