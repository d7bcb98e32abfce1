"""`driftline retrain / promote / rollback / pause / resume` against the local cloud, as on-call types them.

One model is trained once for the module (CPU is scarce); the tests run in file order and build on each other:
pause and the refusals, a retrain typed twice, a promotion through the canary, a rollback to the first version.
Every command runs as a separate `driftline` process with the local cloud's --endpoint-url.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.loop import (
    FAST_TIMINGS,
    Clients,
    Stack,
    onboard_model,
    start_rollout,
    states_entered,
    upload_frames,
    wait_for_execution,
    wait_for_run,
)
from driftline_local.sample_data import generate_bank_marketing
from driftline_local.sns import read_mailbox

from tests.integration.local.waiting import eventually

MODEL = "acts"
CONFIG = (
    f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
    + FAST_TIMINGS
    + "training:\n  hyperparameters:\n    num_round: 20\nmonitoring:\n  enabled: false\n"
)
SECOND_RUN = f"{MODEL}-upload-20261128T070010"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The Driftline stack on a local cloud, with MODEL trained once and serving version 1."""
    with LocalCloud(port=0, workdir=tmp_path_factory.mktemp("cloud"), time_scale=30) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        clients = Clients(cloud.endpoint_url)
        stack = Stack.describe(clients)
        onboard_model(clients, stack, CONFIG, MODEL)
        since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(2000, seed=41)])
        result = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None, timeout=600)
        assert result.status == "SUCCEEDED", result.error
        yield {
            "cloud": cloud,
            "clients": clients,
            "stack": stack,
            "first_run": result.run_id,
            "model_data_url": clients("sagemaker").describe_training_job(
                TrainingJobName=result.attempts[-1]["job_name"]
            )["ModelArtifacts"]["S3ModelArtifacts"],
        }


