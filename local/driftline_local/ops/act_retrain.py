"""`driftline retrain MODEL [--reason TEXT]`: start a training run by hand, as an upload or a drift alarm does."""

from __future__ import annotations

import argparse
from typing import Any

from driftline_local.ops.act_common import add_act_arguments, handles_errors, run_operation


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retrain",
        help="start a training run of MODEL on everything in incoming/MODEL/",
        description="Start TrainingPipeline for MODEL (run <model>-manual-<time>) on every file in incoming/MODEL/, "
        "as an upload does; audited and announced on the on-call topic. The same command again within 2 minutes "
        "finds the first run. Exit status: 0 started (or already started), 1 refused (unknown model, model paused, "
        "a run already running), 253 no credentials or region, 255 other AWS errors.",
    )
    parser.add_argument("model", metavar="MODEL")
    add_act_arguments(parser)
    parser.set_defaults(func=cmd_retrain)


@handles_errors
def cmd_retrain(args: argparse.Namespace) -> int:
    from driftline.operations import retrain

    return run_operation(args, retrain, _describe, model=args.model, reason=args.reason)


def _describe(outcome: dict[str, Any]) -> str:
    if outcome.get("duplicate"):
        return f"Not started again: {outcome['message']}. Follow it: driftline run {outcome['run_id']}"
    return f"Started run {outcome['run_id']} of {outcome['model']}. Follow it: driftline run {outcome['run_id']}"
