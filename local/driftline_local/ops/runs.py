"""`driftline runs MODEL` (a model's runs) and `driftline run RUN_ID` (one run in full)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from driftline_local.ops import format as fmt
from driftline_local.ops import runinfo
from driftline_local.ops.session import ERRORS_HELP, Driftline, add_connection_arguments, handles_errors
from driftline_local.ops.status import sorted_runs

EXIT_HELP = "Exit status: 0 shown, 1 unknown model, run or stack, " + ERRORS_HELP


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser(
        "runs",
        help="a model's runs, newest first, with their state and current step",
        description=f"A model's training runs, newest first: trigger, status, the step it is in or failed at, the "
        f"quality gate's verdict and the test metric. {EXIT_HELP}",
    )
    runs.add_argument("model", metavar="MODEL")
    runs.add_argument("--max-items", type=int, default=20, help="runs shown (default 20)")
    add_connection_arguments(runs)
    runs.set_defaults(func=cmd_runs)

    run = subparsers.add_parser(
        "run",
        help="one run: steps with durations, jobs with spot interruptions and savings, metrics, gate verdict",
        description=f"One run in full: its steps (training pipeline and rollout) with durations, its training jobs "
        f"with spot interruptions and savings, the candidate's test metrics against the trivial baseline and "
        f"production, the quality gate's verdict and where it failed. {EXIT_HELP}",
    )
    run.add_argument("run_id", metavar="RUN_ID")
    run.add_argument("--model", help="the run's model (default: from the run id)")
    add_connection_arguments(run)
    run.set_defaults(func=cmd_run)


@handles_errors
def cmd_runs(args: argparse.Namespace) -> int:
    ops = Driftline.from_args(args)
    items = ops.require_model(args.model)
    rows = []
    for run in sorted_runs(items)[: args.max_items]:
        gate = run.get("gate") or {}
        rows.append(
            {
                "run_id": run["run_id"],
                "trigger": run.get("trigger"),
                "started_at": run.get("started_at"),
                "gate_passed": gate.get("passed"),
                "metric": gate.get("metric"),
                "value": gate.get("candidate"),
                "spot_savings_percent": (run.get("spot") or {}).get("spot_savings_percent"),
                "interruptions": (run.get("spot") or {}).get("interruptions"),
                **runinfo.run_state(ops, run),
            }
        )
    if args.json:
        fmt.print_json({"model": args.model, "runs": rows})
        return 0
    out = fmt.console()
    if not rows:
        out.print(
            f"{args.model} has no runs yet: upload labelled CSVs to s3://{ops.stack.data_bucket}/incoming/{args.model}/"
        )
        return 0
    production = (items.get("PRODUCTION") or {}).get("run_id")
    shown = fmt.table(
        "run",
        "trigger",
        "status",
        "step",
        "gate",
        next((str(row["metric"]) for row in rows if row["metric"]), "gate metric"),
        "spot",
        "started",
    )
    for row in rows:
        gate = {True: "[green]passed[/green]", False: "[red]failed[/red]"}.get(row["gate_passed"], "-")
        spot = "-"
        if row["spot_savings_percent"] is not None:
            spot = f"{row['spot_savings_percent']:g}% saved, {row['interruptions'] or 0} int."
        name = fmt.escape(row["run_id"]) + (" [bold](production)[/bold]" if row["run_id"] == production else "")
        shown.add_row(
            name,
            fmt.escape(str(row["trigger"] or "-")),
            fmt.styled(row["status"]),
            fmt.escape(row.get("step") or ""),
            gate,
            fmt.number(row["value"]),
            spot,
            fmt.ago(row["started_at"]),
        )
    out.print(shown)
    return 0


@handles_errors
def cmd_run(args: argparse.Namespace) -> int:
    ops = Driftline.from_args(args)
    if args.model:
        ops.require_model(args.model)
    model, run = runinfo.find_run(ops, args.run_id, args.model)
    document = run_details(ops, model, run)
    if args.json:
        fmt.print_json(document)
    else:
        render_run(document)
    return 0


def run_details(ops: Driftline, model: str, run: dict[str, Any]) -> dict[str, Any]:
    run_id = str(run["run_id"])
    executions = runinfo.executions(ops, run_id)
    machines = {}
    for kind, described in executions.items():
        machines[kind] = {
            "execution_arn": described["executionArn"],
            "status": described["status"],
            "started": described.get("startDate"),
            "stopped": described.get("stopDate"),
            "steps": runinfo.steps(runinfo.history(ops, described["executionArn"])),
        }
    pipeline = executions.get("pipeline") or {}
    started, stopped = pipeline.get("startDate"), pipeline.get("stopDate")
    return {
        "model": model,
        "run_id": run_id,
        "trigger": run.get("trigger"),
        "status": run.get("status"),
        "started_at": run.get("started_at"),
        "seconds": (stopped - started).total_seconds() if started and stopped else None,
        "failed_step": run.get("failed_step"),
        "error": run.get("error"),
        "cause": run.get("cause"),
        "executions": machines,
        "training_jobs": run.get("attempts") or [],
        "spot": run.get("spot"),
        "evaluation": evaluation(ops, model, run_id),
        "gate": run.get("gate"),
        "model_package_arn": run.get("model_package_arn"),
        "endpoint_name": run.get("endpoint_name"),
        "artifacts": f"s3://{ops.stack.artifact_bucket}/{model}/runs/{run_id}/",
        "pages": sent_pages(run),
    }


def sent_pages(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The pages sent about the run (notifications.page records them on the run item), oldest first."""
    pages = [p for p in run.get("pages") or [] if isinstance(p, dict)]
    return sorted(pages, key=lambda p: fmt.when(p.get("at")) or datetime.min.replace(tzinfo=UTC))


