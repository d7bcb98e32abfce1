"""Polling for the local-cloud tests: the cloud works in background threads."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"condition not met within {timeout}s"
            return value
        time.sleep(interval)
