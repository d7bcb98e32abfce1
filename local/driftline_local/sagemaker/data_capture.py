"""Data capture (EnableCapture): SageMaker's JSON Lines records of an endpoint's requests and answers.

Records (captureData.endpointInput/endpointOutput with observedContentType, mode, data, encoding;
eventMetadata.eventId/inferenceTime[/inferenceId]; eventVersion "0") go to `<DestinationS3Uri>/<endpoint>/
<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl`, buffered and flushed every `CAPTURE_FLUSH_SECONDS` or
`CAPTURE_MAX_RECORDS`. observedContentType is the Content-Type as SageMaker saw it: the request's, and the
container's answer header (`text/csv; charset=utf-8` for a CSV answer from the XGBoost container, as AWS's
data capture guide shows). As on AWS, data is captured as CSV/JSON text only for content types listed in
CaptureContentTypeHeader (matched without parameters); everything else is BASE64.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from datetime import datetime
from typing import Any

from driftline_local.context import LocalCloudContext
from driftline_local.eventbridge import cloud_now

from ._aws import LOG, client, split_s3_uri

CAPTURE_FLUSH_SECONDS = 2.0
CAPTURE_MAX_RECORDS = 500


class DataCapture:
    """Buffers capture records per variant and hour and writes them as SageMaker's JSONL objects."""

    def __init__(self, ctx: LocalCloudContext, endpoint_name: str, config: dict[str, Any], rng: random.Random) -> None:
        self.ctx = ctx
        self.endpoint_name = endpoint_name
        self.percent = float(config.get("InitialSamplingPercentage", 100))
        self.destination = config["DestinationS3Uri"].rstrip("/")
        modes = {option.get("CaptureMode") for option in config.get("CaptureOptions") or []} or {
            "Input",
            "Output",
        }
        self.capture_input = bool(modes & {"Input", "InputAndOutput"})
        self.capture_output = bool(modes & {"Output", "InputAndOutput"})
        headers = config.get("CaptureContentTypeHeader") or {}
        self.csv_types = set(headers.get("CsvContentTypes") or [])
        self.json_types = set(headers.get("JsonContentTypes") or [])
        self._rng = rng
        self._lock = threading.Lock()
        self._buffers: dict[tuple[str, str], list[tuple[datetime, dict[str, Any]]]] = {}

    def _encode(self, content_type: str, data: bytes) -> tuple[str, str]:
        base = (content_type or "").split(";")[0].strip()
        for encoding, types in (("CSV", self.csv_types), ("JSON", self.json_types)):
            if content_type in types or base in types:
                try:
                    return encoding, data.decode("utf-8")
                except UnicodeDecodeError:
                    break
        return "BASE64", base64.b64encode(data).decode("ascii")

    def record(
        self,
        variant: str,
        content_type: str,
        body: bytes,
        output_type: str,
        output: bytes,
        inference_id: str | None,
    ) -> None:
        if self._rng.random() * 100 >= self.percent:
            return
        # Captured traffic is stamped on the cloud clock, the clock the monitoring schedules run on:
        # with --time-scale N an hourly monitor window then holds an (N times shorter) hour of traffic.
        now = cloud_now()
        capture: dict[str, Any] = {}
        if self.capture_input:
            encoding, data = self._encode(content_type, body)
            capture["endpointInput"] = {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            }
        if self.capture_output:
            encoding, data = self._encode(output_type, output)
            capture["endpointOutput"] = {
                "observedContentType": output_type,
                "mode": "OUTPUT",
                "data": data,
                "encoding": encoding,
            }
        metadata = {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        }
        if inference_id:
            metadata["inferenceId"] = inference_id
        record = {"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"}
        with self._lock:
            buffer = self._buffers.setdefault((variant, now.strftime("%Y/%m/%d/%H")), [])
            buffer.append((now, record))
            full = len(buffer) >= CAPTURE_MAX_RECORDS
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            buffers, self._buffers = self._buffers, {}
        bucket, prefix = split_s3_uri(self.destination)
        for (variant, hour), records in buffers.items():
            first = records[0][0]
            name = f"{first.strftime('%M-%S')}-{first.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
            key = "/".join(p for p in (prefix, self.endpoint_name, variant, hour, name) if p)
            body = "".join(json.dumps(record, separators=(",", ":")) + "\n" for _, record in records)
            try:
                client(self.ctx, "s3").put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
            except Exception:
                LOG.exception("could not write data capture s3://%s/%s", bucket, key)
