"""Small helpers the SageMaker modules share: clients to the local server, S3 trees, events, logs.

S3 and CloudWatch Logs are reached through boto3 against the local server (the same wire the real
service would use); state-change events are put straight onto moto's events backend, because that is
where EventBridge rules (and the local delivery extension) pick them up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from driftline_local.context import LocalCloudContext

LOG = logging.getLogger("driftline_local.sagemaker")

_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def client(ctx: LocalCloudContext, service: str, role_arn: str | None = None) -> Any:
    """A boto3 client for `service` on the local server (cached; boto3 clients are thread-safe).

    With `role_arn` (a job's `RoleArn`, a model's `ExecutionRoleArn`) and IAM enforced, the client acts
    as SageMaker does with that role: a session of it (`iam.credentials_for_role`; raises
    `iam.RoleNotAssumable` when SageMaker may not assume it). Otherwise the account's administrator.
    """
    from driftline_local import iam

    credentials = iam.credentials_for_role(role_arn) if role_arn else {}
    key = (ctx.endpoint_url, service, credentials.get("AWS_ACCESS_KEY_ID", ""))
    with _clients_lock:
        if key not in _clients:
            _clients[key] = boto3.client(
                service,
                endpoint_url=ctx.endpoint_url,
                region_name=ctx.region,
                aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID", "testing"),
                aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY", "testing"),
                aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
                config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60),
            )
        return _clients[key]


def split_s3_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if not match:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return match.group(1), match.group(2)


def fetch_object(s3: Any, bucket: str, key: str, target: Path | str) -> None:
    """Write one object to `target` from a single GetObject. `download_file` asks HeadObject first and starts
    s3transfer's thread pool for every file: 2.5x the time for a model archive or a job's input file. The
    permission is the same (s3:GetObject covers HeadObject)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with open(target, "wb") as out:
            shutil.copyfileobj(body, out, FETCH_CHUNK_BYTES)
    finally:
        body.close()


FETCH_CHUNK_BYTES = 1 << 20


def download_s3(ctx: LocalCloudContext, uri: str, dest: Path, role_arn: str | None = None) -> list[Path]:
    """Download every object under `uri` (an S3Prefix) into `dest`, keeping the relative layout.

    A URI naming one object exactly lands as `dest/<basename>`, as SageMaker does for a single file.
    """
    bucket, prefix = split_s3_uri(uri)
    s3 = client(ctx, "s3", role_arn)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue
            rel = key[len(prefix) :].lstrip("/") if key != prefix else key.rsplit("/", 1)[-1]
            if not rel:
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fetch_object(s3, bucket, key, target)
            written.append(target)
    return written


def download_manifest(ctx: LocalCloudContext, uri: str, dest: Path, role_arn: str | None = None) -> list[Path]:
    """S3DataType ManifestFile: `[{"prefix": "s3://b/p/"}, "rel/key", ...]`, each object to `dest/rel/key`."""
    bucket, key = split_s3_uri(uri)
    s3 = client(ctx, "s3", role_arn)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    prefix = manifest[0]["prefix"]
    written: list[Path] = []
    for rel in manifest[1:]:
        object_bucket, object_key = split_s3_uri(prefix + rel)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fetch_object(s3, object_bucket, object_key, target)
        written.append(target)
    return written


def upload_file(ctx: LocalCloudContext, path: Path, uri: str, role_arn: str | None = None) -> None:
    bucket, key = split_s3_uri(uri)
    client(ctx, "s3", role_arn).upload_file(str(path), bucket, key)


def upload_tree(ctx: LocalCloudContext, src: Path, uri: str, role_arn: str | None = None) -> int:
    """Upload every file below `src` to `uri/<relative path>`; returns the number of files."""
    if not src.is_dir():
        return 0
    bucket, prefix = split_s3_uri(uri)
    prefix = prefix.rstrip("/")
    count = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src).as_posix()
        key = f"{prefix}/{rel}" if prefix else rel
        client(ctx, "s3", role_arn).upload_file(str(path), bucket, key)
        count += 1
    return count


def epoch_millis(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def jsonable(value: Any) -> Any:
    """Describe output as JSON the way EventBridge and Step Functions carry it (timestamps in epoch ms)."""
    if isinstance(value, datetime):
        return epoch_millis(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def event_detail(describe: dict[str, Any]) -> dict[str, Any]:
    """A Describe* response as an event `detail`: epoch-ms timestamps and `Tags` as a map."""
    detail = jsonable(describe)
    tags = detail.get("Tags")
    if isinstance(tags, list):
        detail["Tags"] = {t["Key"]: t.get("Value", "") for t in tags if "Key" in t}
    elif tags is None:
        detail["Tags"] = {}
    return detail


def put_event(ctx: LocalCloudContext, detail_type: str, resource_arn: str, detail: dict[str, Any]) -> None:
    """Put an `aws.sagemaker` event on the default bus, as SageMaker does on every state change."""
    from moto.events.models import events_backends

    entry = {
        "Source": "aws.sagemaker",
        "DetailType": detail_type,
        "Detail": json.dumps(detail, default=str),
        "Resources": [resource_arn],
        "Time": time.time(),
    }
    try:
        events_backends[ctx.account_id][ctx.region].put_events([entry])
    except Exception:  # a failing target must never break the job or endpoint that emitted the event
        LOG.exception("delivering %s for %s failed", detail_type, resource_arn)


class LogStream:
    """Lines of a job's output, appended to CloudWatch Logs in small batches (best effort)."""

    def __init__(self, ctx: LocalCloudContext, group: str, stream: str) -> None:
        self._ctx = ctx
        self.group = group
        self.stream = stream
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ready = False

    def _ensure(self) -> None:
        if self._ready:
            return
        logs = client(self._ctx, "logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=self.group)
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
        self._ready = True

    def add(self, line: str) -> None:
        with self._lock:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": line})

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._ensure()
            client(self._ctx, "logs").put_log_events(
                logGroupName=self.group, logStreamName=self.stream, logEvents=batch
            )
        except Exception:
            LOG.debug("could not write %d log lines to %s", len(batch), self.group, exc_info=True)
