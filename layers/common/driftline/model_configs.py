"""What happens when a file lands under `models/`: validate `models/<model>/model.yaml` and make it the active config.

Every other key under models/ (a `model.yml`, a config one folder too deep, a stray file) is answered
with a page that says where the config must go; S3 console "Create folder" markers are ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from driftline import aws, state
from driftline.config import MAX_CONFIG_BYTES, MODEL_NAME_PATTERN, parse_model_config
from driftline.errors import InvalidModelConfig
from driftline.notifications import page
from driftline.observability import logger

MODELS = "models/"
CONFIG_FILE = "model.yaml"
_CONFIG_LOOKALIKES = {"model.yml", "model.json", "models.yaml", "config.yaml", "config.yml", "model.yaml.txt"}


class ConfigOutcome(BaseModel):
    outcome: Literal["activated", "rejected", "misplaced", "superseded", "ignored"]
    key: str
    model: str | None = None
    reason: str | None = None


def handle_config_upload(
    bucket: str, key: str, version_id: str | None = None, size: int | None = None
) -> ConfigOutcome:
    if not key.startswith(MODELS):
        return ConfigOutcome(outcome="ignored", key=key, reason="not under models/")
    if key.endswith("/") and not size:
        return ConfigOutcome(outcome="ignored", key=key, reason="folder marker")
    parts = key.split("/")
    if len(parts) != 3 or parts[2] != CONFIG_FILE:
        return _misplaced(bucket, key, parts)
    model = parts[1]
    if not MODEL_NAME_PATTERN.match(model):
        return _reject(
            bucket,
            key,
            model,
            InvalidModelConfig(
                f"the folder name '{model}' is not a valid model name (3-32 lowercase letters, digits and '-', "
                "starting with a letter); upload to models/<valid-name>/model.yaml"
            ),
        )
    if size is not None and size > MAX_CONFIG_BYTES:
        return _reject(
            bucket,
            key,
            model,
            InvalidModelConfig(
                f"model.yaml is {size} bytes; the limit is {MAX_CONFIG_BYTES} ({MAX_CONFIG_BYTES // 1024} KiB)"
            ),
        )
    try:
        body = _read_capped(bucket, key, version_id)
    except LookupError:
        logger.warning("model config gone before it was read", extra={"key": key, "version": version_id})
        return ConfigOutcome(outcome="ignored", key=key, model=model, reason="the object version no longer exists")
    try:
        config = parse_model_config(body, expected_name=model)
    except InvalidModelConfig as problem:
        return _reject(bucket, key, model, problem)
    newest = _newest_version(bucket, key)
    if version_id and version_id != "null" and newest != version_id:
        # Events may arrive out of order: only the newest upload of model.yaml may become the active config.
        logger.info("model config superseded", extra={"model": model, "version": version_id, "newest": newest})
        reason = "a newer upload of this model.yaml exists" if newest else "model.yaml was deleted since"
        return ConfigOutcome(outcome="superseded", key=key, model=model, reason=reason)
    state.save_config(config)
    logger.info("model config activated", extra={"model": model})
    return ConfigOutcome(outcome="activated", key=key, model=model)


def _read_capped(bucket: str, key: str, version_id: str | None) -> bytes:
    """At most MAX_CONFIG_BYTES + 1 bytes of the event's object version: enough to know it is too big."""
    request = {"Bucket": bucket, "Key": key, "Range": f"bytes=0-{MAX_CONFIG_BYTES}"}
    if version_id:
        request["VersionId"] = version_id
    try:
        return bytes(aws.client("s3").get_object(**request)["Body"].read(MAX_CONFIG_BYTES + 1))
    except Exception as exc:
        code = aws.error_code(exc)
        if code == "InvalidRange":  # a ranged GET of an empty object
            return b""
        if code in {"NoSuchKey", "NoSuchVersion"}:
            raise LookupError(key) from exc
        raise


def _newest_version(bucket: str, key: str) -> str | None:
    """The key's current version id (None when it was deleted since, or the bucket is not versioned)."""
    try:
        return aws.client("s3").head_object(Bucket=bucket, Key=key).get("VersionId")
    except Exception as exc:
        if aws.error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def _misplaced(bucket: str, key: str, parts: list[str]) -> ConfigOutcome:
    name = parts[-1]
    model = parts[1] if len(parts) >= 3 and MODEL_NAME_PATTERN.match(parts[1]) else None
    target = f"models/{model}/{CONFIG_FILE}" if model else f"models/<model>/{CONFIG_FILE}"
    if name == CONFIG_FILE:
        what = (
            "a model.yaml directly under models/"
            if len(parts) == 2
            else f"a model.yaml {len(parts) - 3} folder(s) too deep"
        )
    elif name.lower() in _CONFIG_LOOKALIKES or name.lower().endswith((".yaml", ".yml")):
        what = f"'{name}', which Driftline does not read (only a file named exactly {CONFIG_FILE})"
    elif key.endswith("/"):
        what = "a folder marker with content"
    else:
        what = f"'{name}', which is not a model config"
    reason = f"{key} is {what}; Driftline reads only {target}. The active config is unchanged."
    logger.warning("misplaced file under models/", extra={"key": key})
    page(
        f"{model or 'models/'}: file under models/ ignored",
        {
            "What happened": "A file was uploaded under models/ where Driftline does not look for it; nothing changed.",
            "Model": model,
            "File": f"s3://{bucket}/{key}",
            "Wrong": reason,
            "What to do": f"upload the config as {target} (exactly this name, .yaml), or delete the file",
        },
        kind="config-misplaced",
        model=model,
    )
    return ConfigOutcome(outcome="misplaced", key=key, model=model, reason=reason)


def _reject(bucket: str, key: str, model: str, problem: InvalidModelConfig) -> ConfigOutcome:
    # The invalid file stays where it is (the bucket is versioned); the last valid config stays active.
    known = MODEL_NAME_PATTERN.match(model) and state.load_config(model)
    kept = "the previous valid config stays active" if known else "the model has no valid config yet"
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
        kind="config-rejected",
        model=model,
    )
    return ConfigOutcome(outcome="rejected", key=key, model=model, reason=str(problem))
