"""Cold initialisation of every handler in a fresh interpreter, beside a bare boto3 handler.

Cold init = importing the handler module (and the layer), which creates the handler's AWS clients
(`aws.prepare(...)` in its app.py): what a Lambda cold start pays before the first event. The
baseline is a bare boto3 handler that creates the same clients, so the ratio is what Driftline's own
code and libraries add. Baseline and handler runs alternate, so a slow moment on a busy machine
hits both sides: the ratio is the median of the ratios of adjacent runs (this machine's speed drifts
by ±20 % within a minute, far more than the differences measured).

Init + first event (handlers with a sample event in events/): after init, the handler gets its sample event
with every AWS call answered at once by a stub 403 (botocore `before-send`, no network), so it runs its own
code (event parsing and validation, logging, metrics) up to the first AWS answer and fails there; the
baseline after its init parses the same event's JSON and makes one call on each of its clients, each
answered by the same stub. What this leaves out on both sides is the AWS round trips themselves.

The layer as deployed: the handler and the CommonLayer run from a copy in a temporary folder, the layer holding
driftline and its requirements (layers/common/requirements.txt and what they require: pydantic, pydantic-core,
powertools, PyYAML, ...) copied from this venv; boto3 comes from the venv (on AWS: the Lambda runtime). Two forms:
- `sam-build`: no bytecode in the layer or the function, as `sam build` ships them (aws-lambda-builders 1.67,
  python_pip workflow: the source copy excludes `*.pyc` and `__pycache__`; requirements are installed by unpacking
  wheels, which writes no .pyc). /opt and /var/task are read-only on Lambda, so Python compiles every module of
  the layer at every cold start.
- `compiled`: the same files compiled ahead (unchecked-hash .pyc), what a layer build that compiles would ship.
The bare baseline's boto3 has its install-time .pyc in both forms. PYTHONDONTWRITEBYTECODE=1 keeps the copies as
they are.

Run: `.venv/bin/python bench/cold_start.py [--quick] [--json PATH]` (--quick: 7 runs per figure, not 15).
"""

from __future__ import annotations

import argparse
import ast
import compileall
import importlib.metadata
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from figures import Figures, add_json_argument, refuse
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
AIM = 1.25
ENV = os.environ | {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "DATA_BUCKET": "d",
    "ARTIFACT_BUCKET": "a",
    "STATE_TABLE": "t",
    "ON_CALL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
    "PYTHONPATH": str(REPO / "layers" / "common"),
    "POWERTOOLS_METRICS_NAMESPACE": "Driftline",
    "POWERTOOLS_SERVICE_NAME": "driftline",
    "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as template.yaml's Globals set it
    "PYTHONDONTWRITEBYTECODE": "1",
}
# One sample event per trigger (events/), for the handlers it triggers.
SAMPLE_EVENTS = {
    "on_alarm": "alarm_drift.json",
    "on_config_uploaded": "config_uploaded.json",
    "on_data_uploaded": "data_uploaded.json",
    "on_monitoring_completed": "monitoring_job_completed.json",
    "on_training_state_change": "training_job_completed.json",
}
# The bare handler's first event: one call on each client, as cheap as each service has.
FIRST_CALLS = {
    "dynamodb": 'lambda c: c.get_item(Key={"pk": "x", "sk": "x"})',
    "s3": 'lambda c: c.get_object(Bucket="d", Key="k")',
    "sns": 'lambda c: c.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t", Message="m")',
    "stepfunctions": 'lambda c: c.start_execution(stateMachineArn="arn:aws:states:us-east-1:123456789012:'
    'stateMachine:s", input="{}")',
    "sagemaker": 'lambda c: c.describe_training_job(TrainingJobName="j")',
    "cloudwatch": 'lambda c: c.put_metric_data(Namespace="n", MetricData=[{"MetricName": "m", "Value": 1.0}])',
    "events": 'lambda c: c.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])',
    "dynamodb:client": 'lambda c: c.get_item(TableName="t", Key={"pk": {"S": "x"}})',
}
STUB = """
from botocore.awsrequest import AWSResponse
class _Raw:
    def stream(self, **kwargs):
        yield b""
def _refuse(request, **kwargs):
    return AWSResponse(request.url, 403, dict(), _Raw())
"""
TIMER = """
import time
class Timer:
    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
    def read(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu
"""
BARE = (
    TIMER
    + """
timer = Timer()
import boto3
clients = {{}}
for service in {services!r}:
    if service == "dynamodb":
        clients[service] = boto3.resource("dynamodb").Table("t")
    else:
        clients[service] = boto3.client(service.removesuffix(":client"))
result = dict(zip(("init", "init_cpu"), timer.read()))
if {event!r}:
"""
    + "\n".join("    " + line for line in STUB.strip().splitlines())
    + """
    import json
    from pathlib import Path
    calls = {calls}
    for service, c in clients.items():
        (c.meta.client if service == "dynamodb" else c).meta.events.register("before-send", _refuse)
    timer = Timer()
    json.loads(Path({event!r}).read_text())
    for service, c in clients.items():
        try:
            calls[service](c)
        except Exception:
            pass
    result |= dict(zip(("first", "first_cpu"), timer.read()))
import json
print(json.dumps(result))
"""
)
HANDLER = (
    TIMER
    + """
import sys
timer = Timer()
sys.path.insert(0, {path!r})
import app
result = dict(zip(("init", "init_cpu"), timer.read()))
import driftline, pydantic, aws_lambda_powertools
for module in (driftline, pydantic, aws_lambda_powertools):  # the copy measured, not the checkout or the venv
    assert module.__file__.startswith({layer!r}), module.__file__
if {event!r}:
"""
    + "\n".join("    " + line for line in STUB.strip().splitlines())
    + """
    import json, types
    from pathlib import Path
    from driftline import aws
    for service in {services!r}:
        if service == "dynamodb":
            client = aws._dynamodb().meta.client
        else:
            client = aws.client(service.removesuffix(":client"))
        client.meta.events.register("before-send", _refuse)
    context = types.SimpleNamespace(function_name="f", memory_limit_in_mb=256, aws_request_id="r",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f", function_version="$LATEST",
        get_remaining_time_in_millis=lambda: 60000)
    event = json.loads(Path({event!r}).read_text())
    timer = Timer()
    try:
        app.lambda_handler(event, context)
        result["outcome"] = "returned"
    except Exception as exc:
        result["outcome"] = type(exc).__name__
    result |= dict(zip(("first", "first_cpu"), timer.read()))
import json
print(json.dumps(result))
"""
)


