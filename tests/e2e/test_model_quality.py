"""Delayed ground truth closes the loop: served predictions with inference ids, labels dropped later that show the
model is wrong, the quality job judges them, `driftline-<model>-quality` fires from its metric and a retrain starts."""

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, upload_frames, wait_for_run
from driftline_local.quality_demo import quality_story
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import read_mailbox

pytestmark = pytest.mark.e2e

MODEL = "labelled"
CONFIG = (
    f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
    + FAST_TIMINGS
    + "training:\n  hyperparameters:\n    num_round: 30\n"
    # rate(5 minutes) at the e2e cloud's time scale 30: a monitor (and quality) run every 10 real seconds over
    # the last 60 real seconds of predictions; a window is judged from 100 labelled predictions on.
    + "monitoring:\n  schedule: rate(5 minutes)\n  window_seconds: 1800\n  min_records: 300\n"
    + "  quality: {min_labels: 100, max_score_drop: 0.05}\n"
)


@pytest.mark.timeout(2400)
def test_labels_that_show_worse_quality_fire_the_quality_alarm_and_retrain(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG, MODEL)
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(3000, seed=51)])
    first = wait_for_run(clients, stack, MODEL, since, progress=None, timeout=600)
    assert first.status == "SUCCEEDED", first.error

    # The ground truth arrives later, and it says the model is wrong: every label is the opposite of the truth
    # (live AUC about 1 - the test AUC).
    story = quality_story(
        clients, stack, cloud.ctx, MODEL, generate_bank_marketing(300, seed=52), say=lambda message: None
    )

    page = story.page
    assert "retraining started" in page["subject"], page
    assert "Quality violations:" in page["message"] and "Metric auc with" in page["message"]
    assert story.failed == 0
    runs = [
        e["name"]
        for e in clients("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]
        if e["name"].startswith(f"{MODEL}-quality-")
    ]
    assert len(runs) == 1 and runs[0] in page["message"]
    assert not [m for m in read_mailbox(cloud.ctx) if "labels rejected" in (m.get("subject") or "")]
