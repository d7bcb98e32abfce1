"""`driftline status / runs / run / quarantine / watch` against a local cloud with one trained model.

One model is trained once for the whole module (CPU is scarce): the fixture uploads its data and a broken
file, then follows the run with `driftline watch --json` while it is live; the tests read what the
commands show about it, as an on-call engineer would, and make the mistakes a person makes.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from driftline_local.cli import deploy_local_stack, main
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.loop import FAST_TIMINGS, Clients, Stack, onboard_model, upload_frames
from driftline_local.ops.session import Driftline
from driftline_local.ops.watch import wait_for_new_run
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing

MODEL = "bank-marketing"
ROUNDS = 60


def config(start_on_upload: bool = True) -> str:
    # No drift monitor: nothing but the commands under test reads or writes the model's state meanwhile.
    return (
        SAMPLE_MODEL_YAML
        + FAST_TIMINGS
        + f"training:\n  start_on_upload: {str(start_on_upload).lower()}\n  checkpoint_interval: 10\n"
        + f"  hyperparameters:\n    num_round: {ROUNDS}\nmonitoring:\n  enabled: false\n"
    )


BROKEN = b"age,job,outcome\n41,admin.,no\n"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(endpoint_url: str | None, *argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    where = ["--endpoint-url", endpoint_url] if endpoint_url else []
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, *where])
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # The usual credential chain, as a person on the local cloud sets it (any key is accepted there).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@dataclass
class Trained:
    cloud: LocalCloud
    clients: Clients
    stack: Stack
    run_id: str
    watch: Result

    @property
    def url(self) -> str:
        return self.cloud.endpoint_url

    def cli(self, *argv: str) -> Result:
        return run_cli(self.url, *argv)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with LocalCloud(port=0, workdir=tmp_path_factory.mktemp("cloud"), time_scale=30) as cloud:
            deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
            clients = Clients(cloud.endpoint_url, cloud.ctx.region)
            stack = Stack.describe(clients)
            onboard_model(clients, stack, config(), MODEL)
            since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(1500, seed=7)])
            clients("s3").put_object(Bucket=stack.data_bucket, Key=f"incoming/{MODEL}/broken.csv", Body=BROKEN)
            ops = Driftline.for_local_cloud(cloud.endpoint_url, cloud.ctx.region)
            run_id = wait_for_new_run(ops, f"{MODEL}-", since)
            # Follow the run live, as on-call would: this is also how the fixture waits for it to end.
            watch = run_cli(cloud.endpoint_url, "watch", run_id, "--json", "--interval", "0.3", "--timeout", "600")
            yield Trained(cloud, clients, stack, run_id, watch)


# --- watch -----------------------------------------------------------------------------------------


def test_watch_follows_the_live_run_through_training_rounds_to_its_end(trained):
    snapshots = [json.loads(line) for line in trained.watch.out.splitlines()]

    assert trained.watch.code == 0, trained.watch.err
    live = [s for s in snapshots if not s["finished"]]
    assert live, "watch saw the run only after it had ended"
    last = snapshots[-1]
    # Every checkpoint round the job logged, whether or not a look fell between two of them.
    assert last["training"]["logged"] == list(range(10, ROUNDS + 1, 10))
    assert last["training"]["round"] == last["training"]["rounds"] == ROUNDS
    assert last["finished"] and last["status"] == "SUCCEEDED"
    assert [s["step"] for s in last["steps"]["pipeline"] if s["step"] == "Train the model"]
    assert last["traffic"][0]["traffic_percent"] == 100.0


def test_watch_of_a_finished_run_shows_its_steps_and_end_once(trained):
    shown = trained.cli("watch", trained.run_id)

    assert shown.code == 0
    assert "pipeline: Train the model done" in shown.out
    assert f"training {trained.run_id}-train-1: round {ROUNDS} of {ROUNDS}" in shown.out
    assert shown.out.rstrip().endswith(f"run {trained.run_id} SUCCEEDED")


# --- status ----------------------------------------------------------------------------------------


def test_status_shows_production_version_endpoint_traffic_runs_and_quarantined_files(trained):
    shown = trained.cli("status")

    assert shown.code == 0, shown.err
    assert f"{MODEL}  production v1 ({trained.run_id}" in shown.out
    variant = trained.run_id.removeprefix(f"{MODEL}-")
    assert f"endpoint   driftline-{MODEL}  InService  traffic: {variant} 100%" in shown.out
    assert trained.run_id in shown.out and "SUCCEEDED" in shown.out
    assert "drift      not monitored yet" in shown.out
    assert f"quarantine 1 file(s); see `driftline quarantine {MODEL}`" in shown.out


def test_status_json_gives_scripts_the_same_facts(trained):
    shown = trained.cli("status", MODEL, "--json")

    assert shown.code == 0, shown.err
    (status,) = shown.json()["models"]
    assert status["production"]["version"] == 1 and status["production"]["run_id"] == trained.run_id
    assert status["endpoint"]["status"] == "InService"
    assert [v["traffic_percent"] for v in status["endpoint"]["variants"]] == [100.0]
    assert status["runs"][0] == status["runs"][0] | {"run_id": trained.run_id, "status": "SUCCEEDED", "step": None}
    assert status["pending_uploads"]["count"] == 0  # the run took every upload
    assert [q["rule"] for q in status["quarantined"]] == ["target-column"]
    assert status["incidents"] == [] and status["alarms"]


def test_status_dashboard_says_where_the_model_and_stack_dashboards_are(trained):
    shown = trained.cli("status", MODEL, "--dashboard", "--json")

    assert shown.code == 0, shown.err
    boards = shown.json()["dashboards"]
    model_board = boards["models"][MODEL]
    assert model_board["name"] == f"driftline-{MODEL}-us-east-1" and model_board["exists"] is True
    assert model_board["url"].endswith(f"#dashboards/dashboard/driftline-{MODEL}-us-east-1")
    assert boards["stack"]["exists"] is True
    text = trained.cli("status", MODEL, "--dashboard").out
    assert f"dashboard  driftline-{MODEL}-us-east-1: https://us-east-1.console.aws.amazon.com/cloudwatch/" in text


def test_status_shows_a_paused_model_with_who_and_why(trained):
    table = trained.clients("dynamodb")
    key = {"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": "PAUSE"}}
    table.put_item(
        TableName=trained.stack.state_table,
        Item=key
        | {
            "paused_by": {"S": "alice"},
            "paused_at": {"S": "2026-12-01T03:00:00+00:00"},
            "reason": {"S": "bad labels upstream"},
        },
    )
    try:
        shown = trained.cli("status", MODEL)
    finally:
        table.delete_item(TableName=trained.stack.state_table, Key=key)

    assert "PAUSED     by alice since 2026-12-01 03:00:00Z: bad labels upstream" in shown.out
    assert f"`driftline resume {MODEL}`" in shown.out


# --- runs / run ------------------------------------------------------------------------------------


def test_runs_lists_the_run_with_its_gate_verdict_and_spot_savings(trained):
    shown = trained.cli("runs", MODEL, "--json")

    assert shown.code == 0, shown.err
    (run,) = shown.json()["runs"]
    assert run["run_id"] == trained.run_id and run["trigger"] == "upload" and run["status"] == "SUCCEEDED"
    assert run["gate_passed"] is True and run["metric"] == "auc" and run["value"] > 0.6
    assert run["spot_savings_percent"] is not None
    assert f"{trained.run_id} (production)" in trained.cli("runs", MODEL).out


def test_run_shows_steps_with_durations_jobs_metrics_against_baseline_and_the_gate(trained):
    shown = trained.cli("run", trained.run_id, "--json")

    assert shown.code == 0, shown.err
    run = shown.json()
    pipeline = {s["step"]: s for s in run["executions"]["pipeline"]["steps"]}
    assert pipeline["Train the model"]["state"] == "done" and pipeline["Train the model"]["seconds"] > 0
    assert run["executions"]["rollout"]["status"] == "SUCCEEDED"
    assert run["training_jobs"][0]["job_name"] == f"{trained.run_id}-train-1"
    assert run["evaluation"]["metrics"]["auc"] > run["evaluation"]["baseline_metrics"]["auc"]
    assert run["gate"]["passed"] is True
    text = trained.cli("run", trained.run_id).out
    assert "quality gate passed on auc:" in text and "trivial baseline" in text and "Train the model" in text


# --- quarantine ------------------------------------------------------------------------------------


def test_quarantine_lists_the_rejected_file_with_its_reason(trained):
    shown = trained.cli("quarantine", MODEL)

    assert shown.code == 0, shown.err
    assert f"uploaded as incoming/{MODEL}/broken.csv" in shown.out
    assert "why: the header has no target column 'y'" in shown.out
    (item,) = trained.cli("quarantine", MODEL, "--json").json()["files"]
    assert item["key"].startswith(f"quarantine/{MODEL}/") and item["rule"] == "target-column"


def test_release_with_a_fixed_file_uploads_it_to_incoming_and_marks_the_original_released(trained, tmp_path):
    # No second training run in this module: from now on uploads are kept for the next run.
    onboard_model(trained.clients, trained.stack, config(start_on_upload=False), MODEL)
    (item,) = trained.cli("quarantine", MODEL, "--json").json()["files"]
    fixed = tmp_path / "broken.csv"
    generate_bank_marketing(200, seed=11).to_csv(fixed, index=False)

    released = trained.cli("quarantine", "release", item["key"], "--file", str(fixed), "--json")

    assert released.code == 0, released.err
    assert released.json()["to"] == f"s3://{trained.stack.data_bucket}/incoming/{MODEL}/broken.csv"
    s3 = trained.clients("s3")
    body = s3.get_object(Bucket=trained.stack.data_bucket, Key=f"incoming/{MODEL}/broken.csv")["Body"].read()
    assert body == fixed.read_bytes()
    # The fixed file is a new upload under incoming/: pending until a run takes it.
    assert trained.cli("status", MODEL, "--json").json()["models"][0]["pending_uploads"]["count"] == 1
    assert s3.head_object(Bucket=trained.stack.data_bucket, Key=item["key"])  # the original is kept
    assert trained.cli("quarantine", MODEL, "--json").json()["files"] == []  # released ones are not listed
    (kept,) = trained.cli("quarantine", MODEL, "--all", "--json").json()["files"]
    assert kept["released_to"] == f"incoming/{MODEL}/broken.csv" and kept["released_at"]

    again = trained.cli("quarantine", "release", item["key"])
    assert again.code == 1 and "was already released" in again.err and "--force" in again.err


# --- mistakes a person makes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [("status", "churn"), ("runs", "churn"), ("quarantine", "churn"), ("run", "x", "--model", "churn")],
)
def test_unknown_model_is_refused_with_the_models_there_are(trained, argv):
    shown = trained.cli(*argv)

    assert shown.code == 1 and shown.out == ""
    assert f"error: unknown model 'churn' in stack 'driftline': known models are {MODEL}" in shown.err


@pytest.mark.parametrize("command", ["run", "watch"])
def test_unknown_run_id_is_refused(trained, command):
    shown = trained.cli(command, f"{MODEL}-upload-20200101T000000")

    assert shown.code == 1
    assert f"error: unknown run id '{MODEL}-upload-20200101T000000'" in shown.err
    assert "driftline runs MODEL" in shown.err


def test_releasing_a_key_that_is_not_quarantined_is_refused(trained):
    shown = trained.cli("quarantine", "release", f"incoming/{MODEL}/part-000.csv")

    assert shown.code == 1 and "is not a quarantined file" in shown.err


def test_unknown_stack_is_refused_with_how_to_deploy_it(trained):
    shown = trained.cli("status", "--stack-name", "driftline-prod")

    assert shown.code == 1
    assert "error: stack 'driftline-prod' not found in us-east-1" in shown.err and "--stack-name" in shown.err


def test_no_credentials_is_refused_with_how_to_configure_them(trained, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    shown = trained.cli("status")

    assert shown.code == 253
    assert shown.err.startswith("error: no AWS credentials found: ")
    assert "aws configure" in shown.err


def test_no_local_cloud_at_the_endpoint_is_a_clear_error():
    shown = run_cli("http://127.0.0.1:9", "status")

    assert shown.code == 255 and "cannot reach http://127.0.0.1:9" in shown.err
