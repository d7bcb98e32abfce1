"""RunReport -> one self-contained HTML page: inline CSS and SVG, no script, nothing loaded from elsewhere."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from driftline.run_report import svg
from driftline.run_report.model import (
    DriftPart,
    EvaluationPart,
    RolloutPart,
    RunReport,
    TrainingPart,
    TuningPart,
    Unavailable,
)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:820px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;
font-size:13px}th{background:#f6f6f6}.muted{color:#666;font-size:13px}
.unavailable{color:#8a5300;background:#fff7e6;border:1px solid #f0d090;padding:8px;border-radius:4px}
svg.chart{display:block;margin:8px 0}
"""


def render(report: RunReport) -> str:
    sections = [
        _section("Training", "training", report.training, _training),
        _section("Evaluation", "evaluation", report.evaluation, _evaluation),
        _section("Rollout", "rollout", report.rollout, _rollout),
        _section("Drift", "drift", report.drift, _drift),
    ]
    if report.tuning is not None:
        sections.insert(0, _section("Tuning trials", "tuning", report.tuning, _tuning))
    if report.shadow_test is not None:
        sections.insert(-1, _section("Shadow test", "shadow-test", report.shadow_test, _shadow_test))
    if report.ab_test is not None:
        sections.insert(-1, _section("A/B test", "ab-test", report.ab_test, _ab_test))
    facts = {"Model": report.model, "Run": report.run_id, "Trigger": report.trigger, "Status": report.status}
    facts |= report.facts
    title = f"Driftline run {report.run_id}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="muted">Generated {escape(report.generated_at)}</p>'
        f"{_table(facts)}{''.join(sections)}</body></html>\n"
    )


def _section(title: str, anchor: str, part: Any, draw: Any) -> str:
    if isinstance(part, Unavailable):
        body = f'<p class="unavailable" data-unavailable="{anchor}">not available: {escape(part.why)}</p>'
    else:
        try:
            body = draw(part)
        except ValueError as exc:  # nothing to plot in what was gathered
            body = f'<p class="unavailable" data-unavailable="{anchor}">not available: {escape(str(exc))}</p>'
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def _table(rows: dict[str, Any]) -> str:
    cells = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(_text(v))}</td></tr>"
        for k, v in rows.items()
        if v not in (None, "", [], {})
    )
    return f"<table>{cells}</table>"


