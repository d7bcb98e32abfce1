"""`driftline init` against the local cloud: the config it writes is activated by Driftline's own config handler,
and the printed commands name the stack's data bucket (or a clear placeholder when there is no stack)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.loop import Clients, Stack
from driftline_local.ops.init_cmd import BUCKET_PLACEHOLDER
from driftline_local.sample_data import generate_bank_marketing

from tests.integration.local.waiting import eventually

MODEL = "onboarded"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with LocalCloud(port=0, workdir=tmp_path_factory.mktemp("cloud"), time_scale=30) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        clients = Clients(cloud.endpoint_url)
        yield {"cloud": cloud, "clients": clients, "stack": Stack.describe(clients)}


def driftline(endpoint_url: str, cwd, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    command = [
        sys.executable,
        "-m",
        "driftline_local.cli",
        *args,
        "--endpoint-url",
        endpoint_url,
        "--region",
        "us-east-1",
    ]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_init_writes_a_config_driftline_activates_and_prints_the_upload_commands(world, tmp_path):
    # Given a sample of the model's labelled data
    generate_bank_marketing(200, seed=5).to_csv(tmp_path / "calls.csv", index=False)

    # When the model owner runs init
    done = driftline(world["cloud"].endpoint_url, tmp_path, "init", MODEL, "--data", "calls.csv")

    # Then it wrote model.yaml and printed the two uploads into the stack's data bucket
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    commands = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("aws s3 cp")]
    bucket = world["stack"].data_bucket
    assert [shlex.split(c)[4] for c in commands] == [
        f"s3://{bucket}/models/{MODEL}/model.yaml",
        f"s3://{bucket}/incoming/{MODEL}/calls.csv",
    ]

    # And the config handler accepts the written file as it is (the first command, done with boto3)
    s3 = world["clients"]("s3")
    s3.put_object(Bucket=bucket, Key=f"models/{MODEL}/model.yaml", Body=(tmp_path / "model.yaml").read_bytes())
    table = world["clients"]("dynamodb")
    eventually(
        lambda: table.get_item(
            TableName=world["stack"].state_table, Key={"pk": {"S": f"MODEL#{MODEL}"}, "sk": {"S": "CONFIG"}}
        ).get("Item"),
        timeout=60,
    )


def test_without_a_reachable_stack_the_commands_name_a_placeholder(world, tmp_path):
    generate_bank_marketing(50, seed=6).to_csv(tmp_path / "calls.csv", index=False)

    done = driftline(
        world["cloud"].endpoint_url,
        tmp_path,
        "init",
        MODEL,
        "--data",
        "calls.csv",
        "--stack-name",
        "no-such-stack",
        "-o",
        "cfg.yaml",
    )

    assert done.returncode == 0, done.stderr
    assert f"s3://{BUCKET_PLACEHOLDER}/models/{MODEL}/model.yaml" in done.stdout
    assert f"replace {BUCKET_PLACEHOLDER}" in done.stdout
    assert (tmp_path / "cfg.yaml").exists()


def test_a_bad_csv_writes_nothing_and_says_why(world, tmp_path):
    (tmp_path / "bad.csv").write_text("age,job,y\n30,admin,no\n41,tech\n")

    done = driftline(world["cloud"].endpoint_url, tmp_path, "init", MODEL, "--data", "bad.csv")

    assert done.returncode == 1
    assert "line 3 has 2 fields but the header has 3" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "model.yaml").exists()
