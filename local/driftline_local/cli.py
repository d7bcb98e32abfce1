"""The `driftline` command.

One function per subcommand (`cmd_<name>`), registered in `build_parser`; to add a subcommand, add a
`_add_<name>(subparsers)` that sets `func=`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from driftline_local.context import REGION, REPO_ROOT

STACK_NAME = "driftline"
DEFAULT_ONCALL_EMAIL = "oncall@example.com"


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

    from driftline_local.images import resolve_image_uris
    from driftline_local.publish import publish_jobs

    parameters = {**resolve_image_uris(cloud.ctx.region), "OnCallEmail": oncall_email}
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
