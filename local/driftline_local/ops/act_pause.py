"""`driftline pause MODEL [--reason TEXT]` / `driftline resume MODEL`: stop and restart Driftline's own actions."""

from __future__ import annotations

import argparse
from typing import Any

from driftline_local.ops.act_common import add_act_arguments, handles_errors, run_operation

EXIT_HELP = "Exit status: 0 done (or nothing to change), 1 unknown model, 253 no credentials or region, 255 AWS errors."


def register(subparsers: Any) -> None:
    pause = subparsers.add_parser(
        "pause",
        help="no automatic retrains or rollouts of MODEL until `driftline resume`",
        description="Pause MODEL: drift alarms page but do not retrain, uploads stay in incoming/ without starting a "
        "run (the first one pages), a run that finishes is not rolled out (its candidate stays registered and "
        "approved for `driftline promote`); retrain and promote are refused. The reason is shown in "
        "`driftline status` and in pages. A running rollout is not stopped. " + EXIT_HELP,
    )
    pause.add_argument("model", metavar="MODEL")
    add_act_arguments(pause)
    pause.set_defaults(func=cmd_pause)

    resume = subparsers.add_parser(
        "resume",
        help="end MODEL's pause: automatic retrains and rollouts again",
        description="End MODEL's pause. Files uploaded while paused started no run: `driftline retrain MODEL` "
        "trains on them. " + EXIT_HELP,
    )
    resume.add_argument("model", metavar="MODEL")
    add_act_arguments(resume)
    resume.set_defaults(func=cmd_resume)


@handles_errors
def cmd_pause(args: argparse.Namespace) -> int:
    from driftline.operations import pause

    return run_operation(args, pause, _describe_pause, model=args.model, reason=args.reason)


@handles_errors
def cmd_resume(args: argparse.Namespace) -> int:
    from driftline.operations import resume

    return run_operation(args, resume, _describe_resume, model=args.model, reason=args.reason)


def _describe_pause(outcome: dict[str, Any]) -> str:
    if not outcome["changed"]:
        return f"{outcome['model']}: {outcome['message']}"
    lines = [
        f"Paused {outcome['model']}: no automatic retrains or rollouts until `driftline resume {outcome['model']}`."
    ]
    if outcome.get("running_run"):
        lines.append(f"Run {outcome['running_run']} keeps running; its rollout will be held.")
    if outcome.get("rollout"):
        lines.append(f"Rollout {outcome['rollout']} keeps running (pause does not stop it; it rolls back on alarms).")
    return "\n".join(lines)


def _describe_resume(outcome: dict[str, Any]) -> str:
    if not outcome["changed"]:
        return f"{outcome['model']}: {outcome['message']}; nothing changed."
    lines = [f"Resumed {outcome['model']}: automatic retrains and rollouts again."]
    if outcome.get("uploads_kept"):
        lines.append(
            f"{outcome['uploads_kept']} upload(s) arrived while paused: `driftline retrain {outcome['model']}`"
            " trains on them."
        )
    if outcome.get("rollouts_held"):
        lines.append(
            f"{outcome['rollouts_held']} candidate(s) were held: `driftline promote {outcome['model']} "
            "VERSION` rolls one out."
        )
    return "\n".join(lines)
