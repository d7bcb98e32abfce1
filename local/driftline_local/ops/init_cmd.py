"""`driftline init MODEL --data sample.csv [--target y] [-o model.yaml]`: onboard a model in one step.

Reads a sample of the model's labelled data, infers the features (numeric or categorical, as the upload
check and jobs/preprocess.py decide: numeric when >= 95 % of present values parse) and the problem type
from the target, writes a commented model.yaml, validates it exactly as the config handler does
(`driftline.config.parse_model_config` with the folder's name, and the size cap), checks the sample as an
upload of it would be checked (`driftline.datasets.validate_csv`), and prints the two `aws s3 cp` lines that
onboard the model. The bucket comes from the stack's outputs when the stack can be reached; otherwise the
lines name a placeholder to replace.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

from driftline_local.ops.session import (
    DEFAULT_STACK_NAME,
    OpsError,
    add_connection_arguments,
    handles_errors,
)

# Column names that usually hold the label, in the order they are tried (case-insensitive).
COMMON_TARGETS = ("target", "label", "y", "class", "outcome", "labels", "churn", "churned", "is_fraud", "fraud")
BUCKET_PLACEHOLDER = "YOUR-DATA-BUCKET"  # replace with the stack's DataBucketName output
MAX_CLASSES_FOR_CLASSIFICATION = 20  # a numeric target with more distinct values is read as regression
_SAMPLE_BYTES_FOR_TYPES = 64 * 1024 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="write a commented model.yaml from a sample CSV and print the commands to onboard the model",
        usage="driftline init MODEL --data SAMPLE.csv [--target COLUMN] [-o model.yaml] [options]",
        description="Infer a model's features and problem type from a sample of its labelled data, write a "
        "commented model.yaml, validate it exactly as Driftline's config handler will, and print the two "
        "`aws s3 cp` commands that onboard the model (the data bucket comes from the stack's outputs when the "
        "stack is reachable). Exit status: 0 written, 1 bad data or config (nothing written), 2 bad usage.",
    )
    parser.add_argument("model", metavar="MODEL", help="the model's name (3-32 lowercase letters, digits and '-')")
    parser.add_argument("--data", required=True, metavar="SAMPLE.csv", help="a labelled CSV with a header row")
    parser.add_argument("--target", help=f"the label column (default: guessed from {', '.join(COMMON_TARGETS)})")
    parser.add_argument(
        "--problem-type",
        choices=["binary_classification", "multiclass_classification", "regression"],
        help="default: guessed from the target's values",
    )
    parser.add_argument("-o", "--output", default="model.yaml", help="where to write the config (default: model.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    add_connection_arguments(parser)
    parser.set_defaults(func=cmd_init)


@handles_errors
def cmd_init(args: argparse.Namespace) -> int:
    result = build_config(args.model, Path(args.data), target=args.target, problem_type=args.problem_type)
    output = Path(args.output)
    if output.exists() and not args.force:
        raise OpsError(f"{output} exists; pass --force to overwrite it or -o to write elsewhere")
    output.write_text(result["yaml"], encoding="utf-8")
    bucket, where = data_bucket(args)
    commands = onboarding_commands(args.model, output, Path(args.data), bucket, args.endpoint_url)
    if args.json:
        print(json.dumps(result["summary"] | {"output": str(output), "bucket": bucket, "commands": commands}))
        return 0
    summary = result["summary"]
    features = summary["features"]
    numeric = sum(1 for f in features if f["type"] == "numeric")
    print(
        f"Wrote {output}: model {args.model}, {summary['problem_type']} on target '{summary['target']}', "
        f"{len(features)} features ({numeric} numeric, {len(features) - numeric} categorical), "
        f"validated as Driftline's config handler will."
    )
    for note in summary["notes"]:
        print(f"note: {note}")
    print(f"\nOnboard it ({where}):")
    for command in commands:
        print(f"  {command}")
    return 0


def build_config(
    model: str, data: Path, *, target: str | None = None, problem_type: str | None = None
) -> dict[str, Any]:
    """The model.yaml text and what was inferred; OpsError (nothing written) for a bad name, CSV or config."""
    from driftline.config import MAX_CONFIG_BYTES, MODEL_NAME_PATTERN, ModelConfig, parse_model_config
    from driftline.datasets import validate_csv
    from driftline.errors import InvalidDataset, InvalidModelConfig

    if not MODEL_NAME_PATTERN.match(model):
        raise OpsError(
            f"'{model}' is not a valid model name: 3-32 lowercase letters, digits and '-', starting with a letter "
            "and not ending with '-'"
        )
    raw = _read(data)
    header = _header(raw, data)
    target = _target(header, target, data)
    labels = _target_values(raw, header.index(target))
    problem_type = problem_type or _problem_type(labels)
    notes: list[str] = []
    try:
        minimal = ModelConfig.model_validate({"name": model, "problem_type": problem_type, "target": target})
        report = validate_csv(iter([raw[:_SAMPLE_BYTES_FOR_TYPES]]), minimal)
    except InvalidDataset as problem:
        raise OpsError(f"{data}: {problem} (Driftline would quarantine this file)") from None
    features = [{"name": f.name, "type": f.type} for f in report.inferred_features(minimal)]
    if not features:
        raise OpsError(f"{data}: no feature columns besides the target '{target}'")
    if len(raw) > _SAMPLE_BYTES_FOR_TYPES:
        notes.append(f"types inferred from the first {_SAMPLE_BYTES_FOR_TYPES // 2**20} MiB of {data}")
    if problem_type == "binary_classification" and not set(report.labels) <= {"0", "1"}:
        notes.append(
            f"labels are {sorted(report.labels)}: set positive_class in {model}'s model.yaml to name the positive one"
        )
    text = render_yaml(model, problem_type, target, features, sorted(report.labels), data.name)
    try:
        if len(text.encode()) > MAX_CONFIG_BYTES:
            raise InvalidModelConfig(f"model.yaml would be {len(text.encode())} bytes; the limit is {MAX_CONFIG_BYTES}")
        parse_model_config(text, expected_name=model)
    except InvalidModelConfig as problem:
        raise OpsError(f"the model.yaml inferred from {data} would be rejected: {problem}") from None
    summary = {
        "model": model,
        "problem_type": problem_type,
        "target": target,
        "features": features,
        "rows": report.rows,
        "labels": sorted(report.labels)[:20],
        "notes": notes,
    }
    return {"yaml": text, "summary": summary}


def _read(data: Path) -> bytes:
    try:
        return data.read_bytes()
    except FileNotFoundError:
        raise OpsError(f"{data}: no such file") from None
    except IsADirectoryError:
        raise OpsError(f"{data} is a folder; pass one CSV file") from None


def _header(raw: bytes, data: Path) -> list[str]:
    try:
        first = raw.split(b"\n", 1)[0].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OpsError(f"{data}: the header is not UTF-8 text; save the file as UTF-8 CSV") from None
    try:
        header = next(csv.reader(io.StringIO(first)), [])
    except csv.Error as exc:
        raise OpsError(f"{data}: the header is not CSV ({exc})") from None
    header = [name.strip() for name in header]
    if len(header) < 2 or not all(header):
        raise OpsError(
            f"{data}: the first line must be a header naming every column (at least a feature and the "
            "target), separated by commas"
        )
    return header


def _target(header: list[str], given: str | None, data: Path) -> str:
    if given:
        if given not in header:
            raise OpsError(f"--target '{given}' is not a column of {data}; its columns are {', '.join(header)}")
        return given
    lowered = {name.lower(): name for name in header}
    for candidate in COMMON_TARGETS:
        if candidate in lowered:
            return lowered[candidate]
    raise OpsError(
        f"cannot tell which column of {data} is the label (none is called {', '.join(COMMON_TARGETS)}); "
        f"pass --target COLUMN (columns: {', '.join(header)})"
    )


def _target_values(raw: bytes, index: int) -> list[str]:
    text = raw[:_SAMPLE_BYTES_FOR_TYPES].decode("utf-8-sig", errors="replace")
    values = []
    try:
        for row in list(csv.reader(io.StringIO(text)))[1:]:
            if len(row) > index and row[index].strip().lower() not in {"", "na", "nan", "null", "none", "?"}:
                values.append(row[index].strip())
    except csv.Error:
        pass  # validate_csv names the line
    return values


def _problem_type(labels: list[str]) -> str:
    distinct = set(labels)
    numbers = [_number(v) for v in distinct]
    if distinct and all(n is not None for n in numbers):
        fractional = any(n != int(n) for n in numbers if n is not None)
        if fractional or len(distinct) > MAX_CLASSES_FOR_CLASSIFICATION:
            return "regression"
    return "binary_classification" if len(distinct) <= 2 else "multiclass_classification"


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _quoted(value: str) -> str:
    """A YAML scalar for a column name: plain when safe, else double-quoted JSON (valid YAML)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", value) and value.lower() not in {
        "yes",
        "no",
        "true",
        "false",
        "null",
        "on",
        "off",
        "y",
        "n",
    }:
        return value
    return json.dumps(value)


