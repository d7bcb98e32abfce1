"""SageMaker API requests for a run, built from the model config (pure: no AWS calls).

The state machines pass these to the optimized SageMaker integrations field by field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from driftline import naming
from driftline.config import ModelConfig

CODE_PREFIX = "code/jobs"
INPUT_DIR = "/opt/ml/processing/input"
OUTPUT_DIR = "/opt/ml/processing/output"
CONTAINER_CODE_DIR = f"{INPUT_DIR}/code"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
EXIT_MESSAGE_PATH = "/opt/ml/output/message"
# Under network isolation the container cannot fetch its code from S3 (the toolkit's
# `_files.download_and_extract` would call S3 itself): the sourcedir arrives as the `code` channel and
# `sagemaker_submit_directory` names the local file, as the SageMaker SDK does for isolated estimators.
CODE_CHANNEL = "code"
CONTAINER_SOURCEDIR = f"/opt/ml/input/data/{CODE_CHANNEL}/sourcedir.tar.gz"


def _has_instance_storage(instance_type: str) -> bool:
    """Instance families with only local NVMe storage, encrypted in hardware: AWS refuses a volume KMS key there.

    The SageMaker SDK's rule (sagemaker/utils.py `volume_size_supported` / `instance_supports_kms`): a "d"
    in the family (c5d, g4dn, p4d, ...) or a g5, g6, p5 or trn1 family.
    """
    parts = instance_type.split(".")
    family = parts[1] if len(parts) == 3 and parts[0] == "ml" else parts[0]
    return "d" in family or family.startswith(("g5", "g6", "p5", "trn1"))


@dataclass(frozen=True)
class RunContext:
    """Where a run's inputs and outputs live and what it runs with."""

    config: ModelConfig
    run_id: str
    data_bucket: str
    artifact_bucket: str
    role_arn: str
    training_image: str
    processing_image: str
    kms_key_arn: str = ""  # DriftlineKey: volumes, outputs, endpoint storage and data capture ("" = AWS-managed keys)
    subnet_ids: tuple[str, ...] = ()  # optional VPC for training and processing jobs
    security_group_ids: tuple[str, ...] = ()

    @property
    def model(self) -> str:
        return self.config.name

    def artifacts(self, suffix: str = "") -> str:
        return f"s3://{self.artifact_bucket}/{self.model}/runs/{self.run_id}/{suffix}"

    @property
    def config_uri(self) -> str:
        return self.artifacts("config/config.json")

    @property
    def sourcedir_uri(self) -> str:
        return f"s3://{self.artifact_bucket}/{CODE_PREFIX}/sourcedir.tar.gz"

    @property
    def loose_code_uri(self) -> str:
        return f"s3://{self.artifact_bucket}/{CODE_PREFIX}/src/"

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": "driftline:model", "Value": self.model}, {"Key": "driftline:run", "Value": self.run_id}]

    def output_key(self) -> dict[str, str]:
        """`{"KmsKeyId": key}` for S3 outputs and data capture; nothing without a key."""
        return {"KmsKeyId": self.kms_key_arn} if self.kms_key_arn else {}

    def vpc_config(self) -> dict[str, Any]:
        """`{"VpcConfig": ...}` when the stack gives subnets; nothing otherwise (SageMaker's own network)."""
        if not self.subnet_ids:
            return {}
        return {"VpcConfig": {"Subnets": list(self.subnet_ids), "SecurityGroupIds": list(self.security_group_ids)}}

    def volume_key(self, instance_type: str, field: str = "VolumeKmsKeyId") -> dict[str, str]:
        """The key for an instance's storage volume, unless the instance type has only local (NVMe) storage."""
        if not self.kms_key_arn or _has_instance_storage(instance_type):
            return {}
        return {field: self.kms_key_arn}


def _input(
    name: str,
    s3_uri: str,
    local_path: str | None = None,
    data_type: str = "S3Prefix",
    distribution: str = "FullyReplicated",
) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": s3_uri,
            "LocalPath": local_path or f"{INPUT_DIR}/{name}",
            "S3DataType": data_type,
            "S3InputMode": "File",
            "S3DataDistributionType": distribution,
        },
    }