def driftline(world, *args: str, credentials: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if credentials:
        env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    command = [
        sys.executable,
        "-m",
        "driftline_local.cli",
        *args,
        "--endpoint-url",
        world["cloud"].endpoint_url,
        "--region",
        "us-east-1",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def item(world, sk: str) -> dict | None:
    table = world["clients"]("dynamodb")
    return table.get_item(
        TableName=world["stack"].state_table, Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": sk}}, ConsistentRead=True
    ).get("Item")


def audits(world) -> list[dict]:
    response = world["clients"]("dynamodb").query(
        TableName=world["stack"].state_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": f"MODEL#{MODEL}"}, ":audit": {"S": "AUDIT#"}},
    )
    return [{k: next(iter(v.values())) for k, v in i.items()} for i in response["Items"]]


def mail(world, subject_contains: str) -> list[dict]:
    return [m for m in read_mailbox(world["cloud"].ctx) if subject_contains in (m.get("subject") or "")]


def serving(world) -> str:
    return world["clients"]("sagemaker").describe_endpoint(EndpointName=f"driftline-{MODEL}")["EndpointConfigName"]


# --- errors a person makes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["retrain"], ["rollback"], ["promote", "_", "1"], ["pause"], ["resume"]], ids=lambda c: c[0]
)
def test_an_unknown_model_is_refused_with_a_clear_error(world, command):
    args = [command[0], "nope", *command[2:]]

    done = driftline(world, *args)

    assert done.returncode == 1, done.stderr
    assert "unknown model 'nope'" in done.stderr and "Traceback" not in done.stderr


def test_without_credentials_nothing_is_done_and_the_error_says_how_to_configure_them(world):
    done = driftline(world, "pause", MODEL, credentials=False)

    assert done.returncode == 253
    assert "no AWS credentials" in done.stderr
    assert item(world, "PAUSE") is None


# --- pause / resume -------------------------------------------------------------------------------------------


def test_a_paused_model_refuses_retrain_and_promote_with_who_paused_it_and_why(world):
    paused = driftline(world, "pause", MODEL, "--reason", "label feed broken, INC-7", "--json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["paused"] is True
    pause = item(world, "PAUSE")
    assert pause["reason"]["S"] == "label feed broken, INC-7" and pause["paused_by"]["S"].startswith("arn:aws:")

    for command in (["retrain", MODEL], ["promote", MODEL, "1"]):
        refused = driftline(world, *command)
        assert refused.returncode == 1, refused.stdout
        assert (
            "paused" in refused.stderr and "INC-7" in refused.stderr and f"driftline resume {MODEL}" in refused.stderr
        )

    resumed = driftline(world, "resume", MODEL)
    assert resumed.returncode == 0, resumed.stderr
    assert item(world, "PAUSE") is None
    assert [a["op"] for a in sorted(audits(world), key=lambda a: a["at"])] == ["pause", "resume"]
    assert mail(world, f"{MODEL}: paused by") and mail(world, f"{MODEL}: resumed by")


# --- retrain --------------------------------------------------------------------------------------------------


def test_retrain_typed_twice_starts_one_run(world):
    clients, stack = world["clients"], world["stack"]
    # A long quiet window keeps the run waiting before any job, so the test trains nothing more.
    onboard_model(clients, stack, CONFIG.replace("settle_seconds: 2", "settle_seconds: 3600"), MODEL)

    first = driftline(world, "retrain", MODEL, "--reason", "new labels", "--json")
    second = driftline(world, "retrain", MODEL, "--json")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    run = json.loads(first.stdout)["run_id"]
    assert run.startswith(f"{MODEL}-manual-")
    assert json.loads(second.stdout)["duplicate"] is True and json.loads(second.stdout)["run_id"] == run
    sfn = clients("stepfunctions")
    ours = [
        e
        for e in sfn.list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]
        if e["name"].startswith(f"{MODEL}-manual-")
    ]
    assert [e["name"] for e in ours] == [run]
    assert "Wait for uploads to settle" in states_entered(clients, ours[0]["executionArn"])
    assert mail(world, f"retraining run {run} started")
    sfn.stop_execution(executionArn=ours[0]["executionArn"])
    onboard_model(clients, stack, CONFIG, MODEL)


# --- promote ---------------------------------------------------------------------------------------------------


def test_promote_refuses_unknown_and_unapproved_versions(world):
    sagemaker = world["clients"]("sagemaker")
    described = sagemaker.list_model_packages(ModelPackageGroupName=f"driftline-{MODEL}")["ModelPackageSummaryList"]
    first = described[0]
    container = sagemaker.describe_model_package(ModelPackageName=first["ModelPackageArn"])
    spec = container["InferenceSpecification"]
    world["second_arn"] = sagemaker.create_model_package(
        ModelPackageGroupName=f"driftline-{MODEL}",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            k: spec[k] for k in ("Containers", "SupportedContentTypes", "SupportedResponseMIMETypes")
        },
        CustomerMetadataProperties={"run_id": SECOND_RUN},
    )["ModelPackageArn"]

    # the record register_model leaves for a run's version
    world["clients"]("dynamodb").put_item(
        TableName=world["stack"].state_table,
        Item={
            "pk": {"S": f"MODEL#{MODEL}"},
            "sk": {"S": f"RUN#{SECOND_RUN}"},
            "run_id": {"S": SECOND_RUN},
            "model": {"S": MODEL},
            "status": {"S": "REGISTERED"},
            "model_package_arn": {"S": world["second_arn"]},
        },
    )

    unknown = driftline(world, "promote", MODEL, "9")
    pending = driftline(world, "promote", MODEL, "2")
    serving_now = driftline(world, "promote", MODEL, "1")

    assert unknown.returncode == 1 and "no registered version '9'" in unknown.stderr
    assert pending.returncode == 1 and "PendingManualApproval" in pending.stderr
    assert "update-model-package" in pending.stderr
    assert serving_now.returncode == 1 and "already in production" in serving_now.stderr


def test_promote_rolls_an_approved_version_out_through_the_canary_and_rollback_waits_for_it(world):
    clients = world["clients"]
    clients("sagemaker").update_model_package(ModelPackageArn=world["second_arn"], ModelApprovalStatus="Approved")

    started = driftline(world, "promote", MODEL, "2", "--reason", "hand-checked", "--json")

    assert started.returncode == 0, started.stderr
    execution = json.loads(started.stdout)["execution_arn"]
    eventually(lambda: "Which rollout strategy?" in states_entered(clients, execution), timeout=120)
    busy = driftline(world, "rollback", MODEL)
    assert busy.returncode == 1 and "rolled out" in busy.stderr
    assert wait_for_execution(clients, execution)["status"] == "SUCCEEDED"
    assert serving(world) == f"{SECOND_RUN}-config"
    assert item(world, "PRODUCTION")["run_id"]["S"] == SECOND_RUN


