"""Deterministic, sanitised names for runs, jobs and executions.

A name is a pure function of (model, trigger, time window), so a duplicate event maps to the same
name and StartExecution / Create*Job refuse to start the same work twice.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

SAGEMAKER_NAME_LIMIT = 63
EXECUTION_NAME_LIMIT = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


def sanitise(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-")


# Triggers of runs an alarm started (incidents.py): they retrain on the data that arrived since production.
ALARM_RETRAIN_TRIGGERS = ("drift", "quality")


def run_id(model: str, trigger: str, moment: datetime) -> str:
    """`<model>-<trigger>-<yyyymmddThhmmss>`: the run, its execution and the prefix of its jobs."""
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return sanitise(f"{model}-{trigger}-{stamp}")


def job_name(run: str, step: str, attempt: int | None = None) -> str:
    """A SageMaker job name for a step of a run, within SageMaker's 63-character limit."""
    suffix = f"{step}-{attempt}" if attempt else step
    name = sanitise(f"{run}-{suffix}")
    if len(name) <= SAGEMAKER_NAME_LIMIT:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    keep = SAGEMAKER_NAME_LIMIT - len(suffix) - len(digest) - 2
    return f"{name[:keep].rstrip('-')}-{digest}-{suffix}"


def endpoint_name(model: str) -> str:
    return sanitise(f"driftline-{model}")[:SAGEMAKER_NAME_LIMIT]


def model_package_group(model: str) -> str:
    return sanitise(f"driftline-{model}")[:SAGEMAKER_NAME_LIMIT]


def alarm_name(model: str, what: str) -> str:
    return f"driftline-{model}-{what}"


def variant_name(model: str, run: str) -> str:
    """A production variant per model version: the run id without the model prefix (`upload-20261128T050000`)."""
    short = run.removeprefix(f"{model}-") or run
    return sanitise(short)[:SAGEMAKER_NAME_LIMIT].strip("-")
