"""The handlers' environment, read once into one frozen record.

The environment is the function's own configuration (template.yaml sets every variable), not untrusted input:
a frozen dataclass holds it, and a missing required variable is refused with its name. No pydantic model is
built for it at every cold start (docs/decisions.md, "Handler cold start").
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, fields
from functools import cache
from typing import TypeVar

from driftline.errors import InvalidSettings


@dataclass(frozen=True)
class Settings:
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


_Record = TypeVar("_Record")


def from_environment(record: type[_Record], names: dict[str, str]) -> _Record:
    """`record` (a dataclass of strings) from the environment variables `names` maps its fields to; a field without
    a default whose variable is unset is refused with the variable's name."""
    values = {field: os.environ[var] for field, var in names.items() if var in os.environ}
    missing = [names[f.name] for f in fields(record) if f.name not in values and f.default is MISSING]  # type: ignore[arg-type]
    if missing:
        raise InvalidSettings(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: the function's environment "
            "(template.yaml) must set it"
        )
    return record(**values)


@cache
def settings() -> Settings:
    return from_environment(Settings, _ENVIRONMENT)