def evaluation(ops: Driftline, model: str, run_id: str) -> dict[str, Any] | None:
    """The evaluation job's evaluation.json: candidate, trivial baseline and production on the same test set."""
    s3 = ops.client("s3")
    try:
        body = s3.get_object(Bucket=ops.stack.artifact_bucket, Key=f"{model}/runs/{run_id}/evaluation/evaluation.json")[
            "Body"
        ].read()
    except s3.exceptions.NoSuchKey:
        return None
    return dict(json.loads(body))


def render_run(doc: dict[str, Any]) -> None:
    out = fmt.console()
    took = f" in {fmt.duration(doc['seconds'])}" if doc["seconds"] is not None else ""
    out.print(
        f"[bold]{fmt.escape(doc['run_id'])}[/bold]  model {fmt.escape(doc['model'])}, trigger "
        f"{fmt.escape(str(doc['trigger'] or '-'))}, {fmt.styled(doc['status'])}{took}, started "
        f"{fmt.stamp(doc['started_at'])}"
    )
    if doc["failed_step"] or doc["error"]:
        out.print(
            f"  [red]failed at {fmt.escape(str(doc['failed_step'] or '-'))}: {fmt.escape(str(doc['error'] or ''))}"
            f"[/red] {fmt.escape(str(doc['cause'] or ''))[:400]}"
        )
    for kind, machine in doc["executions"].items():
        shown = fmt.table(f"  {kind} step", "seconds", "state", title=f"{kind} ({machine['status']})")
        for step in machine["steps"]:
            if step["type"] in ("Choice", "Pass"):
                continue
            seconds = step["seconds"] + step.get("ongoing_seconds", 0.0)
            times = f" x{step['times']}" if step["times"] > 1 else ""
            shown.add_row(f"  {fmt.escape(step['step'])}{times}", f"{seconds:.1f}", fmt.escape(step["state"]))
        out.print(shown)
    jobs = doc["training_jobs"]
    if jobs:
        shown = fmt.table(
            "  training job", "outcome", "spot", "trained s", "billed s", "interruptions", title="training jobs"
        )
        for job in jobs:
            shown.add_row(
                f"  {fmt.escape(str(job.get('job_name')))}",
                fmt.escape(str(job.get("outcome") or "-")),
                "yes" if job.get("spot") else "no",
                fmt.number(job.get("training_seconds")),
                fmt.number(job.get("billable_seconds")),
                fmt.number(job.get("interruptions") or 0),
            )
        out.print(shown)
    spot = doc["spot"] or {}
    if spot:
        out.print(
            f"spot: {spot.get('spot_savings_percent')}% saved (1 - billable / training seconds), "
            f"{spot.get('interruptions', 0)} interruption(s), {spot.get('resumes', 0)} resume(s)"
            + (", fell back to on-demand" if spot.get("on_demand_fallback") else "")
        )
    evaluation_doc = doc["evaluation"]
    if evaluation_doc:
        names = sorted((evaluation_doc.get("metrics") or {}).keys())
        shown = fmt.table(
            "  metric",
            "candidate",
            "trivial baseline",
            "production",
            title=f"test metrics ({evaluation_doc.get('test_rows', '?')} rows)",
        )
        for name in names:
            shown.add_row(
                f"  {fmt.escape(name)}",
                *(
                    fmt.number((evaluation_doc.get(part) or {}).get(name))
                    for part in ("metrics", "baseline_metrics", "production_metrics")
                ),
            )
        out.print(shown)
    gate = doc["gate"]
    if gate:
        verdict = "[green]passed[/green]" if gate.get("passed") else "[red]failed[/red]"
        out.print(f"quality gate {verdict} on {fmt.escape(str(gate.get('metric')))}:")
        for reason in gate.get("reasons") or []:
            out.print(f"  - {fmt.escape(reason)}")
    if doc["model_package_arn"]:
        out.print(f"model package {fmt.escape(doc['model_package_arn'])}")
    if doc["endpoint_name"]:
        out.print(f"endpoint {fmt.escape(doc['endpoint_name'])}")
    if doc["pages"]:
        shown = fmt.table("  sent", "kind", "severity", "subject", title="pages sent")
        for sent in doc["pages"]:
            shown.add_row(
                f"  {fmt.stamp(sent.get('at'))}",
                fmt.escape(str(sent.get("kind") or "-")),
                fmt.escape(str(sent.get("severity") or "-")),
                fmt.escape(str(sent.get("subject") or "-")),
            )
        out.print(shown)
    else:
        out.print("pages sent: none recorded")
    out.print(f"artifacts {fmt.escape(doc['artifacts'])}")