def _output(name: str, s3_uri: str) -> dict[str, Any]:
    return {
        "OutputName": name,
        "S3Output": {"S3Uri": s3_uri, "LocalPath": f"{OUTPUT_DIR}/{name}", "S3UploadMode": "EndOfJob"},
    }


def _processing_job(
    ctx: RunContext,
    step: str,
    script: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    arguments: list[str],
    image: str | None = None,
    instance_count: int = 1,
) -> dict[str, Any]:
    processing = ctx.config.processing
    return {
        "ProcessingJobName": naming.job_name(ctx.run_id, step),
        "RoleArn": ctx.role_arn,
        "AppSpecification": {
            "ImageUri": image or ctx.processing_image,
            "ContainerEntrypoint": ["python3", f"{CONTAINER_CODE_DIR}/{script}"],
            # A failing job explains itself here; SageMaker returns it as DescribeProcessingJob.ExitMessage.
            "ContainerArguments": [*arguments, "--exit-message", EXIT_MESSAGE_PATH],
        },
        "ProcessingInputs": [_input("code", ctx.loose_code_uri), *inputs],
        "ProcessingOutputConfig": {"Outputs": outputs, **ctx.output_key()},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": instance_count,
                "InstanceType": processing.instance_type,
                "VolumeSizeInGB": processing.volume_size_gb,
                **ctx.volume_key(processing.instance_type),
            }
        },
        # Jobs parse untrusted uploads: no network; every input and output goes through SageMaker.
        "NetworkConfig": {"EnableNetworkIsolation": True, **ctx.vpc_config()},
        "StoppingCondition": {"MaxRuntimeInSeconds": processing.max_runtime_seconds},
        "Tags": ctx.tags(),
    }


STATISTICS_DIR = f"{INPUT_DIR}/statistics"
# SageMaker Processing writes each instance's identity here (current_host, hosts); preprocess.py reads it to
# name its shards and statistics per host.
RESOURCE_CONFIG_PATH = "/opt/ml/config/resourceconfig.json"


def _preprocess_data_input(ctx: RunContext, data_manifest: str | None) -> dict[str, Any]:
    """The uploads (or a manifest of some); with several instances each gets a share of the files."""
    data = f"s3://{ctx.data_bucket}/incoming/{ctx.model}/"
    sharded = ctx.config.processing.instance_count > 1
    return _input(
        "data",
        data_manifest or data,
        data_type="ManifestFile" if data_manifest else "S3Prefix",
        distribution="ShardedByS3Key" if sharded else "FullyReplicated",
    )


def _preprocess_arguments(ctx: RunContext) -> list[str]:
    # Paths are passed explicitly (they are the container's defaults too) so every path a job
    # uses is visible in its request.
    return [
        "--config",
        f"{INPUT_DIR}/config/config.json",
        "--data-dir",
        f"{INPUT_DIR}/data",
        "--output-dir",
        OUTPUT_DIR,
        "--seed",
        str(ctx.config.seed),
    ]


def statistics_request(ctx: RunContext, data_manifest: str | None = None) -> dict[str, Any] | None:
    """processing.instance_count > 1: the first of two sharded jobs; each instance writes its share's statistics.

    None with one instance (preprocess_request alone does everything)."""
    instances = ctx.config.processing.instance_count
    if instances <= 1:
        return None
    return _processing_job(
        ctx,
        "statistics",
        "preprocess.py",
        inputs=[_preprocess_data_input(ctx, data_manifest), _input("config", ctx.artifacts("config/"))],
        outputs=[_output("statistics", ctx.artifacts("statistics/"))],
        arguments=[*_preprocess_arguments(ctx), "--stage", "statistics", "--resource-config", RESOURCE_CONFIG_PATH],
        instance_count=instances,
    )