def render_yaml(
    model: str, problem_type: str, target: str, features: list[dict[str, str]], labels: list[str], source: str
) -> str:
    lines = [
        f"# Driftline model config for {model}, written by `driftline init` from {source}.",
        f"# Upload it to s3://<DataBucket>/models/{model}/model.yaml; every field is checked on upload and a",
        "# rejected config pages on-call with the field that is wrong. Only name, problem_type and target are",
        "# required; everything else below is optional (the defaults are shown commented out).",
        f"name: {model}",
        f"problem_type: {problem_type}  # binary_classification | multiclass_classification | regression",
        f"target: {_quoted(target)}  # the label column",
    ]
    if problem_type == "binary_classification" and labels and not set(labels) <= {"0", "1"}:
        lines.append(f"# positive_class: {_quoted(labels[-1])}  # which of {labels} is the positive class")
    lines += [
        "",
        "# Features in the order of the file. numeric: at least 95 % of the values are numbers; categorical:",
        "# anything else. Once a model has data, every upload must have these columns (extra ones are refused;",
        "# list them in drop_columns to keep them out of training).",
        "features:",
    ]
    lines += [f"  - {{name: {_quoted(f['name'])}, type: {f['type']}}}" for f in features]
    lines += [
        "# drop_columns: []  # columns in the files that are not features (ids, timestamps)",
        "",
        "# training:",
        "#   instance_type: ml.m5.large",
        "#   use_spot: true             # managed spot with checkpoints; falls back to on-demand",
        "#   start_on_upload: true      # false: uploads are kept and runs start on drift or `driftline retrain`",
        "# gate:",
        "#   min_improvement_over_baseline: 0.05   # a first model must beat the trivial baseline by this",
        "#   max_regression_vs_production: 0.0     # a later model may be at most this much worse",
        "# deployment:",
        "#   traffic_steps_percent: [10, 50, 100]",
        "#   bake_seconds: 300",
        "#   max_latency_ms: 1000",
        "#   max_error_rate: 0.01",
        "# monitoring:",
        "#   schedule: rate(1 hour)",
        "#   drift_threshold: 0.2       # PSI above this marks a feature drifted",
        "#   retrain_cooldown_seconds: 21600",
        "",
    ]
    return "\n".join(lines)


