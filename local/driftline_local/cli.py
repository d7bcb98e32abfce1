"""The `driftline` command.

One function per subcommand (`cmd_<name>`). Subcommands defined here are added by a `_add_<name>(subparsers)` that
sets `func=`; those in their own module (local/driftline_local/ops/*.py) expose `register(subparsers)` and are listed,
one line each, in `COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from driftline_local.context import REGION, REPO_ROOT
from driftline_local.control import DEFAULT_ENDPOINT_URL

STACK_NAME = "driftline"
DEFAULT_ONCALL_EMAIL = "oncall@example.com"

# Modules that add subcommands: each exposes `register(subparsers)`. Add one line per module; imported lazily
# (only when the parser is built), so keep heavy imports inside the command functions.
COMMAND_MODULES: tuple[str, ...] = (
    # one "driftline_local.ops.<module>", line per module
    "driftline_local.ops.status",
    "driftline_local.ops.runs",
    "driftline_local.ops.quarantine",
    "driftline_local.ops.watch",
    "driftline_local.ops.report_cmd",
    "driftline_local.ops.init_cmd",
    "driftline_local.ops.act_commands",
)


# --- driftline local up ---------------------------------------------------------------------------
def cmd_local_up(args: argparse.Namespace) -> int:
    from driftline_local.cloud import LocalCloud

    workdir = Path(args.workdir) if args.workdir else REPO_ROOT / ".local-cloud"
    cloud = LocalCloud(port=args.port, workdir=workdir, time_scale=args.time_scale)

    def stop(signum: int, frame: Any) -> None:
        cloud.ctx.stop_event.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    cloud.start()
    try:
        print(f"Local cloud: {cloud.endpoint_url}  (workdir {cloud.workdir}, time x{args.time_scale:g})")
        if not args.no_deploy:
            deployed = deploy_local_stack(cloud, Path(args.template), args.oncall_email)
            for warning in deployed.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            print("Stack outputs:")
            for key, value in sorted(deployed.outputs.items()):
                print(f"  {key} = {value}")
        print(f"Mailbox (SNS email): {cloud.ctx.mailbox_path}")
        print(f"Use it: export AWS_ENDPOINT_URL={cloud.endpoint_url} AWS_DEFAULT_REGION={cloud.ctx.region}")
        print("Serving until Ctrl-C.", flush=True)
        cloud.wait()
    finally:
        cloud.stop()
    return 0


def deploy_local_stack(cloud: Any, template: Path, oncall_email: str = DEFAULT_ONCALL_EMAIL) -> Any:
    """Deploy `template` as stack `driftline` on `cloud` and publish the job code (what `up` does)."""
    import boto3

    from driftline_local.images import resolve_image_uris_in_child
    from driftline_local.publish import publish_jobs

    parameters = {**resolve_image_uris_in_child(cloud.ctx.region), "OnCallEmail": oncall_email}
    deployed = cloud.deploy(template, STACK_NAME, parameters)
    bucket = deployed.outputs.get("ArtifactBucketName")
    jobs_dir = template.resolve().parent / "jobs"
    if bucket and jobs_dir.is_dir():
        s3 = boto3.client(
            "s3",
            endpoint_url=cloud.endpoint_url,
            region_name=cloud.ctx.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        publish_jobs(s3, bucket, jobs_dir)
    return deployed


def _add_local(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="the local cloud")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser("up", help="start the local cloud, deploy the stack, serve until Ctrl-C")
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--time-scale", type=float, default=1.0, help="cloud seconds per real second")
    up.add_argument("--workdir", help="where sandboxes, logs and the mailbox go (default .local-cloud/)")
    up.add_argument("--no-deploy", action="store_true", help="start the services only")
    up.add_argument("--template", default=str(REPO_ROOT / "template.yaml"))
    up.add_argument("--oncall-email", default=DEFAULT_ONCALL_EMAIL)
    up.set_defaults(func=cmd_local_up)

    interrupt = local_sub.add_parser(
        "interrupt",
        help="reclaim a running spot training job's instance, as managed spot does",
        description="Spot-interrupt a training job on a running local cloud. "
        "Exit status: 0 done, 1 refused (unknown or finished job), 2 no local cloud.",
    )
    interrupt.add_argument("training_job_name", metavar="TRAINING_JOB_NAME")
    interrupt.add_argument(
        "--notice-seconds", type=float, default=2.0, help="SIGTERM now, SIGKILL this much later (default 2)"
    )
    interrupt.add_argument(
        "--outcome",
        choices=["resume", "max_wait_exceeded", "capacity_error"],
        default="max_wait_exceeded",
        help="what follows: capacity returns and the job resumes, MaxWaitTimeInSeconds runs out, or a "
        "CapacityError (default max_wait_exceeded)",
    )
    interrupt.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT_URL, help="the running local cloud")
    interrupt.set_defaults(func=cmd_local_interrupt)

    fault = local_sub.add_parser(
        "fault",
        help="make an endpoint variant fail a share of its invocations and/or answer slower",
        description="Set (replacing any earlier one) or --clear the fault of an endpoint variant on a running "
        "local cloud; it lasts until cleared or the endpoint is deleted. "
        "Exit status: 0 done, 1 refused (unknown endpoint or variant, bad value), 2 no local cloud.",
    )
    fault.add_argument("endpoint", metavar="ENDPOINT")
    fault.add_argument("variant", metavar="VARIANT")
    fault.add_argument("--error-rate", type=float, help="share of invocations that fail with a model error, 0..1")
    fault.add_argument("--latency-ms", type=float, help="milliseconds added to every invocation")
    fault.add_argument("--clear", action="store_true", help="remove the variant's fault")
    fault.add_argument("--endpoint-url", default=DEFAULT_ENDPOINT_URL, help="the running local cloud")
    fault.set_defaults(func=cmd_local_fault)


# --- driftline local interrupt / fault (act on a running local cloud) -------------------------------
def _control(endpoint_url: str, action: str, payload: dict[str, Any]) -> Any:
    from driftline_local.control import call

    return call(endpoint_url, action, payload)


def _run_control(endpoint_url: str, action: str, payload: dict[str, Any]) -> tuple[int, Any]:
    """(exit code, result); a refused action or an unreachable cloud is reported on stderr."""
    from driftline_local.control import ControlActionFailed, LocalCloudNotRunning

    try:
        return 0, _control(endpoint_url, action, payload)
    except LocalCloudNotRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, None
    except ControlActionFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1, None


def cmd_local_interrupt(args: argparse.Namespace) -> int:
    payload = {"name": args.training_job_name, "notice_seconds": args.notice_seconds, "outcome": args.outcome}
    code, result = _run_control(args.endpoint_url, "interrupt_training_job", payload)
    if code == 0:
        print(
            f"Interrupted training job {result['training_job']}: SIGTERM now, SIGKILL in "
            f"{result['notice_seconds']:g}s; outcome {result['outcome']}."
        )
    return code


def cmd_local_fault(args: argparse.Namespace) -> int:
    target = {"endpoint": args.endpoint, "variant": args.variant}
    if args.clear:
        if args.error_rate is not None or args.latency_ms is not None:
            print("error: --clear takes no --error-rate or --latency-ms", file=sys.stderr)
            return 2
        code, result = _run_control(args.endpoint_url, "clear_endpoint_fault", target)
        if code == 0:
            print(f"Cleared the fault on {args.endpoint}/{args.variant}.")
        return code
    if args.error_rate is None and args.latency_ms is None:
        print("error: give --error-rate and/or --latency-ms (or --clear)", file=sys.stderr)
        return 2
    payload = {**target, "error_rate": args.error_rate or 0.0, "latency_ms": args.latency_ms or 0.0}
    code, result = _run_control(args.endpoint_url, "set_endpoint_fault", payload)
    if code == 0:
        print(
            f"{args.endpoint}/{args.variant}: {result['error_rate']:.0%} of invocations fail, "
            f"+{result['latency_ms']:g} ms each (until `driftline local fault {args.endpoint} {args.variant} --clear`)."
        )
    return code


# --- driftline publish-jobs -----------------------------------------------------------------------
def cmd_publish_jobs(args: argparse.Namespace) -> int:
    import boto3

    from driftline_local.publish import publish_jobs

    s3 = boto3.client("s3", endpoint_url=args.endpoint_url) if args.endpoint_url else boto3.client("s3")
    for uri in publish_jobs(s3, args.bucket, Path(args.jobs_dir)):
        print(uri)
    return 0


def _add_publish_jobs(subparsers: Any) -> None:
    publish = subparsers.add_parser("publish-jobs", help="upload jobs/ to the ArtifactBucket")
    publish.add_argument("--bucket", required=True, help="the stack's ArtifactBucketName")
    publish.add_argument("--endpoint-url", help="e.g. the local cloud's URL")
    publish.add_argument("--jobs-dir", default=str(REPO_ROOT / "jobs"))
    publish.set_defaults(func=cmd_publish_jobs)


# --- driftline images -----------------------------------------------------------------------------
def cmd_images(args: argparse.Namespace) -> int:
    from driftline_local.images import resolve_image_uris

    uris = resolve_image_uris(args.region)
    if args.format == "overrides":
        print(" ".join(f"{k}={v}" for k, v in uris.items()))
    else:
        print(json.dumps(uris, indent=2))
    return 0


def _add_images(subparsers: Any) -> None:
    images = subparsers.add_parser("images", help="the stack's container image parameters, offline")
    images.add_argument("--region", default=REGION)
    images.add_argument("--format", choices=["json", "overrides"], default="json")
    images.set_defaults(func=cmd_images)


# --- driftline demo -------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from driftline_local.demo import run_demo

    return run_demo(rows=args.rows, files=args.files)


def _add_demo(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="run the whole loop on a fresh local cloud with sample data")
    demo.add_argument("--rows", type=int, default=6000)
    demo.add_argument("--files", type=int, default=3, help="uploaded as a burst: one run trains on all")
    demo.set_defaults(func=cmd_demo)


# --- entry point ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in (_add_local, _add_publish_jobs, _add_images, _add_demo):
        add(subparsers)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