def preprocess_request(ctx: RunContext, data_manifest: str | None = None) -> dict[str, Any]:
    """Preprocess everything under incoming/<model>/, or only the objects a manifest file lists.

    With processing.instance_count > 1 this is the second sharded job (--stage encode): every instance
    merges all instances' statistics (statistics_request's output, FullyReplicated) and encodes its share."""
    instances = ctx.config.processing.instance_count
    outputs = [
        _output(name, ctx.artifacts(f"{name}/")) for name in ("train", "validation", "test", "preprocessor", "baseline")
    ]
    inputs = [_preprocess_data_input(ctx, data_manifest), _input("config", ctx.artifacts("config/"))]
    stage: list[str] = []
    if instances > 1:
        inputs.append(_input("statistics", ctx.artifacts("statistics/"), STATISTICS_DIR))
        stage = ["--stage", "encode", "--statistics-dir", STATISTICS_DIR, "--resource-config", RESOURCE_CONFIG_PATH]
    return _processing_job(
        ctx,
        "preprocess",
        "preprocess.py",
        inputs=inputs,
        outputs=outputs,
        arguments=[
            *_preprocess_arguments(ctx),
            *stage,
            # One train file per training instance: ShardedByS3Key deals whole files, so each host gets data.
            *(
                ["--train-files", str(ctx.config.training.instance_count)]
                if ctx.config.training.instance_count > 1
                else []
            ),
        ],
        instance_count=instances,
    )


# SageMaker turns these log lines of jobs/train.py into CloudWatch metrics and FinalMetricDataList.
# Throughput says its unit: training rows x boosting rounds per second (each round passes over every row).
# The log's older spelling of the same figure (`samples_per_second=`) is matched too.
TRAINING_METRICS = [
    {"Name": "train:row_rounds_per_second", "Regex": r"training_throughput [a-z_]+_per_second=([0-9.]+)"},
    {
        "Name": "train:rounds_completed",
        "Regex": r"training_throughput [a-z_]+_per_second=[0-9.]+ [a-z0-9= ]*rounds=([0-9]+)",
    },
    {"Name": "train:resumed_from_round", "Regex": r"resuming from checkpoint-([0-9]+)\.json"},
]


def metric_definitions(config: ModelConfig) -> list[dict[str, str]]:
    """TRAINING_METRICS and `validation:<eval_metric>`, which jobs/train.py logs each round (tuning's objective)."""
    metric = str(config.xgboost_hyperparameters()["eval_metric"])
    validation = {
        "Name": f"validation:{metric}",
        "Regex": rf"validation-{re.escape(metric)}=(-?[0-9.]+(?:e[-+]?[0-9]+)?)",
    }
    return [*TRAINING_METRICS, validation]


