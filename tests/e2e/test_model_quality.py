"""Delayed ground truth closes the loop: served predictions with inference ids, labels dropped later that show the
model is wrong, the quality job judges them, `driftline-<model>-quality` fires from its metric and a retrain starts."""

import threading

import pytest
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, upload_frames, wait_for_run
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import read_mailbox, wait_for_mail

pytestmark = pytest.mark.e2e

MODEL = "labelled"
CONFIG = (
    f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
    + FAST_TIMINGS
    + "training:\n  hyperparameters:\n    num_round: 30\n"
    # rate(5 minutes) at the e2e cloud's time scale 30: a monitor (and quality) run every 10 real seconds over
    # the last 60 real seconds of predictions; labels count from 100 labelled predictions on.
    + "monitoring:\n  schedule: rate(5 minutes)\n  window_seconds: 1800\n  min_records: 300\n"
    + "  quality: {min_labels: 100, max_score_drop: 0.05}\n"
)
ROWS = 300
MAX_REQUESTS = 20_000


class LabelledTraffic:
    """Requests with InferenceId `q-<n>` in a background thread: row n % ROWS of a frame whose labels are known."""

    def __init__(self, clients: Clients, endpoint: str, features) -> None:
        self.runtime = clients("sagemaker-runtime")
        self.endpoint = endpoint
        self.bodies = [features.iloc[[i]].to_csv(header=False, index=False).encode() for i in range(len(features))]
        self.sent = 0
        self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "LabelledTraffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set() and self.sent < MAX_REQUESTS:
            n = self.sent
            self.sent += 1
            try:
                answer = self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint,
                    ContentType="text/csv",
                    Accept="text/csv",
                    Body=self.bodies[n % len(self.bodies)],
                    InferenceId=f"q-{n}",
                )
                answer["Body"].read()
            except Exception:  # counted; the test judges the outcome
                self.failed += 1
            self._stop.wait(1 / 15)


@pytest.mark.timeout(2400)
def test_labels_that_show_worse_quality_fire_the_quality_alarm_and_retrain(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG, MODEL)
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(3000, seed=51)])
    first = wait_for_run(clients, stack, MODEL, since, progress=None, timeout=600)
    assert first.status == "SUCCEEDED", first.error

    served = generate_bank_marketing(ROWS, seed=52)
    # The ground truth arrives later, and it says the model is wrong: every label is the opposite of the truth
    # (AUC about 1 - the test AUC). Labels for every id the traffic will send, in one file.
    flipped = served["y"].map({"yes": "no", "no": "yes"})
    labels = "inference_id,y\n" + "".join(f"q-{n},{flipped.iloc[n % ROWS]}\n" for n in range(MAX_REQUESTS))
    features = served.drop(columns=["y", "duration"])

    with LabelledTraffic(clients, f"driftline-{MODEL}", features) as traffic:
        clients("s3").put_object(Bucket=stack.data_bucket, Key=f"labels/{MODEL}/truth.csv", Body=labels.encode())
        alarm_page = wait_for_mail(cloud.ctx, f"{MODEL}: quality alarm", timeout=900)

    assert "retraining started" in alarm_page["subject"], alarm_page
    assert "Quality violations:" in alarm_page["message"] and "auc" in alarm_page["message"]
    assert traffic.failed == 0
    runs = [
        e["name"]
        for e in clients("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]
        if e["name"].startswith(f"{MODEL}-quality-")
    ]
    assert len(runs) == 1 and runs[0] in alarm_page["message"]
    rejected = [m for m in read_mailbox(cloud.ctx) if "labels rejected" in (m.get("subject") or "")]
    assert rejected == []
