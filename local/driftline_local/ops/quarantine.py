"""`driftline quarantine MODEL` and `driftline quarantine release KEY`.

A rejected upload sits at `quarantine/<model>/<time>-<id>/<name>` in the data bucket with its reason
beside it in `<key>.reason.json` (layers/common/driftline/uploads.py). Releasing copies the file (or a fixed
local copy of it) back under `incoming/<model>/`, which is a new upload: it is checked again and starts or
joins a run. The quarantined original stays; its reason file records the release.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline_local.ops import format as fmt
from driftline_local.ops.session import ERRORS_HELP, Driftline, OpsError, add_connection_arguments, handles_errors

PREFIX = "quarantine/"
REASON_SUFFIX = ".reason.json"
UNKNOWN_MODEL_FOLDER = "_unknown-model"  # where uploads outside incoming/<model>/ go (uploads.quarantine_key)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quarantine",
        help="list a model's quarantined uploads with their reasons, or release one back into incoming/",
        usage="driftline quarantine [list] MODEL [options]\n       driftline quarantine release KEY [options]",
        description="`driftline quarantine MODEL` lists the model's rejected uploads with the reason each was "
        "rejected (`_unknown-model` lists uploads that named no model). `driftline quarantine release KEY` "
        "copies a quarantined file back to incoming/<model>/<name> (or uploads a fixed copy with --file): a new "
        "upload, checked again. The quarantined original is kept and marked released. Exit status: 0 done, "
        "1 unknown model, file or stack (or already released), " + ERRORS_HELP,
    )
    parser.add_argument("words", nargs="+", metavar="MODEL | release KEY", help=argparse.SUPPRESS)
    parser.add_argument("--file", help="release: upload this fixed local file instead of the quarantined bytes")
    parser.add_argument(
        "--to", help="release: the key under incoming/, batch/ or labels/ to upload to (default: where it came from)"
    )
    parser.add_argument("--force", action="store_true", help="release again, or over an existing file")
    parser.add_argument("--all", action="store_true", help="list: include files already released")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_quarantine)


@handles_errors
def cmd_quarantine(args: argparse.Namespace) -> int:
    words = list(args.words)
    if words[0] == "release":
        if len(words) != 2:
            raise OpsError("usage: driftline quarantine release KEY (one quarantined key, as listed)")
        return release(args, words[1])
    if words[0] == "list":
        words = words[1:]
    if len(words) != 1:
        raise OpsError("usage: driftline quarantine [list] MODEL  |  driftline quarantine release KEY")
    return show(args, words[0])


def list_quarantined(ops: Driftline, model: str) -> list[dict[str, Any]]:
    """The model's quarantined files, oldest first, each with its recorded reason (and release, if any)."""
    s3 = ops.client("s3")
    bucket = ops.stack.data_bucket
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}{model}/"):
        keys |= {obj["Key"] for obj in page.get("Contents", [])}
    files = []
    for key in sorted(k for k in keys if not k.endswith(REASON_SUFFIX)):
        record = _reason(ops, key) if f"{key}{REASON_SUFFIX}" in keys else {}
        files.append({"key": key, "uri": f"s3://{bucket}/{key}", **_summary(record)})
    return files


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    fields = (
        "original_key",
        "rule",
        "reason",
        "line",
        "column",
        "quarantined_at",
        "released_at",
        "released_to",
        "released_by",
    )
    return {name: record.get(name) for name in fields}


def _reason(ops: Driftline, key: str) -> dict[str, Any]:
    body = ops.client("s3").get_object(Bucket=ops.stack.data_bucket, Key=f"{key}{REASON_SUFFIX}")["Body"].read()
    try:
        return dict(json.loads(body))
    except ValueError:
        return {"reason": "(the reason file does not parse)"}