def prepared_services(app: Path) -> tuple[str, ...]:
    """The clients a handler creates at init: its `aws.prepare(...)` arguments ("dynamodb": the table resource)
    and any module-level `aws.client("x")` ("x:client", a low-level client beside the resource)."""
    services: list[str] = []
    for statement in ast.parse(app.read_text()).body:
        call = statement.value if isinstance(statement, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        names = [arg.value for arg in call.args if isinstance(arg, ast.Constant)]
        if call.func.attr == "prepare":
            services += names
        elif call.func.attr == "client":  # the same cached client as prepare's, except beside the table resource
            services += [
                n for n in (f"{name}:client" if name == "dynamodb" else name for name in names) if n not in services
            ]
    return tuple(services)


def layer_distributions() -> list[importlib.metadata.Distribution]:
    """The installed distributions the CommonLayer's requirements.txt pulls in (boto3/botocore: the runtime's)."""
    pending = [
        Requirement(line).name
        for line in (REPO / "layers" / "common" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found: dict[str, importlib.metadata.Distribution] = {}
    while pending:
        distribution = importlib.metadata.distribution(pending.pop())
        name = distribution.metadata["Name"].lower().replace("_", "-")
        if name in found or name in ("boto3", "botocore"):
            continue
        found[name] = distribution
        for requirement in map(Requirement, distribution.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return list(found.values())


def copy_code(root: Path, bytecode: bool) -> Path:
    """The layer (driftline + its requirements) and the handlers copied under root, without any .pyc;
    compiled ahead (unchecked-hash .pyc) when `bytecode`."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "layers" / "common" / "driftline", root / "layer" / "driftline", ignore=skip)
    for distribution in layer_distributions():
        for file in distribution.files or []:
            top = file.parts[0]
            if (
                "__pycache__" in file.parts
                or file.suffix == ".pyc"
                or top.endswith(".dist-info")
                or top in ("..", "bin")
            ):
                continue
            target = root / "layer" / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(file.locate())), target)
    shutil.copytree(REPO / "functions", root / "functions", ignore=skip)
    if bytecode:
        for folder in (root / "layer", root / "functions"):
            if not compileall.compile_dir(
                folder, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
            ):
                refuse(f"could not compile {folder}")
    return root


def run_once(code: str, env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        refuse(f"a measured interpreter failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_pair(code: str, bare_code: str, runs: int, env: dict[str, str]) -> tuple[list, list]:
    """Alternating runs of the bare baseline and the handler, each in a fresh interpreter."""
    handler, bare = [], []
    for _ in range(runs):
        bare.append(run_once(bare_code, env))
        handler.append(run_once(code, env))
    return handler, bare


def median_ratio(values: list[float], baselines: list[float]) -> float:
    return statistics.median(v / b for v, b in zip(values, baselines, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7 runs per figure instead of 15 (about 3 minutes)")
    parser.add_argument("--only", nargs="*", help="measure only these handlers (folder names)")
    parser.add_argument("--forms", nargs="*", default=["compiled", "sam-build"], choices=["compiled", "sam-build"])
    add_json_argument(parser)
    args = parser.parse_args()
    runs = 7 if args.quick else 15
    figures = Figures("cold_start")
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        for form in args.forms:
            root = copy_code(Path(tmp) / form, bytecode=form == "compiled")
            measure_form(figures, form, root, runs, args.only)
    figures.write_if_asked(args.json)


def measure_form(figures: Figures, form: str, root: Path, runs: int, only: list[str] | None) -> None:
    env = ENV | {"PYTHONPATH": str(root / "layer")}
    how = "compiled ahead" if form == "compiled" else "no bytecode, compiled at each cold start"
    print(f"\n{form}: layer and handler {how}")
    print(
        f"{'handler':26} {'clients':44} {'init CPU ms':>11} {'bare':>5} {'x bare':>6} {'(wall x)':>8}"
        f" {'init+1st CPU ms':>15} {'bare':>5} {'x bare':>6}"
    )
    worst, worst_first = 0.0, 0.0
    for folder in sorted((root / "functions").iterdir()):
        if only and folder.name not in only:
            continue
        services = prepared_services(folder / "app.py")
        if not services:
            refuse(f"{folder.name}/app.py creates no clients at init (no aws.prepare call): nothing to compare")
        sample = SAMPLE_EVENTS.get(folder.name)
        event = str(REPO / "events" / sample) if sample else ""
        calls = "{" + ", ".join(f"{s!r}: {FIRST_CALLS[s]}" for s in services) + "}"
        handler_code = HANDLER.format(path=str(folder), services=services, event=event, layer=str(root / "layer"))
        bare_code = BARE.format(services=services, event=event, calls=calls)
        handler, bare = measure_pair(handler_code, bare_code, runs, env)
        init, base = [run["init_cpu"] for run in handler], [run["init_cpu"] for run in bare]
        ratio, wall_ratio = (
            median_ratio(init, base),
            median_ratio([r["init"] for r in handler], [r["init"] for r in bare]),
        )
        # The aim is judged on the ratio the table shows (median over median); the median of adjacent runs'
        # ratios, steadier on a drifting machine, is in the note.
        shown = statistics.median(init) / statistics.median(base)
        worst = max(worst, shown)
        figures.add(
            f"cold init CPU ({form}), {folder.name}",
            statistics.median(init) * 1000,
            "ms",
            baseline=statistics.median(base) * 1000,
            baseline_name=f"bare boto3 handler ({' '.join(services)})",
            aim=f"<= {AIM}x baseline",
            holds=shown <= AIM,
            note=f"median of {runs} fresh interpreters, alternating; ratio of adjacent runs {ratio:.2f}x "
            f"(wall clock {wall_ratio:.2f}x)",
        )
        line = (
            f"{folder.name:26} {' '.join(services):44} {statistics.median(init) * 1000:11.0f}"
            f" {statistics.median(base) * 1000:5.0f} {ratio:6.2f} {wall_ratio:8.2f}"
        )
        if event:
            outcomes = {run["outcome"] for run in handler}
            # powertools' idempotency wraps the state table's refusal in IdempotencyPersistenceLayerError:
            # still the first AWS answer (the stubbed 403), met at the handler's first call.
            if outcomes - {"ClientError", "IdempotencyPersistenceLayerError", "returned"} or len(outcomes) != 1:
                refuse(f"{folder.name}: its sample event ended in {outcomes}, not one AWS answer or a return")
            total = [run["init_cpu"] + run["first_cpu"] for run in handler]
            base_total = [run["init_cpu"] + run["first_cpu"] for run in bare]
            first_ratio = median_ratio(total, base_total)
            shown_first = statistics.median(total) / statistics.median(base_total)
            worst_first = max(worst_first, shown_first)
            figures.add(
                f"cold init + first event CPU ({form}), {folder.name}",
                statistics.median(total) * 1000,
                "ms",
                baseline=statistics.median(base_total) * 1000,
                baseline_name="bare boto3 handler: init, the event's JSON, one stubbed call per client",
                aim=f"<= {AIM}x baseline",
                holds=shown_first <= AIM,
                note=f"sample event {sample}, every AWS call answered by a stub 403; outcome {outcomes.pop()}; "
                f"ratio of adjacent runs {first_ratio:.2f}x",
            )
            line += (
                f" {statistics.median(total) * 1000:15.0f} {statistics.median(base_total) * 1000:5.0f}"
                f" {first_ratio:6.2f}"
            )
        print(line, flush=True)
    figures.add(
        f"cold init CPU ({form}), worst handler",
        worst,
        "x",
        aim=f"<= {AIM}x a bare boto3 handler",
        holds=worst <= AIM,
        note=f"median over median of {runs} fresh interpreters per handler, alternating",
    )
    if worst_first:
        figures.add(
            f"cold init + first event CPU ({form}), worst handler",
            worst_first,
            "x",
            aim=f"<= {AIM}x",
            holds=worst_first <= AIM,
            note="handlers with a sample event in events/",
        )
    print(
        f"worst ({form}): init {worst:.2f}x, init + first event {worst_first:.2f}x (CPU time, median of {runs} "
        f"fresh interpreters each, alternating with the baseline; aim: no handler above {AIM}x)"
    )


if __name__ == "__main__":
    main()
