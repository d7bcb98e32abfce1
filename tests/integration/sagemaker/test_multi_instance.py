"""A job with InstanceCount N runs as N hosts under SageMaker's per-host contract.

Each host (algo-1 .. algo-N) is its own process with its own /opt/ml, its own resourceconfig.json and
SM_* variables, and its share of a ShardedByS3Key input; the host names resolve to the hosts' own
addresses; one failing host fails the job; a spot interruption restarts every host.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import uuid
from collections.abc import Callable
from typing import Any

from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption, runner

from .sagemaker_testkit import processing_request, sourcedir, training_request

HOST_PY = """
import json, os, socket, time

host = os.environ["SM_CURRENT_HOST"]
hosts = json.loads(os.environ["SM_HOSTS"])
checkpoints = os.environ["SM_HP_CHECKPOINT_DIR"]
os.makedirs(checkpoints, exist_ok=True)
restored = sorted(os.listdir(checkpoints))
if os.environ.get("SM_HP_FAIL_ON") == host:
    raise ValueError(f"{host} broke")
if os.environ.get("SM_HP_HANG_ON") == host:
    time.sleep(600)
print("start", host, flush=True)
if os.environ.get("SM_HP_INTERRUPTIBLE") and not restored:
    open(os.path.join(checkpoints, f"{host}-attempt-1"), "w").close()
    print("ready", host, flush=True)
    time.sleep(600)  # until the interruption
def files(channel):
    root = os.environ[f"SM_CHANNEL_{channel.upper()}"]
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
report = {
    "host": host,
    "hosts": hosts,
    "resourceconfig": json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json"))),
    "training_env": json.loads(os.environ["SM_TRAINING_ENV"]),
    "network_interface": os.environ["SM_NETWORK_INTERFACE_NAME"],
    "train": files("train"),
    "validation": files("validation"),
    "addresses": {h: socket.gethostbyname(h) for h in hosts},
    "restored": restored,
    "sandbox": os.environ["SM_MODEL_DIR"],
}
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"{host}.json"), "w") as f:
    json.dump(report, f)
"""

PROCESS_HOST_PY = """
import json, os
config = json.load(open("/opt/ml/config/resourceconfig.json".replace("/opt/ml", os.environ["OPT_ML"])))
root = "/opt/ml/processing/input/data".replace("/opt/ml", os.environ["OPT_ML"])
names = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
out = "/opt/ml/processing/output/train".replace("/opt/ml", os.environ["OPT_ML"])
with open(os.path.join(out, f"{config['current_host']}.json"), "w") as f:
    json.dump({"config": config, "files": names}, f)
