"""What happens when `models/<model>/model.yaml` is uploaded: validate it and make it the active config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from driftline import aws, state
from driftline.config import parse_model_config
from driftline.errors import InvalidModelConfig
from driftline.notifications import page
from driftline.observability import logger

MODELS = "models/"
CONFIG_FILE = "model.yaml"


class ConfigOutcome(BaseModel):
    outcome: Literal["activated", "rejected", "ignored"]
    key: str
    model: str | None = None
    reason: str | None = None


def handle_config_upload(bucket: str, key: str, version_id: str | None = None) -> ConfigOutcome:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] + "/" != MODELS or parts[2] != CONFIG_FILE:
        return ConfigOutcome(outcome="ignored", key=key, reason="not models/<model>/model.yaml")
    model = parts[1]
    request = {"Bucket": bucket, "Key": key} | ({"VersionId": version_id} if version_id else {})
    body = aws.client("s3").get_object(**request)["Body"].read()
    try:
        config = parse_model_config(body, expected_name=model)
    except InvalidModelConfig as problem:
        return _reject(bucket, key, model, problem)
    state.save_config(config)
    logger.info("model config activated", extra={"model": model})
    return ConfigOutcome(outcome="activated", key=key, model=model)


def _reject(bucket: str, key: str, model: str, problem: InvalidModelConfig) -> ConfigOutcome:
    # The invalid file stays where it is (the bucket is versioned); the last valid config stays active.
    kept = "the previous valid config stays active" if state.load_config(model) else "the model has no valid config yet"
    logger.warning("model config rejected", extra={"model": model, "reason": str(problem)})
    page(
        f"{model}: model.yaml rejected",
        {
            "What happened": f"An uploaded model config failed validation; {kept}.",
            "Model": model,
            "File": f"s3://{bucket}/{key}",
            "Wrong": str(problem),
            "What to do": "fix the field(s) above and upload model.yaml again (see README, config reference)",
        },
    )
    return ConfigOutcome(outcome="rejected", key=key, model=model, reason=str(problem))