def show(args: argparse.Namespace, model: str) -> int:
    ops = Driftline.from_args(args)
    if model != UNKNOWN_MODEL_FOLDER:
        ops.require_model(model)
    files = [f for f in list_quarantined(ops, model) if args.all or not f.get("released_at")]
    if args.json:
        fmt.print_json({"model": model, "bucket": ops.stack.data_bucket, "files": files})
        return 0
    out = fmt.console()
    if not files:
        out.print(f"No quarantined files for {fmt.escape(model)}" + ("." if args.all else " (waiting for release)."))
        return 0
    for item in files:
        released = (
            f"  [green]released {fmt.stamp(item['released_at'])} to {fmt.escape(str(item['released_to']))}[/green]"
        )
        out.print(f"[bold]{fmt.escape(item['key'])}[/bold]" + (released if item.get("released_at") else ""))
        where = f" (line {item['line']}" + (f", column {item['column']}" if item.get("column") else "") + ")"
        out.print(
            f"  uploaded as {fmt.escape(str(item.get('original_key') or '-'))}, quarantined "
            f"{fmt.stamp(item.get('quarantined_at'))}, rule {fmt.escape(str(item.get('rule') or '-'))}"
            + (where if item.get("line") else "")
        )
        out.print(f"  why: {fmt.escape(str(item.get('reason') or '(no reason recorded)'))}")
    out.print(f"\nFix the data, then: driftline quarantine release KEY [--file fixed.csv]  ({len(files)} file(s))")
    return 0


def release(args: argparse.Namespace, key: str) -> int:
    ops = Driftline.from_args(args)
    bucket = ops.stack.data_bucket
    key = key.removeprefix(f"s3://{bucket}/")
    if not key.startswith(PREFIX) or key.endswith(REASON_SUFFIX) or key.count("/") < 3:
        raise OpsError(
            f"'{key}' is not a quarantined file: give a key as `driftline quarantine MODEL` lists it "
            f"(quarantine/<model>/<time>-<id>/<name>)"
        )
    s3 = ops.client("s3")
    if not _exists(s3, bucket, key):
        raise OpsError(f"no quarantined file s3://{bucket}/{key}: list them with `driftline quarantine MODEL`")
    record = _reason(ops, key) if _exists(s3, bucket, f"{key}{REASON_SUFFIX}") else {}
    if record.get("released_at") and not args.force:
        raise OpsError(
            f"{key} was already released {record['released_at']} to {record.get('released_to')}; "
            "pass --force to release it again"
        )
    target = _target(ops, key, record, args.to)
    if _exists(s3, bucket, target) and not args.force:
        raise OpsError(
            f"s3://{bucket}/{target} exists (a newer upload?): pass --to incoming/<model>/<new name>.csv, "
            "or --force to overwrite it"
        )
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise OpsError(f"--file {args.file}: no such file")
        s3.upload_file(str(path), bucket, target)
    else:
        s3.copy({"Bucket": bucket, "Key": key}, bucket, target)
    who = _caller(ops)
    record |= {
        "released_at": datetime.now(UTC).isoformat(),
        "released_to": target,
        "released_by": who,
        "released_from_file": path.name if args.file else None,
    }
    s3.put_object(
        Bucket=bucket,
        Key=f"{key}{REASON_SUFFIX}",
        Body=json.dumps(record, indent=2).encode(),
        ContentType="application/json",
    )
    result = {"released": key, "to": f"s3://{bucket}/{target}", "by": who, "fixed_file": args.file}
    if args.json:
        fmt.print_json(result)
    else:
        source = f"{args.file} (fixed copy)" if args.file else "the quarantined file"
        print(
            f"Released {key}: uploaded {source} to s3://{bucket}/{target}; it will be checked again as a new "
            f"upload. Follow it with `driftline status {target.split('/')[1]}`."
        )
    return 0


# Where a quarantined file may go back to: training data, batch predictions, delayed labels. Each is checked
# again by its own handler when it lands.
RELEASE_FOLDERS = ("incoming", "batch", "labels")


def _target(ops: Driftline, key: str, record: dict[str, Any], to: str | None) -> str:
    model = key.split("/")[1]
    if to:
        target = to.removeprefix(f"s3://{ops.stack.data_bucket}/")
        if target.split("/", 1)[0] not in RELEASE_FOLDERS or target.count("/") < 2:
            raise OpsError(f"--to {to}: files go to incoming/, batch/ or labels/<model>/<name>.csv")
        return target
    if model == UNKNOWN_MODEL_FOLDER:
        raise OpsError(
            f"{key} was uploaded outside incoming/<model>/ (as {record.get('original_key')}): pass "
            "--to incoming/<model>/<name>.csv"
        )
    original = str(record.get("original_key") or "")
    if any(original.startswith(f"{folder}/{model}/") for folder in RELEASE_FOLDERS):
        return original  # back where it was dropped: a batch file is not training data
    return f"incoming/{model}/{key.rsplit('/', 1)[-1]}"


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def _caller(ops: Driftline) -> str | None:
    try:
        return str(ops.client("sts").get_caller_identity()["Arn"])
    except Exception:  # the release is done; who did it is a courtesy of the audit line
        return None