"""


def _untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _publish(aws: Callable[[str], Any], bucket: str, files: dict[str, str]) -> str:
    aws("s3").put_object(Bucket=bucket, Key="code/hosts/sourcedir.tar.gz", Body=sourcedir(files))
    return f"s3://{bucket}/code/hosts"


def _training(aws: Callable[[str], Any], bucket: str, name: str, instances: int, **hps: Any) -> dict[str, Any]:
    code = _publish(aws, bucket, {"host.py": HOST_PY})
    for index in range(5):
        aws("s3").put_object(Bucket=bucket, Key=f"data/train/part-{index}.csv", Body=b"1,2\n")
    aws("s3").put_object(Bucket=bucket, Key="data/validation/validation.csv", Body=b"1,2\n")
    request = training_request(name, bucket, code, **hps)
    request["HyperParameters"]["sagemaker_program"] = json.dumps("host.py")
    request["ResourceConfig"]["InstanceCount"] = instances
    train = request["InputDataConfig"][0]
    train["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"
    request["InputDataConfig"].append(
        {
            "ChannelName": "validation",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{bucket}/data/validation/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
    )
    return request


def _finished(aws: Callable[[str], Any], name: str, kind: str = "training") -> dict[str, Any]:
    assert runner().wait(kind, name, timeout=120), f"{name} did not end"
    if kind == "training":
        return aws("sagemaker").describe_training_job(TrainingJobName=name)
    return aws("sagemaker").describe_processing_job(ProcessingJobName=name)


def _reports(aws: Callable[[str], Any], bucket: str, name: str) -> dict[str, dict[str, Any]]:
    model = aws("s3").get_object(Bucket=bucket, Key=f"runs/model/{name}/output/model.tar.gz")["Body"].read()
    return {path.removesuffix(".json"): json.loads(body) for path, body in _untar(model).items()}


def test_each_host_gets_its_own_resourceconfig_environment_and_sandbox(aws, bucket):
    # Given a 2-instance training job
    name = f"hosts-{uuid.uuid4().hex[:8]}"

    # When it runs
    aws("sagemaker").create_training_job(**_training(aws, bucket, name, 2))

    # Then it completes, and both hosts' model files reach model.tar.gz
    job = _finished(aws, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    reports = _reports(aws, bucket, name)
    assert sorted(reports) == ["algo-1", "algo-2"]
    for host, report in reports.items():
        config = report["resourceconfig"]
        assert (config["current_host"], config["hosts"]) == (host, ["algo-1", "algo-2"])
        assert config["network_interface_name"] == report["network_interface"] == "eth0"
        assert config["instance_groups"][0]["hosts"] == ["algo-1", "algo-2"]
        assert report["hosts"] == ["algo-1", "algo-2"]
        assert report["training_env"]["master_hostname"] == "algo-1"
        assert report["training_env"]["is_master"] is (host == "algo-1")
    # each host has its own /opt/ml
    assert reports["algo-1"]["sandbox"] != reports["algo-2"]["sandbox"]


def test_sharded_channel_splits_the_keys_and_a_replicated_one_gives_every_host_all(aws, bucket):
    name = f"shards-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_training_job(**_training(aws, bucket, name, 2))

    job = _finished(aws, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    reports = _reports(aws, bucket, name)
    first, second = reports["algo-1"]["train"], reports["algo-2"]["train"]
    # ShardedByS3Key: disjoint, complete, about 1/N of the objects each
    assert not set(first) & set(second)
    assert sorted(first + second) == [f"part-{index}.csv" for index in range(5)]
    assert sorted([len(first), len(second)]) == [2, 3]
    # FullyReplicated: every object on every host
    assert reports["algo-1"]["validation"] == reports["algo-2"]["validation"] == ["validation.csv"]


def test_host_names_resolve_to_each_hosts_own_address(aws, bucket):
    name = f"names-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_training_job(**_training(aws, bucket, name, 2))

    job = _finished(aws, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    reports = _reports(aws, bucket, name)
    addresses = reports["algo-1"]["addresses"]
    assert addresses == reports["algo-2"]["addresses"]
    assert addresses["algo-1"] != addresses["algo-2"]
    assert all(address.startswith("127.") for address in addresses.values())


def test_one_failing_host_fails_the_job_and_stops_the_others(aws, bucket):
    # Given a 2-instance job whose second host fails while the first would run for ten minutes
    name = f"host-fails-{uuid.uuid4().hex[:8]}"
    request = _training(aws, bucket, name, 2, fail_on="algo-2", hang_on="algo-1")

    # When it runs
    aws("sagemaker").create_training_job(**request)

    # Then the job fails with the failing host's error, without waiting for the first host
    job = _finished(aws, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert "algo-2 broke" in job["FailureReason"]


def test_spot_interruption_restarts_every_host_from_the_shared_checkpoints(aws, bucket):
    # Given a 2-instance spot job whose hosts wait to be interrupted on their first attempt
    name = f"hosts-spot-{uuid.uuid4().hex[:8]}"
    plan = plan_training_interruption(
        PlannedInterruption(name_suffix=name, log_pattern=re.compile(r"^ready algo-2$"), outcome="resume")
    )
    aws("sagemaker").create_training_job(**_training(aws, bucket, name, 2, interruptible="yes"))

    # When the capacity is reclaimed and comes back
    job = _finished(aws, name)

    # Then every host restarted, each from the checkpoints every host had synced to the one S3 prefix
    assert plan.fired.is_set()
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "Interrupted" in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    reports = _reports(aws, bucket, name)
    assert sorted(reports) == ["algo-1", "algo-2"]
    for report in reports.values():
        assert "algo-2-attempt-1" in report["restored"]


def test_sharded_processing_input_and_per_host_outputs(aws, bucket):
    # Given a 2-instance processing job with a sharded data input
    code = _publish(aws, bucket, {"process.py": PROCESS_HOST_PY})
    aws("s3").put_object(Bucket=bucket, Key="code/hosts/src/process.py", Body=PROCESS_HOST_PY.encode())
    for index in range(4):
        aws("s3").put_object(Bucket=bucket, Key=f"incoming/part-{index}.csv", Body=b"x\n")
    name = f"process-hosts-{uuid.uuid4().hex[:8]}"
    request = processing_request(name, bucket, code)
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 2
    request["ProcessingInputs"][1]["S3Input"]["S3DataDistributionType"] = "ShardedByS3Key"
    request["Environment"] = {"OPT_ML": "/opt/ml"}
    request["AppSpecification"].pop("ContainerArguments")

    # When it runs
    aws("sagemaker").create_processing_job(**request)

    # Then each host saw its own resourceconfig and half of the objects, and both hosts' outputs are uploaded
    job = _finished(aws, name, "processing")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    outputs = {
        host: json.loads(aws("s3").get_object(Bucket=bucket, Key=f"runs/splits/train/{host}.json")["Body"].read())
        for host in ("algo-1", "algo-2")
    }
    for host, output in outputs.items():
        assert output["config"] == {"current_host": host, "hosts": ["algo-1", "algo-2"]}
    assert sorted(outputs["algo-1"]["files"] + outputs["algo-2"]["files"]) == [f"part-{i}.csv" for i in range(4)]
    assert len(outputs["algo-1"]["files"]) == len(outputs["algo-2"]["files"]) == 2
