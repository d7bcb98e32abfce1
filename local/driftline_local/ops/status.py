"""`driftline status [MODEL]`: what every model (or one) is serving and doing, on one screen."""

from __future__ import annotations

import argparse
import json
from typing import Any

from driftline import naming

from driftline_local.ops import format as fmt
from driftline_local.ops import quarantine, runinfo
from driftline_local.ops.session import ERRORS_HELP, Driftline, add_connection_arguments, handles_errors

RECENT_RUNS = 3
SHOWN_UPLOADS = 5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="every model: production version, endpoint traffic, runs, incidents, drift, uploads",
        description="What each model (or MODEL) is serving and doing: its production version, the endpoint's "
        "status and traffic split per variant, the last runs with their state and current step, open incidents "
        "and alarms, the last drift result, pending uploads and quarantined files. Exit status: 0 shown, "
        "1 unknown model or stack, " + ERRORS_HELP,
    )
    parser.add_argument("model", nargs="?", metavar="MODEL", help="one model (default: every model)")
    parser.add_argument("--runs", type=int, default=RECENT_RUNS, help=f"runs shown per model (default {RECENT_RUNS})")
    parser.add_argument("--dashboard", action="store_true", help="also say where the CloudWatch dashboards are")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_status)


@handles_errors
def cmd_status(args: argparse.Namespace) -> int:
    ops = Driftline.from_args(args)
    if args.model:
        models = {args.model: ops.require_model(args.model)}
    else:
        models = {name: ops.model_items(name) for name in ops.models()}
    incidents = open_incidents(ops)
    document: dict[str, Any] = {
        "stack": ops.stack.name,
        "region": ops.stack.region,
        "models": [
            model_status(ops, name, items, incidents.get(name, []), args.runs) for name, items in models.items()
        ],
    }
    if args.dashboard:
        document["dashboards"] = dashboards(ops, [m["model"] for m in document["models"]])
    if args.json:
        fmt.print_json(document)
    else:
        render(document)
    return 0


def dashboards(ops: Driftline, models: list[str]) -> dict[str, Any]:
    """Where the stack's and each model's CloudWatch dashboards are, and whether they exist yet."""
    from driftline.dashboards import dashboard_location

    region = ops.stack.region
    stack_name = ops.stack.outputs.get("StackDashboardName")
    found: dict[str, Any] = {"stack": _dashboard(ops, stack_name, region) if stack_name else None, "models": {}}
    for model in models:
        found["models"][model] = _dashboard(ops, dashboard_location(model, region)["name"], region)
    return found


def _dashboard(ops: Driftline, name: str, region: str) -> dict[str, Any]:
    from urllib.parse import quote

    cloudwatch = ops.client("cloudwatch")
    try:
        cloudwatch.get_dashboard(DashboardName=name)
        exists = True
    except cloudwatch.exceptions.ResourceNotFound:
        exists = False
    url = f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{quote(name)}"
    return {"name": name, "url": url, "exists": exists}


def model_status(
    ops: Driftline, model: str, items: dict[str, dict[str, Any]], incidents: list[dict[str, Any]], recent: int
) -> dict[str, Any]:
    config = json.loads(items["CONFIG"]["config"]) if "CONFIG" in items else {}
    runs = sorted_runs(items)
    shown_runs = []
    for run in runs[:recent]:
        shown_runs.append(
            {
                "run_id": run["run_id"],
                "trigger": run.get("trigger"),
                "started_at": run.get("started_at"),
                **runinfo.run_state(ops, run),
            }
        )
    return {
        "model": model,
        "paused": pause(items.get("PAUSE")),
        "production": production(ops, model, items.get("PRODUCTION")),
        "endpoint": endpoint(ops, model),
        "runs": shown_runs,
        "collecting": items.get("OPENRUN"),
        "rollout_lock": items.get("ROLLOUT"),
        "incidents": incidents,
        "alarms": alarms(ops, model),
        "drift": drift(items.get("MONITOR"), config),
        "pending_uploads": pending_uploads(ops, model, runs),
        "quarantined": [q for q in quarantine.list_quarantined(ops, model) if not q.get("released_at")],
    }


