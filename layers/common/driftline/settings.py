"""The handlers' environment, read once into one validated model."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    data_bucket: str
    artifact_bucket: str
    state_table: str
    on_call_topic_arn: str
    sagemaker_role_arn: str = ""
    training_image_uri: str = ""
    processing_image_uri: str = ""
    training_pipeline_arn: str = ""
    canary_rollout_arn: str = ""
    start_monitoring_function_arn: str = ""
    kms_key_arn: str = ""  # DriftlineKey: SageMaker volumes, outputs, endpoint storage, data capture
    # Optional VPC for training and processing jobs (comma-separated, as the template joins them).
    job_subnet_ids: str = ""
    job_security_group_ids: str = ""
    region: str = "us-east-1"


_ENVIRONMENT = {
    "data_bucket": "DATA_BUCKET",
    "artifact_bucket": "ARTIFACT_BUCKET",
    "state_table": "STATE_TABLE",
    "on_call_topic_arn": "ON_CALL_TOPIC_ARN",
    "sagemaker_role_arn": "SAGEMAKER_ROLE_ARN",
    "training_image_uri": "TRAINING_IMAGE_URI",
    "processing_image_uri": "PROCESSING_IMAGE_URI",
    "training_pipeline_arn": "TRAINING_PIPELINE_ARN",
    "canary_rollout_arn": "CANARY_ROLLOUT_ARN",
    "start_monitoring_function_arn": "START_MONITORING_FUNCTION_ARN",
    "kms_key_arn": "KMS_KEY_ARN",
    "job_subnet_ids": "JOB_SUBNET_IDS",
    "job_security_group_ids": "JOB_SECURITY_GROUP_IDS",
    "region": "AWS_REGION",
}


@cache
def settings() -> Settings:
    values = {field: os.environ[var] for field, var in _ENVIRONMENT.items() if var in os.environ}
    return Settings.model_validate(values)
