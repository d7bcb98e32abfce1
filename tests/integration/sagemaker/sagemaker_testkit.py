"""Tiny job scripts and request builders for the SageMaker local-cloud tests."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
from collections.abc import Callable
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"

TRAIN_PY = """
import argparse, json, os, signal, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--checkpoint_dir", required=True)
parser.add_argument("--fail", default="")
args = parser.parse_args()
os.makedirs(args.checkpoint_dir, exist_ok=True)
resumed = sorted(os.listdir(args.checkpoint_dir))

def on_sigterm(signum, frame):
    with open(os.path.join(args.checkpoint_dir, "on-sigterm.json"), "w") as f:
        f.write("{}")
    sys.exit(143)

signal.signal(signal.SIGTERM, on_sigterm)
if args.fail:
    raise ValueError(args.fail)
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "part", "data.csv")).read().splitlines()
for epoch in range(args.epochs):
    if f"checkpoint-{epoch}.json" in resumed:
        continue
    with open(os.path.join(args.checkpoint_dir, f"checkpoint-{epoch}.json"), "w") as f:
        json.dump({"epoch": epoch}, f)
    print(f"epoch={epoch}", flush=True)
    time.sleep(args.sleep)
model = {"factor": len(rows), "hps": json.loads(os.environ["SM_HPS"]), "resumed": resumed,
         "channels": json.loads(os.environ["SM_CHANNELS"]), "argv": sys.argv[1:]}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump(model, f)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "summary.json"), "w") as f:
    json.dump({"rows": len(rows)}, f)
"""

PROCESS_PY = """
import argparse, glob, os, sys

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir", default="/opt/ml/processing/input/data")
parser.add_argument("--output-dir", default="/opt/ml/processing/output")
parser.add_argument("--fail", default="")
args = parser.parse_args()
if args.fail:
    raise RuntimeError(args.fail)
rows = []
for path in sorted(glob.glob(os.path.join(args.data_dir, "**", "*.csv"), recursive=True)):
    rows += open(path).read().splitlines()
os.makedirs(os.path.join(args.output_dir, "train"), exist_ok=True)
with open(os.path.join(args.output_dir, "train", "train.csv"), "w") as f:
    f.write("\\n".join(r.upper() for r in rows) + "\\n")
print("processed", len(rows), "rows; MODE =", os.environ.get("MODE"))
"""

INFERENCE_PY = """
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        model = json.load(f)
    if model.get("broken"):
        raise RuntimeError("cannot load a broken model")
    return model

def input_fn(body, content_type):
    text = body.decode("utf-8") if isinstance(body, bytes) else body  # the container passes CSV/JSON as str
    if content_type == "application/json":
        return json.loads(text)["instances"]
    if content_type == "text/csv":
        return [float(x) for x in text.strip().split(",")]
    raise ValueError(f"unsupported content type {content_type}")

def predict_fn(data, model):
    return [x * model["factor"] for x in data]

def output_fn(prediction, accept):
    if accept == "text/csv":
        return "\\n".join(str(p) for p in prediction), "text/csv"
    return json.dumps({"predictions": prediction}), "application/json"
"""


def sourcedir(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        time.sleep(interval)


def training_request(name: str, bucket: str, code_uri: str, **hyperparameters: Any) -> dict[str, Any]:
    hps = {"sagemaker_program": "train.py", "sagemaker_submit_directory": f"{code_uri}/sourcedir.tar.gz"}
    hps["checkpoint_dir"] = "/opt/ml/checkpoints"  # as Driftline passes it: only request paths are mapped
    hps.update(hyperparameters)
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {key: json.dumps(value) for key, value in hps.items()},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/runs/model"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": 1200},
        "EnableManagedSpotTraining": True,
        "CheckpointConfig": {"S3Uri": f"s3://{bucket}/runs/checkpoints/", "LocalPath": "/opt/ml/checkpoints"},
    }


def processing_request(name: str, bucket: str, code_uri: str, *arguments: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/process.py"],
            "ContainerArguments": [
                "--data-dir",
                "/opt/ml/processing/input/data",
                "--output-dir",
                "/opt/ml/processing/output",
                *arguments,
            ],
        },
        "Environment": {"MODE": "local"},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"{code_uri}/src/process.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/incoming/",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/runs/splits/train",
                        "LocalPath": "/opt/ml/processing/output/train",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def at_least(read: Callable[[], list[Any]], count: int, timeout: float = 30.0) -> list[Any]:
    """Poll `read` until it returns at least `count` items."""

    def check() -> list[Any] | None:
        got = read()
        return got if len(got) >= count else None

    return wait_for(check, timeout)


def job_log(aws: Any, job_name: str, group: str = "/aws/sagemaker/ProcessingJobs") -> str:
    """Everything a job wrote to its CloudWatch log streams (where SageMaker puts a container's output)."""
    logs = aws("logs")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job_name)["logStreams"]
    return "\n".join(
        event["message"]
        for stream in streams
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
    )
