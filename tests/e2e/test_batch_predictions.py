"""Batch predictions on the local cloud: a CSV dropped in batch/<model>/ comes back as predictions/<model>/<name>.out,
each row its input (id included) and the production model's prediction, equal to what the endpoint answers."""

import csv
import io

import pytest
from driftline_local.batch_demo import drop_batch, wait_for_predictions
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, upload_frames, wait_for_run
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import read_mailbox

pytestmark = pytest.mark.e2e

MODEL = "batchy"
CONFIG = (
    f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
    + FAST_TIMINGS
    + "training:\n  hyperparameters:\n    num_round: 20\n"
    + "batch:\n  id_column: customer_id\n  max_payload_mb: 1\n"
)


@pytest.mark.timeout(1200)
def test_a_dropped_batch_file_gets_the_endpoints_prediction_for_every_row(cloud):
    clients = Clients(cloud.endpoint_url)
    stack = Stack.describe(clients)
    onboard_model(clients, stack, CONFIG, MODEL)
    since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(2000, seed=51)])
    run = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None, timeout=600)
    assert run.status == "SUCCEEDED", run.error
    rows = generate_bank_marketing(300, seed=52).drop(columns=["y", "duration"])
    rows.insert(3, "customer_id", [f"c-{i:04d}" for i in range(len(rows))])  # the id anywhere in the file

    key = drop_batch(clients, stack, MODEL, rows, name="november.csv")
    result = wait_for_predictions(clients, stack, MODEL, key, since=since, timeout=600)

    assert result.output_key == f"predictions/{MODEL}/november.csv.out"
    assert [row[0] for row in result.rows] == list(rows["customer_id"])
    features = [c for c in rows.columns if c != "customer_id"]
    assert all(len(row) == 1 + len(features) + 1 for row in result.rows)
    # the endpoint answers the same rows (features in the model's order, as the .out carries them)
    body = io.StringIO()
    csv.writer(body, lineterminator="\n").writerows(row[1:-1] for row in result.rows)
    answer = clients("sagemaker-runtime").invoke_endpoint(
        EndpointName=run.endpoint_name, ContentType="text/csv", Accept="text/csv", Body=body.getvalue().encode()
    )
    online = [float(line) for line in answer["Body"].read().decode().splitlines()]
    assert [float(row[-1]) for row in result.rows] == pytest.approx(online, abs=1e-9)
    subjects = [m.get("subject") or "" for m in read_mailbox(cloud.ctx)]
    assert not [s for s in subjects if f"{MODEL}: batch" in s]  # no batch file rejected/kept/failed page
