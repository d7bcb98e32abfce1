"""Each job runs in its image's environment: the image's packages and Python, chosen by the image URI."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftline.config import parse_model_config
from driftline.sagemaker_requests import RunContext, evaluation_request, preprocess_request, training_request
from driftline_local.publish import publish_jobs
from driftline_local.sagemaker.image_envs import env_dir, image_name
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing

from .sagemaker_testkit import ROLE, job_log, wait_for

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
JOBS = Path(__file__).resolve().parents[3] / "jobs"

PROBE_PY = """
import json, os, sys
output, modules = sys.argv[1], sys.argv[2:]
report = {"python": "%d.%d" % sys.version_info[:2], "executable": sys.executable, "modules": {}}
for name in modules:
    report["modules"][name] = __import__(name).__version__
with open(os.path.join(output, "report.json"), "w") as f:
    json.dump(report, f)
"""


def _processing(name: str, bucket: str, image: str, script_key: str, *arguments: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/probe.py"],
            "ContainerArguments": ["/opt/ml/processing/output/report", *arguments],
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/{script_key}",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/probe/{name}",
                        "LocalPath": "/opt/ml/processing/output/report",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _ended(aws: Callable[[str], Any], name: str, timeout: float = 60.0) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (d := aws("sagemaker").describe_processing_job(ProcessingJobName=name))["ProcessingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        timeout,
    )


def _probe(aws: Callable[[str], Any], bucket: str, image: str, *modules: str) -> dict[str, Any]:
    aws("s3").put_object(Bucket=bucket, Key="code/probe/probe.py", Body=PROBE_PY.encode())
    name = f"probe-{uuid.uuid4().hex[:8]}"
    aws("sagemaker").create_processing_job(**_processing(name, bucket, image, "code/probe/probe.py", *modules))
    return _ended(aws, name)


def test_a_processing_job_gets_its_images_pinned_packages(aws, bucket):
    # When a job on the scikit-learn 1.4-2 image reports what it imports
    job = _probe(aws, bucket, SKLEARN, "sklearn", "numpy", "pandas", "pyarrow")

    # Then it ran on that image's pins (aws/sagemaker-scikit-learn-container requirements.txt), not the venv's
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    report = json.loads(
        aws("s3").get_object(Bucket=bucket, Key=f"probe/{job['ProcessingJobName']}/report.json")["Body"].read()
    )
    assert report["modules"] == {"sklearn": "1.4.2", "numpy": "2.1.0", "pandas": "2.3.2", "pyarrow": "17.0.0"}
    assert report["executable"].startswith(str(env_dir(image_name(SKLEARN))))
    built_on = (env_dir(image_name(SKLEARN)) / ".installed").read_text().splitlines()[2]
    assert built_on.startswith(f"python {report['python']} ")


def test_a_job_importing_a_module_its_image_lacks_fails_naming_the_module(aws, bucket):
    # When a job on the scikit-learn image imports xgboost (which only the XGBoost image has)
    job = _probe(aws, bucket, SKLEARN, "sklearn", "xgboost")

    # Then the job fails as on AWS (a processing job's reason is generic), and its log names the module
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert "ModuleNotFoundError: No module named 'xgboost'" in job_log(aws, job["ProcessingJobName"])


def test_the_same_job_on_the_xgboost_image_has_xgboost_and_scikit_learn(aws, bucket):
    job = _probe(aws, bucket, XGBOOST, "xgboost", "sklearn")

    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    report = json.loads(
        aws("s3").get_object(Bucket=bucket, Key=f"probe/{job['ProcessingJobName']}/report.json")["Body"].read()
    )
    assert report["modules"] == {"xgboost": "3.2.0", "sklearn": "1.8.0"}


def test_an_image_the_local_cloud_does_not_know_fails_the_job_as_a_failed_pull(aws, bucket):
    # When a processing job names an image no environment exists for
    job = _probe(aws, bucket, "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.9-9-cpu-py3")

    # Then it fails as SageMaker does when the image cannot be pulled
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: ")
    assert "Requested image not found" in job["FailureReason"]


def test_the_runs_preprocess_train_and_evaluate_requests_succeed_in_their_images(aws, bucket, tmp_path):
    # Given the real job code, a model config and labelled data, laid out as a run finds them
    publish_jobs(aws("s3"), bucket, JOBS)
    config = parse_model_config(SAMPLE_MODEL_YAML)
    config = config.model_copy(update={"training": config.training.model_copy(update={"use_spot": False})})
    ctx = RunContext(config, f"bank-marketing-{uuid.uuid4().hex[:8]}", bucket, bucket, ROLE, XGBOOST, SKLEARN)
    csv = generate_bank_marketing(600, seed=1).to_csv(index=False).encode()
    aws("s3").put_object(Bucket=bucket, Key=f"incoming/{ctx.model}/part-1.csv", Body=csv)
    key = ctx.config_uri.removeprefix(f"s3://{bucket}/")
    aws("s3").put_object(Bucket=bucket, Key=key, Body=config.model_dump_json().encode())
    sagemaker = aws("sagemaker")

    # When the run's preprocessing (scikit-learn image), training and evaluation (XGBoost image) jobs run
    preprocess = preprocess_request(ctx)
    sagemaker.create_processing_job(**preprocess)
    done = _ended(aws, preprocess["ProcessingJobName"], timeout=180)
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")

    training = training_request(ctx)
    sagemaker.create_training_job(**training)
    trained = wait_for(
        lambda: (
            (d := sagemaker.describe_training_job(TrainingJobName=training["TrainingJobName"]))["TrainingJobStatus"]
            in ("Completed", "Failed", "Stopped")
            and d
        ),
        180,
    )
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")

    evaluation = evaluation_request(ctx, trained["ModelArtifacts"]["S3ModelArtifacts"], None)
    sagemaker.create_processing_job(**evaluation)
    evaluated = _ended(aws, evaluation["ProcessingJobName"], timeout=180)

    # Then evaluation, which loads the XGBoost model, ran where xgboost is installed and scored the model
    assert evaluated["ProcessingJobStatus"] == "Completed", evaluated.get("FailureReason")
    assert evaluation["AppSpecification"]["ImageUri"] == XGBOOST
    report = aws("s3").get_object(Bucket=bucket, Key=key.replace("config/config.json", "evaluation/evaluation.json"))
    assert json.loads(report["Body"].read())["metrics"]
