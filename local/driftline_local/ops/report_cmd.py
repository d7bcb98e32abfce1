"""`driftline report RUN_ID -o report.html`: fetch a run's report.html (plots, opens without a network).

Every run writes its report beside its artifacts (s3://<ArtifactBucket>/<model>/runs/<run>/report.html). When
it is not there (a run from before reports existed, a report the run could not write) or with `--rebuild`,
the report is built here from the run's traces with your credentials, exactly as the run would have.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from driftline_local.ops import format as fmt
from driftline_local.ops import runinfo
from driftline_local.ops.session import Driftline, OpsError, add_connection_arguments, handles_errors

EXIT_HELP = "Exit status: 0 written, 1 unknown run or stack, 253 no credentials or region, 255 other AWS errors."


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="fetch a run's report.html (training curve, evaluation, rollout, drift)",
        description="Fetch a run's report.html: validation metric per round with spot interruptions and resumes, "
        "candidate vs trivial baseline vs production, the rollout's traffic, requests and errors per variant with "
        "the alarm that decided, and for a drift retrain the drift per feature with the drifted distributions. "
        f"A self-contained page: open it in any browser, offline. {EXIT_HELP}",
    )
    report.add_argument("run_id", metavar="RUN_ID")
    report.add_argument("-o", "--output", default="report.html", help="where to write it ('-' for stdout)")
    report.add_argument("--model", help="the run's model (default: from the run id)")
    report.add_argument(
        "--rebuild", action="store_true", help="build it now from the run's traces instead of fetching the stored one"
    )
    add_connection_arguments(report)
    report.set_defaults(func=cmd_report)


@handles_errors
def cmd_report(args: argparse.Namespace) -> int:
    ops = Driftline.from_args(args)
    if args.model:
        ops.require_model(args.model)
    model, _ = runinfo.find_run(ops, args.run_id, args.model)
    key = f"{model}/runs/{args.run_id}/report.html"
    uri = f"s3://{ops.stack.artifact_bucket}/{key}"
    html = None if args.rebuild else _fetch(ops, key)
    source = "stored"
    if html is None:
        html, source = build_here(ops, model, args.run_id), "built"
    written = _write(args.output, html)
    document = {
        "model": model,
        "run_id": args.run_id,
        "report_uri": uri,
        "source": source,
        "output": written,
        "bytes": len(html.encode()),
    }
    if args.json:
        fmt.print_json(document)
    elif written != "-":
        how = "fetched from" if source == "stored" else "built from the run's traces (none stored at"
        print(
            f"{written}: {args.run_id}'s report, {how} {uri}{')' if source == 'built' else ''}; open it in a "
            "browser (no network needed)",
            file=sys.stderr,
        )
    return 0


def _fetch(ops: Driftline, key: str) -> str | None:
    s3 = ops.client("s3")
    try:
        return str(s3.get_object(Bucket=ops.stack.artifact_bucket, Key=key)["Body"].read().decode("utf-8"))
    except s3.exceptions.NoSuchKey:
        return None


def _write(output: str, html: str) -> str:
    if output == "-":
        sys.stdout.write(html)
        return "-"
    path = Path(output)
    if not path.parent.is_dir():
        raise OpsError(f"cannot write {output}: no directory {path.parent}")
    path.write_text(html, encoding="utf-8")
    return str(path)


def build_here(ops: Driftline, model: str, run_id: str) -> str:
    """Render the report with this session, through the same code the run uses (the driftline layer).

    The layer reads its resources from the Lambda environment and makes its clients from the default
    session; point both at this stack for the duration of the call.
    """
    from driftline import aws
    from driftline.run_report import render_run_report
    from driftline.settings import settings

    stack = ops.stack
    environment = {
        "DATA_BUCKET": stack.data_bucket,
        "ARTIFACT_BUCKET": stack.artifact_bucket,
        "STATE_TABLE": stack.state_table,
        "ON_CALL_TOPIC_ARN": stack.topic_arn,
        "TRAINING_PIPELINE_ARN": stack.training_pipeline_arn,
        "CANARY_ROLLOUT_ARN": stack.canary_rollout_arn,
        "AWS_REGION": stack.region,
        "AWS_DEFAULT_REGION": stack.region,
    }
    if ops.endpoint_url:
        environment["AWS_ENDPOINT_URL"] = ops.endpoint_url
    if ops.session.profile_name and ops.session.profile_name != "default":
        environment["AWS_PROFILE"] = ops.session.profile_name
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    for cached in (settings, aws.client, aws._dynamodb):
        cached.cache_clear()
    try:
        return render_run_report(model, run_id)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for cached in (settings, aws.client, aws._dynamodb):
            cached.cache_clear()
