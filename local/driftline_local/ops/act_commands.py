"""The act commands (retrain, rollback, promote, pause, resume), registered together by one line in cli.py."""

from __future__ import annotations

from typing import Any

from driftline_local.ops import act_pause, act_promote, act_retrain, act_rollback


def register(subparsers: Any) -> None:
    for module in (act_retrain, act_rollback, act_promote, act_pause):
        module.register(subparsers)
