"""What every local-cloud extension module is given when it is installed into the running server.

Each extension (Lambda runtime, EventBridge delivery, SageMaker jobs, endpoints, ...) is a small module
with an ``install(ctx: LocalCloudContext) -> None`` function that patches moto's backends in this
process. They share only this context.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
# Cloud seconds an idle Lambda execution environment lives. AWS documents no figure ("after a period of
# inactivity"); measured since 2019 it is a fixed 10 minutes after the last request (docs/internals.md).
LAMBDA_IDLE_LIFETIME_SECONDS = 600.0


@dataclass
class LocalCloudContext:
    port: int
    workdir: Path  # sandboxes for jobs, endpoints and Lambda workers live under here
    repo_root: Path = REPO_ROOT
    region: str = REGION
    account_id: str = ACCOUNT_ID
    time_scale: float = 1.0  # schedules and alarm periods run this many times faster
    # Lambda execution environments: cloud seconds one lives idle, and whether a deploy starts one per
    # function ahead of traffic (`lambda_runtime`)
    lambda_idle_seconds: float = LAMBDA_IDLE_LIFETIME_SECONDS
    lambda_initialize_ahead: bool = True
    # whether each image's model-serving stack is imported when the cloud starts (`sagemaker.model_server`)
    serving_stacks_ahead: bool = False
    stop_event: threading.Event = field(default_factory=threading.Event)
    # Lambda code registry, filled by `stack` on deploy: function name -> lambda_runtime.FunctionCode
    functions: dict[str, Any] = field(default_factory=dict)
    # control API actions (`control.register`): name -> handler(payload dict) -> JSON-able result
    control_actions: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mailbox_path(self) -> Path:
        """Every message SNS delivers to an email subscription, one JSON object per line."""
        return self.workdir / "mailbox.jsonl"

    def scaled(self, seconds: float) -> float:
        """Real seconds to wait for `seconds` of cloud time."""
        return seconds / self.time_scale