def _grid(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(_text(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float | Decimal):  # Decimal: numbers as DynamoDB returns them
        return f"{float(value):.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    return str(value)


def _tuning(part: TuningPart) -> str:
    names = sorted({name for trial in part.trials for name in trial.params})
    rows = [
        [
            ("best: " if t.best else "") + t.job,
            t.status,
            *[t.params.get(n) for n in names],
            t.objective,
            t.failure_reason,
        ]
        for t in part.trials
    ]
    facts = {
        "Tuning job": part.job,
        "Status": part.status,
        "Strategy": part.strategy,
        "Objective": f"{part.objective} ({(part.objective_type or '').lower()})" if part.objective else None,
        "Warm start from": part.warm_start_parent,
        "Failure": part.failure_reason,
    }
    return (
        _table(facts)
        + f"<p>{len(part.trials)} trials. The best trial's model went on to evaluation, the gate and the rollout.</p>"
        + _grid(["trial", "status", *names, part.objective or "objective", "failure"], rows)
    )


def _shadow_test(test: dict[str, Any]) -> str:
    """The candidate as the endpoint's shadow variant: what it did with the mirrored copies, and the verdict."""
    facts = {
        "Shadow variant": test.get("variant"),
        "Verdict": test.get("outcome"),
        "Watched for (s)": test.get("seconds"),
        "Mirrored requests": test.get("requests"),
        "Failed (5xx)": test.get("errors"),
        "Average latency (ms)": test.get("latency_ms"),
        "Answers compared with production": test.get("compared"),
        "Labels differing from production": test.get("disagreement"),
        "Mean absolute difference": test.get("mean_abs_difference"),
        "Judged at": test.get("judged_at"),
    }
    reasons = test.get("reasons") or []
    why = "".join(f"<li>{escape(str(r))}</li>" for r in reasons)
    return (
        "<p>The candidate answered a copy of production's traffic; callers only ever saw production's answers.</p>"
        + _table(facts)
        + (f"<p>Why it failed:</p><ul>{why}</ul>" if why else "")
    )


def _ab_test(test: dict[str, Any]) -> str:
    """Production and candidate side by side; a two-sided test per metric decided."""
    facts = {
        "Decision": test.get("decision"),
        "Why": test.get("reason"),
        "Production variant": test.get("production_variant"),
        "Candidate variant": test.get("candidate_variant"),
        "Candidate share (%)": test.get("candidate_percent"),
        "Ran for (s)": test.get("seconds"),
        "Extended": test.get("extended"),
        "Significance level": test.get("alpha"),
        "Decided at": test.get("decided_at"),
    }
    rows = [
        [
            f"{metric} ({t['measure']})" if t.get("measure") else metric,  # quality: accuracy or absolute error
            t.get("production"),
            t.get("candidate"),
            t.get("statistic"),
            t.get("p_value"),
            t.get("why"),
        ]
        for metric, t in sorted((test.get("tests") or {}).items())
    ]
    grid = _grid(["metric", "production", "candidate", "statistic", "p-value", "not tested because"], rows)
    return _table(facts) + (grid if rows else "<p>No metric was tested.</p>")


def _training(part: TrainingPart) -> str:
    chart = svg.line_chart(
        part.series,
        title=f"validation {part.metric} per round",
        x_label="boosting round",
        y_label=f"validation {part.metric}",
        markers=part.markers,
    )
    rows = [[a.attempt, a.job, a.started_at_round, a.last_round, a.ended] for a in part.attempts]
    jobs = [
        [
            j.get("job_name"),
            j.get("outcome"),
            j.get("interruptions"),
            j.get("training_seconds"),
            j.get("billable_seconds"),
        ]
        for j in part.jobs
    ]
    return (
        f"<p>Validation {escape(part.metric)} after every boosting round. Red lines: a spot interruption (the "
        "attempt's last checkpointed round); green lines: a new attempt resumed from its checkpoint.</p>"
        + chart
        + _grid(["attempt", "job", "started at round", "last round", "ended"], rows)
        + (_grid(["training job", "outcome", "interruptions", "training s", "billed s"], jobs) if jobs else "")
    )


def _evaluation(part: EvaluationPart) -> str:
    names = ["candidate", "trivial baseline", "production"]
    metrics = list(part.metrics)
    groups = [
        (n, [part.metrics[m].get(n) for m in metrics])
        for n in names
        if any(part.metrics[m].get(n) is not None for m in metrics)
    ]
    chart = svg.bar_chart(metrics, groups, title="test-set metrics", y_label="value")
    rows = [[m] + [part.metrics[m].get(n) for n in names] for m in metrics]
    notes = [
        f"Test set: {part.test_rows} rows." if part.test_rows else "",
        f"Quality gate ({escape(part.gate_metric or '')}): {escape(part.gate_summary)}" if part.gate_summary else "",
        escape(part.production_note or ""),
    ]
    return chart + _grid(["metric", *names], rows) + "".join(f"<p>{n}</p>" for n in notes if n)


def _rollout(part: RolloutPart) -> str:
    head = _table(
        {
            "Strategy": part.strategy,
            "Outcome": part.outcome,
            "Endpoint": part.endpoint,
            "Decided by": part.decided_by,
            "Alarm reason": part.alarm_reason,
        }
    )
    charts = [
        svg.line_chart(
            part.share,
            title="traffic share per variant",
            x_label="time (UTC)",
            y_label="% of traffic",
            markers=part.markers,
            y_range=(0, 100),
            x_format=svg.clock,
        )
    ]
    for title, series in (("requests per variant", part.requests), ("errors per variant", part.errors)):
        if isinstance(series, Unavailable):
            charts.append(f'<p class="unavailable">{escape(title)} not available: {escape(series.why)}</p>')
        else:
            try:
                charts.append(
                    svg.line_chart(
                        series,
                        title=title,
                        x_label="time (UTC)",
                        y_label=title.split()[0],
                        markers=part.markers,
                        x_format=svg.clock,
                    )
                )
            except ValueError:
                charts.append(
                    f'<p class="unavailable">{escape(title)} not available: no datapoints in the '
                    "rollout's time span</p>"
                )
    return head + "".join(charts)


def _drift(part: DriftPart) -> str:
    chart = svg.line_chart(
        part.series,
        title="drift per feature vs threshold",
        x_label="monitor window end (UTC)",
        y_label="drift distance (PSI)",
        x_format=svg.clock,
    )
    note = (
        f'<p class="muted">{part.left_out} feature(s) stayed under the threshold throughout and are not drawn.</p>'
        if part.left_out
        else ""
    )
    drifted = _grid(
        ["feature", "distance", "threshold"],
        [[d.get("feature"), d.get("distance"), d.get("threshold")] for d in part.drifted],
    )
    head = f"<p>Monitor window that started this run: {escape(part.monitor_job or 'unknown')}.</p>"
    if isinstance(part.distributions, Unavailable):
        shown = f'<p class="unavailable">distributions not available: {escape(part.distributions.why)}</p>'
    else:
        shown = ""
        for dist in part.distributions:
            groups: list[tuple[str, list[float | None]]] = []
            if dist.baseline is not None:
                groups.append(("baseline", dist.baseline))
            groups.append(("window", dist.window))
            shown += f"<h3>{escape(dist.feature)}</h3>" + svg.bar_chart(
                dist.buckets, groups, title=f"{dist.feature}: baseline vs window", y_label="share of rows"
            )
            if dist.baseline_note:
                shown += f'<p class="unavailable">baseline not available: {escape(dist.baseline_note)}</p>'
    return head + chart + note + drifted + shown