def training_request(ctx: RunContext, attempt: int = 1, *, use_spot: bool | None = None) -> dict[str, Any]:
    training = ctx.config.training
    spot = training.use_spot if use_spot is None else use_spot
    hyperparameters: dict[str, Any] = dict(ctx.config.xgboost_hyperparameters())
    hyperparameters |= {
        "checkpoint_dir": CHECKPOINT_LOCAL_PATH,
        "checkpoint_interval": training.checkpoint_interval,
        "seed": ctx.config.seed,
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": CONTAINER_SOURCEDIR,
    }
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": training.max_runtime_seconds}
    if spot:
        stopping["MaxWaitTimeInSeconds"] = training.max_wait_seconds

    def channel(
        name: str, content_type: str | None, uri: str | None = None, *, data: bool = False, sharded: bool = False
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "ChannelName": name,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": uri or ctx.artifacts(f"{name}/"),
                    # several instances: each trains on its share of the train split's files (XGBoost's collective)
                    "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated",
                }
            },
            "InputMode": training.input_mode if data else "File",
        }
        if content_type:
            spec["ContentType"] = content_type
        return spec

    return {
        "TrainingJobName": naming.job_name(ctx.run_id, "train", attempt),
        "RoleArn": ctx.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": ctx.training_image,
            "TrainingInputMode": "File",
            "MetricDefinitions": metric_definitions(ctx.config),
        },
        # Script mode reads JSON-encoded values, as the SageMaker SDK writes them.
        "HyperParameters": {k: json.dumps(v) for k, v in hyperparameters.items()},
        "InputDataConfig": [
            channel("train", "text/csv", data=True, sharded=training.instance_count > 1),
            channel("validation", "text/csv", data=True),
            channel("preprocessor", None),
            channel(CODE_CHANNEL, None, ctx.sourcedir_uri),
        ],
        "OutputDataConfig": {"S3OutputPath": ctx.artifacts("model/"), **ctx.output_key()},
        "ResourceConfig": {
            "InstanceType": training.instance_type,
            "InstanceCount": training.instance_count,
            "VolumeSizeInGB": training.volume_size_gb,
            **ctx.volume_key(training.instance_type),
        },
        "StoppingCondition": stopping,
        "EnableNetworkIsolation": True,
        **ctx.vpc_config(),
        "EnableManagedSpotTraining": spot,
        "CheckpointConfig": {"S3Uri": ctx.artifacts("checkpoints/"), "LocalPath": CHECKPOINT_LOCAL_PATH},
        "Tags": ctx.tags(),
    }


def evaluation_request(ctx: RunContext, candidate_model_uri: str, production_model_uri: str | None) -> dict[str, Any]:
    """Score the candidate (and production) model on the test split.

    Runs on the XGBoost image, not the scikit-learn one: loading the models needs `xgboost`, which the
    scikit-learn 1.4-2 image lacks; the XGBoost 3.2-0 image also has scikit-learn (1.8.0) for the metrics.
    """
    inputs = [_input("model", candidate_model_uri), _input("test", ctx.artifacts("test/"))]
    arguments = [
        "--model",
        f"{INPUT_DIR}/model/model.tar.gz",
        "--test",
        f"{INPUT_DIR}/test/test.csv",
        "--output-dir",
        f"{OUTPUT_DIR}/evaluation",
    ]
    if production_model_uri:
        inputs.append(_input("production", production_model_uri))
        arguments += ["--production", f"{INPUT_DIR}/production/model.tar.gz"]
    return _processing_job(
        ctx,
        "evaluate",
        "evaluate.py",
        inputs=inputs,
        outputs=[_output("evaluation", ctx.artifacts("evaluation/"))],
        arguments=arguments,
        image=ctx.training_image,
    )


