"""report.html: one self-contained page per run, written beside the run's artifacts.

`write_run_report(model, run_id)` gathers what the run left (training metric history, evaluation, the
rollout, the drift that started it), renders it (inline SVG, no script, nothing fetched when opened) and
puts it at s3://<ArtifactBucket>/<model>/runs/<run_id>/report.html. It is safe to call again: each call
rewrites the page from the run's current traces (the step that records a finished rollout calls it so the
rollout part is complete). `write_quietly` never raises: a report is never why a run or rollout fails.
"""

from __future__ import annotations

from typing import Any

from driftline import aws
from driftline.observability import logger
from driftline.settings import settings


def report_uri(model: str, run_id: str) -> str:
    from driftline.run_report.collect import report_key

    return f"s3://{settings().artifact_bucket}/{report_key(model, run_id)}"


def fetch_command(run_id: str) -> str:
    return f"driftline report {run_id} -o report.html"


def render_run_report(
    model: str, run_id: str, facts: dict[str, Any] | None = None, rollout_execution: str | None = None
) -> str:
    from driftline.run_report.collect import build_report
    from driftline.run_report.page import render

    return render(build_report(model, run_id, facts=facts, rollout_execution=rollout_execution))


def write_run_report(
    model: str, run_id: str, facts: dict[str, Any] | None = None, rollout_execution: str | None = None
) -> str:
    """Render the run's report and store it beside its artifacts; returns its s3:// URI.

    `rollout_execution`: the CanaryRollout execution's ARN when the caller is one of its steps (a function
    there cannot be given CANARY_ROLLOUT_ARN: the state machine already depends on it).
    """
    from driftline.run_report.collect import report_key

    html = render_run_report(model, run_id, facts, rollout_execution)
    aws.client("s3").put_object(
        Bucket=settings().artifact_bucket,
        Key=report_key(model, run_id),
        Body=html.encode("utf-8"),
        ContentType="text/html; charset=utf-8",
    )
    return report_uri(model, run_id)


def write_quietly(
    model: str, run_id: str, facts: dict[str, Any] | None = None, rollout_execution: str | None = None
) -> str | None:
    """write_run_report, or None (logged as a warning) when it cannot be written."""
    try:
        return write_run_report(model, run_id, facts, rollout_execution)
    except Exception as exc:  # noqa: BLE001 - the report is a view of the run, never a reason to fail it
        logger.warning(
            "run report not written",
            extra={"model": model, "run_id": run_id, "why": f"{aws.error_code(exc) or type(exc).__name__}: {exc}"},
        )
        return None
