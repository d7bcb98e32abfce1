"""`driftline promote MODEL VERSION`: roll an approved registered version out through CanaryRollout."""

from __future__ import annotations

import argparse
import time
from typing import Any

from driftline_local.ops import format as fmt
from driftline_local.ops.act_common import add_act_arguments, bind_layer, handles_errors, progress
from driftline_local.ops.session import Driftline, OpsError

POLL_SECONDS = 2.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "promote",
        help="roll an Approved registered VERSION of MODEL out through the canary rollout",
        description="Start CanaryRollout for VERSION (the model package version number, or its run id) with the "
        "input the pipeline gives it: canary traffic steps, alarms, automatic rollback. VERSION must be Approved in "
        "the model registry and not have served before (for that, `driftline rollback MODEL --to VERSION`). "
        "Exit status: 0 started (with --wait: promoted), 1 refused (unknown model or version, not approved, "
        "model paused, another rollout running; with --wait: rolled back), 253 no credentials, 255 AWS errors.",
    )
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("version", metavar="VERSION")
    parser.add_argument("--wait", action="store_true", help="wait for the rollout's end; exit 1 if it rolled back")
    add_act_arguments(parser)
    parser.set_defaults(func=cmd_promote)


@handles_errors
def cmd_promote(args: argparse.Namespace) -> int:
    from driftline.errors import DriftlineError
    from driftline.operations import promote

    ops = Driftline.from_args(args)
    who = bind_layer(ops)
    try:
        outcome = promote(args.model, args.version, who=who, reason=args.reason)
    except DriftlineError as exc:
        raise OpsError(f"{exc} ({type(exc).__name__})") from exc
    if not args.json:
        if outcome.get("duplicate"):
            print(f"Not started again: {outcome['message']}.")
        else:
            print(
                f"Rolling out version {outcome['version']} (run {outcome['run_id']}) of {outcome['model']}: "
                f"rollout {outcome['execution']}. Follow it: driftline status {outcome['model']}"
            )
    if args.wait and outcome.get("execution_arn"):
        ended = _wait(ops, outcome["execution_arn"], progress(args))
        outcome["rollout"] = ended
        if not args.json:
            print(
                f"Rollout {ended['status']}"
                + (f": {ended['error']} {ended.get('cause') or ''}".rstrip() if ended.get("error") else "")
            )
    if args.json:
        fmt.print_json(outcome)
    return 0 if not args.wait or (outcome.get("rollout") or {}).get("status") in (None, "SUCCEEDED") else 1


def _wait(ops: Driftline, execution_arn: str, say: Any) -> dict[str, Any]:
    sfn = ops.client("stepfunctions")
    shown = None
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return {"status": described["status"], "error": described.get("error"), "cause": described.get("cause")}
        events = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=20)["events"]
        step = next((e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e), None)
        if step and step != shown:
            say(step)
            shown = step
        time.sleep(POLL_SECONDS)
