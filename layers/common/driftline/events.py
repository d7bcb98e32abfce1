"""The EventBridge envelopes Driftline's handlers receive, as pydantic models.

These replace powertools' parser models on purpose: importing `utilities.parser` builds dozens of
event models and costs a handler about 50 ms of every cold start, while these few fields reuse the
pydantic already loaded for the domain models (see docs/decisions.md, "Handler cold start").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventBridgeEvent(BaseModel):
    """Any EventBridge event: the envelope fields Driftline reads, and the service's detail."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    time: datetime
    source: str
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]


class S3Bucket(BaseModel):
    name: str


class S3Object(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    key: str
    size: int = 0
    sequencer: str = ""
    version_id: str | None = Field(default=None, alias="version-id")


class S3ObjectDetail(BaseModel):
    bucket: S3Bucket
    object: S3Object


class S3ObjectCreated(EventBridgeEvent):
    """S3 `Object Created`, as the bucket's EventBridge notifications deliver it."""

    detail: S3ObjectDetail  # type: ignore[assignment]