def pause(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """The model's pause (state table `PAUSE`, written by `driftline pause`): who, since when, why."""
    if not item:
        return None
    return {k: item.get(k) for k in ("paused_by", "paused_at", "reason", "uploads_kept")}


def sorted_runs(items: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The model's runs, newest first (run ids end in their UTC start time, so they sort as times)."""
    # An item written only by UpdateItem (a rollout started by hand, then rolled back) has no run_id: its key has.
    runs = [{"run_id": sk.removeprefix("RUN#")} | item for sk, item in items.items() if sk.startswith("RUN#")]
    return sorted(runs, key=lambda r: (str(r.get("started_at") or ""), str(r["run_id"])), reverse=True)


def production(ops: Driftline, model: str, item: dict[str, Any] | None) -> dict[str, Any] | None:
    if not item:
        return None
    package = item.get("model_package_arn")
    return {
        "run_id": item.get("run_id"),
        "version": int(package.rsplit("/", 1)[-1]) if package and package.rsplit("/", 1)[-1].isdigit() else None,
        "model_package_arn": package,
        "variant": item.get("variant"),
        "deployed_at": item.get("deployed_at"),
    }


def endpoint(ops: Driftline, model: str) -> dict[str, Any]:
    name = naming.endpoint_name(model)
    sagemaker = ops.client("sagemaker")
    try:
        described = sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException":
            return {"name": name, "status": None}
        raise
    variants = described.get("ProductionVariants") or []
    total = sum(float(v.get("CurrentWeight", 0) or 0) for v in variants)
    return {
        "name": name,
        "status": described.get("EndpointStatus"),
        "failure_reason": described.get("FailureReason"),
        "variants": [
            {
                "variant": v["VariantName"],
                "weight": float(v.get("CurrentWeight", 0) or 0),
                "traffic_percent": round(100 * float(v.get("CurrentWeight", 0) or 0) / total, 1) if total else 0.0,
                "instances": v.get("CurrentInstanceCount"),
            }
            for v in variants
        ],
    }


def open_incidents(ops: Driftline) -> dict[str, list[dict[str, Any]]]:
    """Open incidents (state table `ALARM#<alarm>` / `INCIDENT`), by model."""
    from boto3.dynamodb.conditions import Attr

    from driftline_local.ops.session import plain

    table = ops.table()
    scan: dict[str, Any] = {"FilterExpression": Attr("sk").eq("INCIDENT") & Attr("status").eq("OPEN")}
    found: dict[str, list[dict[str, Any]]] = {}
    while True:
        page = table.scan(**scan)
        for item in page.get("Items", []):
            incident = plain(item)
            incident["alarm"] = str(incident.pop("pk")).removeprefix("ALARM#")
            incident.pop("sk", None)
            found.setdefault(str(incident.get("model")), []).append(incident)
        if "LastEvaluatedKey" not in page:
            return found
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def alarms(ops: Driftline, model: str) -> list[dict[str, Any]]:
    cloudwatch = ops.client("cloudwatch")
    found = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=naming.alarm_name(model, "")):
        for alarm in page.get("MetricAlarms", []):
            found.append(
                {
                    "name": alarm["AlarmName"],
                    "state": alarm["StateValue"],
                    "since": alarm.get("StateUpdatedTimestamp"),
                    "reason": alarm.get("StateReason"),
                }
            )
    return found


def drift(item: dict[str, Any] | None, config: dict[str, Any]) -> dict[str, Any] | None:
    if not item:
        return None
    monitoring = config.get("monitoring") or {}
    return {
        "at": item.get("at"),
        "job": item.get("job"),
        "records": item.get("records"),
        "max_drift": item.get("max_drift"),
        "threshold": monitoring.get("drift_threshold"),
        "min_records": monitoring.get("min_records"),
        "drifted": item.get("drifted") or [],
        "report_uri": item.get("report_uri"),
    }


def pending_uploads(ops: Driftline, model: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Files under incoming/<model>/ uploaded after the newest run took its data (none took any: all of them)."""
    cutoffs = [float(r["data_cutoff"]) for r in runs if r.get("data_cutoff") is not None]
    cutoff = max(cutoffs) if cutoffs else None
    s3 = ops.client("s3")
    pending = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ops.stack.data_bucket, Prefix=f"incoming/{model}/"):
        for obj in page.get("Contents", []):
            if cutoff is None or obj["LastModified"].timestamp() > cutoff:
                pending.append({"key": obj["Key"], "size": obj["Size"], "uploaded_at": obj["LastModified"]})
    return {"since": cutoff, "count": len(pending), "files": pending}


# --- the screen -------------------------------------------------------------------------------------


def render(document: dict[str, Any]) -> None:
    out = fmt.console()
    if not document["models"]:
        out.print(f"No model onboarded in stack '{document['stack']}' ({document['region']}).")
        return
    boards = document.get("dashboards")
    for index, model in enumerate(document["models"]):
        if index:
            out.print()
        render_model(out, model)
        if boards:
            out.print(f"  dashboard  {_board_line(boards['models'][model['model']])}")
    if boards and boards["stack"]:
        out.print(f"\nstack dashboard {_board_line(boards['stack'])}")


def _board_line(board: dict[str, Any]) -> str:
    if not board["exists"]:
        return f"{fmt.escape(board['name'])}: not created yet (it is put with the first production model's alarms)"
    return f"{fmt.escape(board['name'])}: {fmt.escape(board['url'])}"


def render_model(out: Any, status: dict[str, Any]) -> None:
    prod = status["production"]
    head = f"[bold]{fmt.escape(status['model'])}[/bold]"
    if prod:
        version = f"v{prod['version']}" if prod.get("version") is not None else "unregistered"
        head += f"  production {version} ({fmt.escape(str(prod['run_id']))}, deployed {fmt.ago(prod['deployed_at'])})"
    else:
        head += "  [yellow]no production model yet[/yellow]"
    out.print(head)
    paused = status.get("paused")
    if paused:
        kept = f"; {paused['uploads_kept']} upload(s) kept for later" if paused.get("uploads_kept") else ""
        out.print(
            f"  [yellow]PAUSED[/yellow]     by {fmt.escape(str(paused.get('paused_by') or '?'))} since "
            f"{fmt.stamp(paused.get('paused_at'))}: {fmt.escape(str(paused.get('reason') or 'no reason given'))}; "
            f"no automatic retrains or rollouts{kept} (`driftline resume {fmt.escape(status['model'])}`)"
        )
    ep = status["endpoint"]
    if ep["status"] is None:
        out.print(f"  endpoint   {ep['name']}: not deployed")
    else:
        split = ", ".join(f"{fmt.escape(v['variant'])} {v['traffic_percent']:g}%" for v in ep["variants"])
        out.print(f"  endpoint   {ep['name']}  {fmt.styled(ep['status'])}  traffic: {split or '-'}")
        if ep.get("failure_reason"):
            out.print(f"             [red]{fmt.escape(ep['failure_reason'])}[/red]")
    if status["runs"]:
        runs = fmt.table("  run", "trigger", "status", "step", "started")
        for run in status["runs"]:
            runs.add_row(
                f"  {fmt.escape(run['run_id'])}",
                fmt.escape(str(run.get("trigger") or "-")),
                fmt.styled(run["status"]),
                fmt.escape(run.get("step") or ""),
                fmt.ago(run.get("started_at")),
            )
        out.print(runs)
    else:
        out.print("  runs       none yet")
    firing = [a for a in status["alarms"] if a["state"] == "ALARM"]
    out.print(
        f"  alarms     {len(firing)} in ALARM of {len(status['alarms'])}"
        + (": " + ", ".join(fmt.escape(a["name"]) for a in firing) if firing else "")
    )
    for incident in status["incidents"]:
        out.print(
            f"  [red]incident[/red]   {fmt.escape(incident['alarm'])} open since {fmt.ago(incident.get('opened_at'))}"
            f" (flaps {incident.get('flaps', 0)})"
        )
    drift = status["drift"]
    if not drift:
        out.print("  drift      not monitored yet")
    elif drift["min_records"] and (drift["records"] or 0) < drift["min_records"] and not drift["drifted"]:
        out.print(
            f"  drift      {fmt.ago(drift['at'])}: not judged, {drift['records'] or 0} records in the window "
            f"(needs {drift['min_records']}): is the endpoint getting traffic with data capture on?"
        )
    else:
        over = ", ".join(f"{fmt.escape(str(f.get('feature')))} {f.get('distance') or 0:.3f}" for f in drift["drifted"])
        out.print(
            f"  drift      {fmt.ago(drift['at'])}: max {drift['max_drift'] or 0:.3f} (threshold "
            f"{drift['threshold']}) over {drift['records'] or 0} records; "
            + (f"[red]over threshold: {over}[/red]" if over else "no feature over threshold")
        )
    pending = status["pending_uploads"]
    names = ", ".join(fmt.escape(f["key"].rsplit("/", 1)[-1]) for f in pending["files"][:SHOWN_UPLOADS])
    more = f" and {pending['count'] - SHOWN_UPLOADS} more" if pending["count"] > SHOWN_UPLOADS else ""
    collecting = status.get("collecting")
    line = f"  uploads    {pending['count']} pending" + (f": {names}{more}" if names else "")
    if collecting:
        line += f" (collected by run {fmt.escape(str(collecting.get('run_id')))})"
    out.print(line)
    quarantined = status["quarantined"]
    if quarantined:
        out.print(
            f"  [yellow]quarantine[/yellow] {len(quarantined)} file(s); see `driftline quarantine "
            f"{fmt.escape(status['model'])}`"
        )
    else:
        out.print("  quarantine none")
