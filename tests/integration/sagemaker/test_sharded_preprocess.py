"""jobs/preprocess.py on two instances of the local cloud equals one instance: the multi-instance path, for real.

A 2-instance processing job with the data input ShardedByS3Key runs --stage statistics on each host; a second
2-instance job gets every host's statistics (FullyReplicated) and the same sharded data, and runs --stage encode.
Its preprocessor.json, baseline and split rows equal what a 1-instance job writes from all the data.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from driftline_local.sagemaker.jobs import runner
from driftline_local.sample_data import generate_bank_marketing

from .sagemaker_testkit import ROLE

JOBS = Path(__file__).resolve().parents[3] / "jobs"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
OUTPUTS = ("train", "validation", "test", "preprocessor", "baseline")
CONFIG = {"name": "sharded", "problem_type": "binary_classification", "target": "y", "drop_columns": ["duration"]}


def _input(name: str, uri: str, path: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": distribution,
        },
    }


def _request(bucket: str, name: str, instances: int, outputs: dict[str, str], *arguments: str) -> dict[str, Any]:
    sharding = "ShardedByS3Key" if instances > 1 else "FullyReplicated"
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
            "ContainerArguments": [
                "--config",
                "/opt/ml/processing/input/config/config.json",
                "--data-dir",
                "/opt/ml/processing/input/data",
                "--output-dir",
                "/opt/ml/processing/output",
                "--resource-config",
                "/opt/ml/config/resourceconfig.json",
                *arguments,
            ],
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": instances, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
        "ProcessingInputs": [
            _input("code", f"s3://{bucket}/code/jobs/src/", "/opt/ml/processing/input/code"),
            _input("config", f"s3://{bucket}/config/", "/opt/ml/processing/input/config"),
            _input("data", f"s3://{bucket}/incoming/", "/opt/ml/processing/input/data", sharding),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": output,
                    "S3Output": {
                        "S3Uri": uri,
                        "LocalPath": f"/opt/ml/processing/output/{output}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for output, uri in outputs.items()
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _run(aws: Callable[[str], Any], request: dict[str, Any]) -> None:
    aws("sagemaker").create_processing_job(**request)
    name = request["ProcessingJobName"]
    assert runner().wait("processing", name, timeout=300), f"{name} did not end"
    job = aws("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")


def _objects(aws: Callable[[str], Any], bucket: str, prefix: str) -> dict[str, bytes]:
    listed = aws("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        item["Key"][len(prefix) :]: aws("s3").get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listed
    }


def _written(aws: Callable[[str], Any], bucket: str, run: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for split in ("train", "validation", "test"):
        frames = [
            pd.read_csv(io.BytesIO(body), header=None) for body in _objects(aws, bucket, f"{run}/{split}/").values()
        ]
        rows = pd.concat(frames).to_numpy(dtype=float)
        found[split] = rows[np.lexsort(rows.T[::-1])]
    preprocessor = json.loads(_objects(aws, bucket, f"{run}/preprocessor/")["preprocessor.json"])
    found["mean"] = preprocessor.pop("train_target_mean")
    found["preprocessor"] = preprocessor
    found["baseline"] = _objects(aws, bucket, f"{run}/baseline/")["baseline.csv"]
    return found


def test_two_sharded_instances_write_what_one_instance_writes(aws, bucket):
    # Given the job code, a model config and four CSV files under incoming/
    s3 = aws("s3")
    for script in ("preprocess.py", "_common.py"):
        s3.put_object(Bucket=bucket, Key=f"code/jobs/src/{script}", Body=(JOBS / script).read_bytes())
    s3.put_object(Bucket=bucket, Key="config/config.json", Body=json.dumps(CONFIG).encode())
    data = generate_bank_marketing(2400, seed=3)
    for number, part in enumerate(np.array_split(np.arange(len(data)), 4)):
        s3.put_object(
            Bucket=bucket, Key=f"incoming/part-{number}.csv", Body=data.iloc[part].to_csv(index=False).encode()
        )
    tag = uuid.uuid4().hex[:8]

    # When one instance preprocesses everything, and two instances do it in two sharded jobs
    _run(aws, _request(bucket, f"one-{tag}", 1, {o: f"s3://{bucket}/one/{o}" for o in OUTPUTS}))
    statistics = f"s3://{bucket}/two/statistics"
    _run(aws, _request(bucket, f"stats-{tag}", 2, {"statistics": statistics}, "--stage", "statistics"))
    encode = _request(
        bucket,
        f"encode-{tag}",
        2,
        {o: f"s3://{bucket}/two/{o}" for o in OUTPUTS},
        "--stage",
        "encode",
        "--statistics-dir",
        "/opt/ml/processing/input/statistics",
    )
    encode["ProcessingInputs"].append(_input("statistics", statistics, "/opt/ml/processing/input/statistics"))
    _run(aws, encode)

    # Then each host wrote its own statistics, and the merged run equals the single one
    assert sorted(_objects(aws, bucket, "two/statistics/")) == [
        "algo-1-sample.csv",
        "algo-1.json",
        "algo-2-sample.csv",
        "algo-2.json",
    ]
    one, two = _written(aws, bucket, "one"), _written(aws, bucket, "two")
    assert two["preprocessor"] == one["preprocessor"] and two["baseline"] == one["baseline"]
    for split in ("train", "validation", "test"):
        assert np.array_equal(two[split], one[split])
    assert sorted(_objects(aws, bucket, "two/test/")) == ["test-algo-2-0000.csv", "test.csv"]