def inference_container(ctx: RunContext, model_data_url: str) -> dict[str, Any]:
    return {
        "Image": ctx.training_image,
        "ModelDataUrl": model_data_url,
        "Environment": {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": ctx.sourcedir_uri,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        },
    }


def model_request(ctx: RunContext, model_data_url: str) -> dict[str, Any]:
    return {
        "ModelName": naming.job_name(ctx.run_id, "model"),
        "ExecutionRoleArn": ctx.role_arn,
        "PrimaryContainer": inference_container(ctx, model_data_url),
        "Tags": ctx.tags(),
    }


def production_variant(ctx: RunContext, variant: str, model_name: str, weight: float) -> dict[str, Any]:
    deployment = ctx.config.deployment
    return {
        "VariantName": variant,
        "ModelName": model_name,
        "InitialInstanceCount": deployment.initial_instance_count,
        "InstanceType": deployment.instance_type,
        "InitialVariantWeight": weight,
    }


def endpoint_config_request(ctx: RunContext, name: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    """An endpoint config with data capture; `name` is a step of the run (`config`, `canary`)."""
    deployment = ctx.config.deployment
    storage_key = ctx.volume_key(deployment.instance_type, "KmsKeyId")
    return {
        "EndpointConfigName": naming.job_name(ctx.run_id, name),
        "ProductionVariants": variants,
        "DataCaptureConfig": {
            "EnableCapture": deployment.data_capture_percent > 0,
            "InitialSamplingPercentage": max(deployment.data_capture_percent, 1),
            "DestinationS3Uri": f"s3://{ctx.artifact_bucket}/{ctx.model}/datacapture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
            **ctx.output_key(),
        },
        **storage_key,
        "Tags": ctx.tags(),
    }


_CAPTURE_HOUR = re.compile(r"([^/]+/\d{4}/\d{2}/\d{2}/\d{2})/?$")


def _capture_hour(prefix: str) -> str:
    """`<variant>/yyyy/mm/dd/hh` of a data-capture hour prefix ('' for any other prefix).

    SageMaker downloads an S3Prefix input into LocalPath with the prefix stripped, so the capture files
    of an hour input would land without the hour in their path. Ending LocalPath with it keeps each
    file at `.../<variant>/yyyy/mm/dd/hh/mm-ss-mmm-<id>.jsonl`, whose time the monitor windows by.
    """
    match = _CAPTURE_HOUR.search(prefix)
    return match.group(1) if match else ""


def monitor_request(
    ctx: RunContext,
    job_name: str,
    report_uri: str,
    capture_prefixes: list[str],
    window: tuple[str, str],
    *,
    ks_test: bool = False,
    stage: str = "all",
    instance_count: int = 1,
) -> dict[str, Any]:
    """The drift monitor over one window of captured traffic, against the production run's baseline.

    `ctx` is the production model's run (its baseline and preprocessor); `report_uri` receives the
    Model-Monitor-format reports and holds `config/config.json`, the model's current config.
    An empty window has no capture inputs: the monitor still reports (no traffic).
    `ks_test` (the config's monitoring.ks_test) adds the informational KS statistics to the report.
    Sharded (monitoring.instance_count > 1): `stage="partial"` runs on `instance_count` instances, every capture
    input ShardedByS3Key (baseline, preprocessor and config FullyReplicated), and writes
    `<report_uri>partials/<host>.json`; `stage="merge"` (one instance, no capture input) adds up every partial
    and writes the reports (docs/decisions.md, "Sharded drift monitoring is two jobs").
    """
    inputs = [
        _input("baseline", ctx.artifacts("baseline/"), f"{INPUT_DIR}/baseline/training"),
        _input("preprocessor", ctx.artifacts("preprocessor/"), f"{INPUT_DIR}/baseline/preprocessor"),
        _input("config", f"{report_uri}config/", f"{INPUT_DIR}/config"),
    ]
    inputs += _capture_inputs(capture_prefixes, report_uri, stage)
    arguments = ["--baseline-dir", f"{INPUT_DIR}/baseline", "--capture-dir", f"{INPUT_DIR}/endpoint"]
    options = ["--ks-test"] if ks_test else []
    return _window_job(ctx, "monitor", job_name, report_uri, window, stage, instance_count, inputs, arguments, options)


# A sharded monitor's merge job (one instance) reads every host's partials/<host>.json here.
PARTIALS_DIR = f"{INPUT_DIR}/partials"


def _capture_inputs(capture_prefixes: list[str], report_uri: str, stage: str) -> list[dict[str, Any]]:
    """The monitor's and the quality job's traffic inputs: one per capture prefix (each hour kept in its local
    path), ShardedByS3Key on a partial job; a merge job reads every host's partials instead."""
    if stage == "merge":
        return [_input("partials", f"{report_uri}partials/", PARTIALS_DIR)]
    sharded = stage == "partial"
    return [
        _input(
            f"capture-{i}",
            prefix,
            f"{INPUT_DIR}/endpoint/{i}/{_capture_hour(prefix)}".rstrip("/"),
            distribution="ShardedByS3Key" if sharded else "FullyReplicated",
        )
        for i, prefix in enumerate(capture_prefixes)
    ]


# The value of the `driftline:monitor` tag of each job over a window of captured traffic.
_MONITOR_TAG = {"monitor": "true", "quality": "quality"}


def _window_job(
    ctx: RunContext,
    step: str,
    job_name: str,
    report_uri: str,
    window: tuple[str, str],
    stage: str,
    instance_count: int,
    inputs: list[dict[str, Any]],
    arguments: list[str],
    options: list[str] | None = None,
) -> dict[str, Any]:
    """jobs/<step>.py over one window of captured traffic (the drift monitor, the quality job): `arguments`, then
    the model's config, the report folder and the window, then `options` and the sharding stage's arguments;
    on `instance_count` instances for a partial job, else one; named `job_name`, tagged `driftline:monitor`."""
    request = _processing_job(
        ctx,
        step,
        f"{step}.py",
        inputs=inputs,
        outputs=[_output("report", report_uri.rstrip("/"))],
        arguments=[
            *arguments,
            "--config",
            f"{INPUT_DIR}/config/config.json",
            "--output-dir",
            f"{OUTPUT_DIR}/report",
            "--window-start",
            window[0],
            "--window-end",
            window[1],
            *(options or []),
            *_stage_arguments(stage),
        ],
        instance_count=instance_count if stage == "partial" else 1,
    )
    request["ProcessingJobName"] = job_name
    request["Tags"] = ctx.tags() + [{"Key": "driftline:monitor", "Value": _MONITOR_TAG[step]}]
    return request


def _stage_arguments(stage: str) -> list[str]:
    """jobs/monitor.py and jobs/quality.py: `partial` on every instance of the sharded job (its host named by
    SageMaker's resourceconfig.json, passed explicitly as for preprocessing), `merge` over every partial."""
    if stage == "partial":
        return ["--stage", "partial", "--resource-config", RESOURCE_CONFIG_PATH]
    if stage == "merge":
        return ["--stage", "merge", "--partials-dir", PARTIALS_DIR]
    if stage != "all":
        raise ValueError(f"stage must be all, partial or merge, not {stage!r}")
    return []


def quality_request(
    ctx: RunContext,
    job_name: str,
    report_uri: str,
    capture_prefixes: list[str],
    labels_uri: str,
    window: tuple[str, str],
    *,
    stage: str = "all",
    instance_count: int = 1,
) -> dict[str, Any]:
    """The model quality job (jobs/quality.py): the window's captured predictions joined with the labels.

    `ctx` is the production model's run: its evaluation.json is the reference, its preprocessor.json names
    the classes. `report_uri` holds `config/config.json` and receives the Model-Monitor-format files.
    Sharded as the drift monitor (`monitor_request`): `stage="partial"` on `instance_count` instances, capture
    inputs ShardedByS3Key (labels, evaluation, preprocessor, config FullyReplicated); `stage="merge"` on one
    instance reads the partials and the labels, with no capture input.
    """
    inputs = [
        _input("evaluation", ctx.artifacts("evaluation/"), f"{INPUT_DIR}/evaluation"),
        _input("preprocessor", ctx.artifacts("preprocessor/"), f"{INPUT_DIR}/preprocessor"),
        _input("config", f"{report_uri}config/", f"{INPUT_DIR}/config"),
        _input("labels", labels_uri, f"{INPUT_DIR}/labels"),
    ]
    if len(capture_prefixes) > MAX_QUALITY_CAPTURE_INPUTS:  # a long window: the endpoint's whole capture
        capture_prefixes = sorted({_CAPTURE_HOUR.sub("", prefix) for prefix in capture_prefixes})
    inputs += _capture_inputs(capture_prefixes, report_uri, stage)
    arguments = [
        "--capture-dir",
        f"{INPUT_DIR}/endpoint",
        "--labels-dir",
        f"{INPUT_DIR}/labels",
        "--evaluation",
        f"{INPUT_DIR}/evaluation/evaluation.json",
        "--preprocessor-dir",
        f"{INPUT_DIR}/preprocessor",
    ]
    return _window_job(ctx, "quality", job_name, report_uri, window, stage, instance_count, inputs, arguments)


MAX_QUALITY_CAPTURE_INPUTS = 5  # SageMaker allows 10 processing inputs; code and four others take 5
