"""`driftline rollback MODEL [--to VERSION]`: put an earlier deployed version back, through the rollout's rollback."""

from __future__ import annotations

import argparse
from typing import Any

from driftline_local.ops.act_common import add_act_arguments, handles_errors, progress, run_operation


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="put MODEL's previous deployed version (or --to VERSION) back on its endpoint",
        description="Roll MODEL back to the version that served before the current one (or --to VERSION, a "
        "registered version that served production), through CanaryRollout's own rollback step: the endpoint goes "
        "back to that version's endpoint config (it keeps serving throughout), the production record and alarms "
        "follow, the withdrawn version's model package is marked Rejected; audited and paged. Waits until the "
        "endpoint serves it; if interrupted, run the same command again to finish. Exit status: 0 rolled back, "
        "1 refused (unknown model or version, nothing earlier, a rollout running), 253 no credentials, "
        "255 AWS errors.",
    )
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--to", metavar="VERSION", help="model package version number (or run id) to return to")
    add_act_arguments(parser)
    parser.set_defaults(func=cmd_rollback)


@handles_errors
def cmd_rollback(args: argparse.Namespace) -> int:
    from driftline.operations import rollback

    return run_operation(
        args, rollback, _describe, model=args.model, to=args.to, reason=args.reason, progress=progress(args)
    )


def _describe(outcome: dict[str, Any]) -> str:
    if outcome.get("duplicate"):
        return f"Already done: {outcome['message']}."
    replaced = (
        f"version {outcome['replaced_version']}" if outcome.get("replaced_version") else outcome["replaced_run_id"]
    )
    return (
        f"Rolled {outcome['model']} back from {replaced} to version {outcome['version']} (run {outcome['run_id']}):"
        f" endpoint config {outcome['endpoint_config']}, variant {outcome['variant']} takes all traffic."
    )