def data_bucket(args: argparse.Namespace) -> tuple[str, str]:
    """The stack's DataBucketName when the stack answers quickly; else a placeholder, and why."""
    import boto3
    from botocore.config import Config

    stack = getattr(args, "stack_name", None) or DEFAULT_STACK_NAME
    try:
        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        client = session.client(
            "cloudformation",
            endpoint_url=args.endpoint_url,
            config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 1}),
        )
        described = client.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        bucket = outputs["DataBucketName"]
    except Exception as exc:  # no credentials, no region, no stack, no network: the lines still help
        reason = type(exc).__name__ if not str(exc) else str(exc).splitlines()[0]
        return BUCKET_PLACEHOLDER, (
            f"stack '{stack}' not reachable ({reason[:160]}): replace {BUCKET_PLACEHOLDER} with the stack's "
            "DataBucketName output"
        )
    return bucket, f"bucket from stack '{stack}' in {client.meta.region_name}"


def onboarding_commands(model: str, config: Path, data: Path, bucket: str, endpoint_url: str | None) -> list[str]:
    """The config first (the upload check needs it), then the data; quoted for a POSIX shell."""
    extra = f" --endpoint-url {shlex.quote(endpoint_url)}" if endpoint_url else ""

    def s3(key: str) -> str:
        return shlex.quote(f"s3://{bucket}/{key}")

    return [
        f"aws s3 cp {shlex.quote(str(config))} {s3(f'models/{model}/model.yaml')}{extra}",
        f"aws s3 cp {shlex.quote(str(data))} {s3(f'incoming/{model}/{data.name}')}{extra}",
    ]