# --- rollback ---------------------------------------------------------------------------------------------------


def test_rollback_puts_the_previous_version_back_and_rejects_the_withdrawn_one(world):
    clients = world["clients"]

    done = driftline(world, "rollback", MODEL, "--reason", "v2 answers late", "--json")

    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert (outcome["version"], outcome["replaced_version"]) == (1, 2)
    assert serving(world) == f"{world['first_run']}-config"
    assert item(world, "PRODUCTION")["run_id"]["S"] == world["first_run"]
    withdrawn = clients("sagemaker").describe_model_package(ModelPackageName=world["second_arn"])
    assert withdrawn["ModelApprovalStatus"] == "Rejected"
    alarm = clients("cloudwatch").describe_alarms(AlarmNames=[f"driftline-{MODEL}-5xx"])["MetricAlarms"][0]
    variant = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}["VariantName"]
    assert variant == world["first_run"].removeprefix(f"{MODEL}-")
    [page] = mail(world, f"{MODEL}: rolled back to version 1")
    assert "v2 answers late" in page["message"]
    assert [a["outcome"] for a in audits(world) if a["op"] == "rollback"] == ["started", "done"]


def test_rollback_typed_twice_rolls_back_once_and_refusals_name_the_version(world):
    again = driftline(world, "rollback", MODEL)
    withdrawn = driftline(world, "rollback", MODEL, "--to", "2")
    unknown = driftline(world, "rollback", MODEL, "--to", "7")

    assert again.returncode == 0 and "Already done" in again.stdout
    assert serving(world) == f"{world['first_run']}-config"
    assert withdrawn.returncode == 1 and "never served production" in withdrawn.stderr
    assert unknown.returncode == 1 and "no registered version '7'" in unknown.stderr


# --- what a pause does to the automatic paths (deployed handlers, their roles) --------------------------------------


def test_an_upload_while_paused_is_kept_without_a_run_and_resume_says_how_to_train_on_it(world):
    clients, stack = world["clients"], world["stack"]
    assert driftline(world, "pause", MODEL, "--reason", "INC-9").returncode == 0
    runs_before = clients("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]

    upload_frames(clients, stack, MODEL, [generate_bank_marketing(200, seed=43)], prefix="while-paused")

    page = eventually(lambda: mail(world, f"{MODEL}: upload kept, model paused"), timeout=60)[0]
    assert "INC-9" in page["message"]
    assert eventually(lambda: item(world, "PAUSE").get("uploads_kept"), timeout=30)["N"] == "1"
    runs_after = clients("stepfunctions").list_executions(stateMachineArn=stack.training_pipeline_arn)["executions"]
    assert len(runs_after) == len(runs_before)
    listing = clients("s3").list_objects_v2(Bucket=stack.data_bucket, Prefix=f"incoming/{MODEL}/while-paused")
    assert [o["Key"] for o in listing["Contents"]] == [f"incoming/{MODEL}/while-paused-000.csv"]


def test_a_rollout_while_paused_is_held_and_its_candidate_approved_for_promote(world):
    clients, stack = world["clients"], world["stack"]
    sagemaker = clients("sagemaker")
    run = f"{MODEL}-upload-20261128T080000"
    spec = sagemaker.describe_model_package(ModelPackageName=world["second_arn"])["InferenceSpecification"]
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=f"driftline-{MODEL}",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            k: spec[k] for k in ("Containers", "SupportedContentTypes", "SupportedResponseMIMETypes")
        },
    )["ModelPackageArn"]
    before = serving(world)

    # As the pipeline's last step does for a candidate that passed the gate
    outcome = wait_for_execution(clients, start_rollout(clients, stack, MODEL, run, world["model_data_url"], arn))

    assert outcome["error"] == "CandidateRolledBack"
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"
    assert serving(world) == before
    [page] = mail(world, "held, model paused")
    assert f"driftline promote {MODEL} {arn.rsplit('/', 1)[-1]}" in page["message"]
    resumed = driftline(world, "resume", MODEL, "--json")
    assert json.loads(resumed.stdout)["rollouts_held"] == 1
    assert json.loads(resumed.stdout)["uploads_kept"] == 1
