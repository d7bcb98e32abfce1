"""Gather a run's report from where the run left its traces: the state table, the run's S3 artifacts, the
CanaryRollout execution's history, CloudWatch's endpoint metrics and the drift monitor's outputs.

Each part is gathered on its own; a part that cannot be (not part of this run, not written, not
permitted) becomes `Unavailable` with the reason, and the rest of the report is still written.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tarfile
from datetime import UTC, datetime
from typing import Any

from driftline import aws, state
from driftline.config import ModelConfig
from driftline.gate import GateVerdict
from driftline.run_report.model import (
    Attempt,
    Distribution,
    DriftPart,
    EvaluationPart,
    RolloutPart,
    RunReport,
    TrainingPart,
    Trial,
    TuningPart,
    Unavailable,
)
from driftline.run_report.svg import Marker, Series
from driftline.settings import settings

HISTORY_FILE = "metric_history.json"  # jobs/train.py writes it to SM_OUTPUT_DATA_DIR
DRIFT_WINDOWS = 48  # monitor windows drawn before the run started
DRIFT_FEATURES_DRAWN = 8
DISTRIBUTIONS_DRAWN = 6
BASELINE_ROWS_READ = 200_000
NUMERIC_BINS = 10
CATEGORIES_DRAWN = 12


class PartMissing(Exception):
    """A part of the report cannot be gathered; the message says why."""


def report_key(model: str, run_id: str) -> str:
    return f"{model}/runs/{run_id}/report.html"


def build_report(
    model: str, run_id: str, *, facts: dict[str, Any] | None = None, rollout_execution: str | None = None
) -> RunReport:
    """`rollout_execution`: the CanaryRollout execution's ARN, when the caller knows it (the rollout's own
    steps do, from `$$.Execution.Id`); otherwise the execution named after the run on CANARY_ROLLOUT_ARN."""
    run = state.get_run(model, run_id) or {}
    config = state.load_config(model)
    parts = {
        "training": lambda: training_part(model, run_id, run, config),
        "evaluation": lambda: evaluation_part(model, run_id, run, config),
        "rollout": lambda: rollout_part(model, run_id, run, rollout_execution),
        "drift": lambda: drift_part(model, run_id, run, config),
    }
    if run.get("tuning"):
        parts["tuning"] = lambda: tuning_part(run)
    gathered: dict[str, Any] = {}
    for name, gather in parts.items():
        try:
            gathered[name] = gather()
        except PartMissing as exc:
            gathered[name] = Unavailable(why=str(exc))
        except Exception as exc:  # noqa: BLE001 - one part's failure (AccessDenied, a malformed file) is told, not fatal
            code = aws.error_code(exc)
            gathered[name] = Unavailable(why=f"reading it failed: {code or type(exc).__name__}: {_short(exc)}")
    return RunReport(
        model=model,
        run_id=run_id,
        trigger=run.get("trigger"),
        status=run.get("status"),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        facts={"Failed step": run.get("failed_step"), "Error": run.get("error")} | (facts or {}),
        shadow_test=run.get("shadow_test"),
        ab_test=run.get("ab_test"),
        **gathered,
    )


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:199] + "…"


def _bucket() -> str:
    return settings().artifact_bucket


def _get(key: str) -> bytes | None:
    try:
        return bytes(aws.client("s3").get_object(Bucket=_bucket(), Key=key)["Body"].read())
    except Exception as exc:
        if aws.error_code(exc) in {"NoSuchKey", "404"}:
            return None
        raise


# --- training ------------------------------------------------------------------------------------


def training_part(model: str, run_id: str, run: dict[str, Any], config: ModelConfig | None) -> TrainingPart:
    jobs = list(run.get("attempts") or [])
    if not jobs:
        raise PartMissing(
            f"the run has no finished training job (status {run.get('status') or 'unknown'}, "
            f"failed step {run.get('failed_step') or 'none'})"
        )
    job = jobs[-1]["job_name"]
    archive = _get(f"{model}/runs/{run_id}/model/{job}/output/output.tar.gz")
    if archive is None:
        raise PartMissing(f"training job {job} left no output.tar.gz (it did not finish)")
    history = read_history(archive)
    if history is None:
        raise PartMissing(f"training job {job}'s output.tar.gz has no {HISTORY_FILE} (trained by an older train.py)")
    return training_from_history(history, config.gate_metric if config else None, jobs)


def read_history(archive: bytes) -> dict[str, Any] | None:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.rsplit("/", 1)[-1] == HISTORY_FILE:
                handle = tar.extractfile(member)
                return dict(json.loads(handle.read())) if handle else None
    return None


def training_from_history(history: dict[str, Any], preferred: str | None, jobs: list[dict[str, Any]]) -> TrainingPart:
    metrics = history.get("metrics") or {}
    if not metrics:
        raise PartMissing("training had no validation set, so no metric was recorded per round")
    metric = preferred if preferred and preferred in metrics else str(next(iter(metrics)))
    series = [Series(name=f"validation {metric}", points=[(i + 1, v) for i, v in enumerate(metrics[metric])])]
    attempts = [Attempt.model_validate(a) for a in history.get("attempts") or []]
    markers = []
    for attempt in attempts:
        if attempt.ended == "interrupted":
            markers.append(
                Marker(x=attempt.last_round, label=f"interrupted at {attempt.last_round}", kind="interruption")
            )
        if attempt.attempt > 1:
            markers.append(
                Marker(x=attempt.started_at_round, label=f"resumed at {attempt.started_at_round}", kind="resume")
            )
    return TrainingPart(metric=metric, series=series, markers=markers, attempts=attempts, jobs=jobs)


# --- tuning --------------------------------------------------------------------------------------


def tuning_part(run: dict[str, Any]) -> TuningPart:
    """The run's tuning job as on_training_state_change recorded it: every trial, the best one marked."""
    tuning = run.get("tuning") or {}
    best = tuning.get("best_training_job")
    trials = [
        Trial(
            job=str(t.get("job_name")),
            status=t.get("status"),
            params={str(k): str(v) for k, v in (t.get("params") or {}).items()},
            objective=float(t["objective"]) if t.get("objective") is not None else None,
            failure_reason=t.get("failure_reason"),
            best=t.get("job_name") == best,
        )
        for t in tuning.get("trials") or []
    ]
    if not trials and tuning.get("status") == "InProgress":
        raise PartMissing(f"tuning job {tuning.get('job')} has not finished")
    return TuningPart(
        job=str(tuning.get("job")),
        status=tuning.get("status"),
        strategy=tuning.get("strategy"),
        objective=tuning.get("objective"),
        objective_type=tuning.get("objective_type"),
        warm_start_parent=tuning.get("warm_start_parent"),
        failure_reason=tuning.get("failure_reason"),
        trials=trials,
    )


# --- evaluation ----------------------------------------------------------------------------------


def evaluation_part(model: str, run_id: str, run: dict[str, Any], config: ModelConfig | None) -> EvaluationPart:
    body = _get(f"{model}/runs/{run_id}/evaluation/evaluation.json")
    if body is None:
        raise PartMissing(
            f"the run wrote no evaluation (status {run.get('status') or 'unknown'}, failed step "
            f"{run.get('failed_step') or 'none'})"
        )
    return evaluation_from(json.loads(body), run.get("gate"), config.gate_metric if config else None)


def evaluation_from(evaluation: dict[str, Any], gate: dict[str, Any] | None, gate_metric: str | None) -> EvaluationPart:
    sources = {
        "candidate": evaluation.get("metrics") or {},
        "trivial baseline": evaluation.get("baseline_metrics") or {},
        "production": evaluation.get("production_metrics") or {},
    }
    names = list(dict.fromkeys(name for values in sources.values() for name in values))
    metrics = {name: {who: _float(values.get(name)) for who, values in sources.items()} for name in names}
    summary = None
    if gate:
        try:
            summary = GateVerdict.model_validate(gate).summary
        except ValueError:
            summary = None
    note = (
        None
        if evaluation.get("production_metrics")
        else "no production numbers: first model of this name, or production is not comparable (another problem type)"
    )
    return EvaluationPart(
        test_rows=evaluation.get("test_rows"),
        metrics=metrics,
        gate_metric=gate_metric,
        gate_summary=summary,
        production_note=note,
    )


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- rollout -------------------------------------------------------------------------------------

SHIFTS = {  # state (exited) -> the candidate's share afterwards; None = from the state's output
    "Create the endpoint": 100.0,
    "Replace the failed endpoint's config": 100.0,
    "Put the candidate beside the production model": None,
    "Shift more traffic to the candidate": None,
    "Make the candidate the only variant": 100.0,
    "Update with SageMaker's blue/green canary": None,
}


def rollout_part(model: str, run_id: str, run: dict[str, Any], execution: str | None = None) -> RolloutPart:
    if execution is None:
        arn = settings().canary_rollout_arn
        if not arn:
            raise PartMissing("the CanaryRollout state machine is not known here (CANARY_ROLLOUT_ARN)")
        execution = arn.replace(":stateMachine:", ":execution:") + f":{run_id}"
    sfn = aws.client("stepfunctions")
    try:
        events = [
            e
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution)
            for e in page["events"]
        ]
    except Exception as exc:
        if aws.error_code(exc) == "ExecutionDoesNotExist":
            raise PartMissing(f"the run started no rollout (status {run.get('status') or 'unknown'})") from exc
        raise
    part = rollout_from_history(events, run)
    if not part.share:
        return part
    start = min(x for s in part.share for x, _ in s.points)
    end = max(x for s in part.share for x, _ in s.points)
    variants = [s.name.removesuffix(" (candidate)").removesuffix(" (production)") for s in part.share]
    try:
        part.requests, part.errors = variant_metrics(part.endpoint or "", variants, start, end)
    except Exception as exc:  # noqa: BLE001 - no metrics is a missing chart, not a missing report
        why = f"{aws.error_code(exc) or type(exc).__name__}: {_short(exc)}"
        part.requests = part.errors = Unavailable(why=f"CloudWatch metrics could not be read: {why}")
    return part


def _time(event: dict[str, Any]) -> float:
    stamp = event["timestamp"]
    return stamp.timestamp() if isinstance(stamp, datetime) else float(stamp)


def rollout_from_history(events: list[dict[str, Any]], run: dict[str, Any]) -> RolloutPart:
    """Traffic share per variant over time, and what decided, from CanaryRollout's execution history."""
    plan: dict[str, Any] = {}
    candidate: list[tuple[float, float]] = []
    markers: list[Marker] = []
    failure: dict[str, Any] = {}
    outcome, end = "running", None
    for event in events:
        kind = event.get("type", "")
        at = _time(event)
        if kind == "ExecutionStarted":
            candidate.append((at, 0.0))
        elif kind in {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}:
            end = at
            outcome = (
                "promoted"
                if kind == "ExecutionSucceeded"
                else "rolled back"
                if run.get("status") == "ROLLED_BACK" or failure
                else kind.removeprefix("Execution").lower()
            )
        exited = event.get("stateExitedEventDetails") or {}
        entered = event.get("stateEnteredEventDetails") or {}
        if exited.get("name") == "Plan the rollout":
            plan = (_json(exited.get("output")).get("plan") or {}).get("Payload") or {}
        elif exited.get("name") in SHIFTS:
            percent = SHIFTS[exited["name"]]
            if percent is None:
                output = _json(exited.get("output"))
                shifted = ((output.get("watch") or {}).get("Payload") or {}).get("percent")
                percent = float(shifted) if shifted is not None else float((plan.get("steps") or [10])[0])
            candidate.append((at, percent))
            markers.append(Marker(x=at, label=f"{percent:g}%", kind="step"))
        elif entered.get("name") == "Roll back to previous model":
            failure = _json(entered.get("input")).get("failure") or {}
            markers.append(Marker(x=at, label="roll back", kind="alarm"))
        elif exited.get("name") == "Roll back to previous model" and not any(v == 0 for _, v in candidate[-1:]):
            candidate.append((at, 0.0))
    if not candidate:
        raise PartMissing("the rollout's execution history has no events")
    if outcome == "running":  # written from the rollout's own last step, before its execution ends
        outcome = {"DEPLOYED": "promoted", "ROLLED_BACK": "rolled back"}.get(run.get("status") or "", outcome)
    end = end or candidate[-1][0]
    cand_name = plan.get("candidate_variant") or "candidate"
    production = (plan.get("production") or {}).get("variant")
    held = [*candidate, (end, candidate[-1][1])]
    share = [Series(name=f"{cand_name} (candidate)", points=held, step=True)]
    if production:
        share.append(
            Series(
                name=f"{production} (production)",
                points=[(x, 100.0 - v) for x, v in held],
                step=True,
            )
        )
    alarm = failure.get("alarm") or {}
    error = failure.get("error") or {}
    if alarm:
        decided = f"alarm {alarm.get('name')} at {failure.get('failed_step')}"
    elif error:
        decided = f"{error.get('Error')} at {failure.get('failed_step')}: {_short(Exception(error.get('Cause')))}"
    elif outcome == "promoted":
        watched = ", ".join(plan.get("alarms") or []) or "none (first deployment: nothing to compare with)"
        decided = f"no alarm fired while each step baked; alarms watched: {watched}"
    else:
        decided = f"the rollout is {outcome}"
    return RolloutPart(
        strategy=plan.get("strategy"),
        outcome=outcome,
        endpoint=plan.get("endpoint_name"),
        decided_by=decided,
        alarm_reason=alarm.get("reason"),
        share=share,
        markers=markers,
        requests=Unavailable(why="not read yet"),
        errors=Unavailable(why="not read yet"),
    )


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def variant_metrics(endpoint: str, variants: list[str], start: float, end: float) -> tuple[list[Series], list[Series]]:
    """Requests and errors per variant (AWS/SageMaker, 1-minute sums) over the rollout's span."""
    queries, names = [], {}
    for index, variant in enumerate(variants):
        for metric in ("Invocations", "Invocation5XXErrors", "Invocation4XXErrors"):
            query_id = f"m{index}{metric[:13].lower()}"
            names[query_id] = (variant, metric)
            queries.append(
                {
                    "Id": query_id,
                    "ReturnData": True,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/SageMaker",
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            )
    results = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries,
        StartTime=datetime.fromtimestamp(start - 60, UTC),
        EndTime=datetime.fromtimestamp(end + 120, UTC),
    )["MetricDataResults"]
    requests, errors = [], []
    for result in results:
        variant, metric = names[result["Id"]]
        points = sorted((t.timestamp(), float(v)) for t, v in zip(result["Timestamps"], result["Values"], strict=False))
        if not points:
            continue
        if metric == "Invocations":
            requests.append(Series(name=f"{variant} requests", points=points))
        else:
            errors.append(
                Series(name=f"{variant} {metric.removeprefix('Invocation').removesuffix('Errors')}", points=points)
            )
    return requests, errors


# --- drift ---------------------------------------------------------------------------------------


def drift_part(model: str, run_id: str, run: dict[str, Any], config: ModelConfig | None) -> DriftPart:
    if run.get("trigger") != "drift":
        raise PartMissing(f"this run was started by '{run.get('trigger') or 'upload'}', not by a drift alarm")
    started = _run_start(run_id, run)
    s3 = aws.client("s3")
    summaries = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=f"{model}/monitoring/"):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/drift_summary.json") and obj["LastModified"].timestamp() <= started + 60:
                summaries.append((obj["LastModified"].timestamp(), obj["Key"]))
    summaries = sorted(summaries)[-DRIFT_WINDOWS:]
    if not summaries:
        raise PartMissing(f"no drift monitor results under s3://{_bucket()}/{model}/monitoring/ before the run")
    windows = [(at, key, json.loads(_get(key) or b"{}")) for at, key in summaries]
    threshold = config.monitoring.drift_threshold if config else None
    part = drift_from_windows([(at, key.split("/")[-2], summary) for at, key, summary in windows], threshold)
    last_key = windows[-1][1].rsplit("/", 1)[0]
    try:
        part.distributions = distributions(last_key, part.monitor_job or "", part.drifted)
    except PartMissing as exc:
        part.distributions = Unavailable(why=str(exc))
    except Exception as exc:  # noqa: BLE001
        part.distributions = Unavailable(why=f"{aws.error_code(exc) or type(exc).__name__}: {_short(exc)}")
    return part


def _run_start(run_id: str, run: dict[str, Any]) -> float:
    stamp = run_id.rsplit("-", 1)[-1]
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        started = run.get("started_at")
        return datetime.fromisoformat(started).timestamp() if started else datetime.now(UTC).timestamp()


def drift_from_windows(windows: list[tuple[float, str, dict[str, Any]]], threshold: float | None) -> DriftPart:
    """Per-feature distance over the monitor windows (epoch seconds, job, drift_summary.json)."""
    per_feature: dict[str, list[tuple[float, float | None]]] = {}
    thresholds: list[tuple[float, float | None]] = []
    for at, _, summary in windows:
        thresholds.append((at, _float(summary.get("drift_threshold")) or threshold))
        for name, entry in (summary.get("features") or {}).items():
            per_feature.setdefault(name, []).append((at, _float(entry.get("distance"))))
    last_at, last_job, last = windows[-1]
    ranked = sorted(per_feature, key=lambda n: -max((v for _, v in per_feature[n] if v is not None), default=0))
    ever_drifted = {n for _, _, s in windows for n, e in (s.get("features") or {}).items() if e.get("drifted")}
    drawn = [n for n in ranked if n in ever_drifted][:DRIFT_FEATURES_DRAWN]
    drawn += [n for n in ranked if n not in drawn][: max(0, min(3, DRIFT_FEATURES_DRAWN - len(drawn)))]
    series = [Series(name=n, points=per_feature[n]) for n in drawn]
    if any(v is not None for _, v in thresholds):
        series.append(Series(name="threshold", points=thresholds, dashed=True))
    drifted = [
        {"feature": n, "distance": _float(e.get("distance")), "threshold": _float(e.get("threshold"))}
        for n, e in (last.get("features") or {}).items()
        if e.get("drifted")
    ]
    drifted.sort(key=lambda d: -(d["distance"] or 0))
    return DriftPart(
        monitor_job=last_job,
        threshold=_float(last.get("drift_threshold")) or threshold,
        series=series,
        left_out=len(per_feature) - len(drawn),
        drifted=drifted,
        distributions=[],
    )


def distributions(report_prefix: str, job: str, drifted: list[dict[str, Any]]) -> list[Distribution]:
    if not drifted:
        raise PartMissing("no feature was over its threshold in the window that started the run")
    statistics = json.loads(_get(f"{report_prefix}/statistics.json") or b"{}")
    window = {f["name"]: f for f in statistics.get("features") or []}
    baseline_rows, note = _baseline_rows(job, [d["feature"] for d in drifted[:DISTRIBUTIONS_DRAWN]])
    shown = []
    for entry in drifted[:DISTRIBUTIONS_DRAWN]:
        name = entry["feature"]
        stats = window.get(name) or {}
        values = baseline_rows.get(name) if baseline_rows is not None else None
        if "numerical_statistics" in stats:
            buckets = ((stats["numerical_statistics"].get("distribution") or {}).get("kll") or {}).get("buckets") or []
            labels, base, win = numeric_distribution(buckets, values)
        else:
            buckets = ((stats.get("string_statistics") or {}).get("distribution") or {}).get("categorical") or {}
            labels, base, win = categorical_distribution(buckets.get("buckets") or [], values)
        if not labels:
            continue
        shown.append(
            Distribution(
                feature=name,
                distance=entry.get("distance"),
                threshold=entry.get("threshold"),
                buckets=labels,
                baseline=base,
                window=win,
                baseline_note=None if base else note,
            )
        )
    return shown


def _baseline_rows(job: str, features: list[str]) -> tuple[dict[str, list[str]] | None, str | None]:
    """The drifted features' raw baseline values (the training data the monitor compared against)."""
    try:
        described = aws.client("sagemaker").describe_processing_job(ProcessingJobName=job)
    except Exception as exc:  # noqa: BLE001
        return None, f"the monitor job's baseline input is unknown: {aws.error_code(exc) or _short(exc)}"
    uri = next(
        (
            i["S3Input"]["S3Uri"]
            for i in described.get("ProcessingInputs", [])
            if i.get("InputName") == "baseline" and i.get("S3Input")
        ),
        None,
    )
    if not uri:
        return None, f"monitor job {job} has no baseline input"
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/").get("Contents", [])
    key = next((o["Key"] for o in listed if o["Key"].endswith("baseline.csv")), None)
    if key is None:
        return None, f"no baseline.csv under {uri}"
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    lines = (line.decode("utf-8", "replace") for line in body.iter_lines())
    reader = csv.reader(lines)
    header = next(reader, [])
    wanted = {name: header.index(name) for name in features if name in header}
    rows: dict[str, list[str]] = {name: [] for name in wanted}
    for count, row in enumerate(reader):
        if count >= BASELINE_ROWS_READ:
            break
        for name, column in wanted.items():
            if column < len(row) and row[column] != "":
                rows[name].append(row[column])
    return rows, None


def numeric_distribution(
    buckets: list[dict[str, Any]], baseline: list[str] | None
) -> tuple[list[str], list[float | None] | None, list[float | None]]:
    """Equal-width bins over both sides' range: window counts from its KLL buckets, baseline from raw values."""
    numbers = [float(v) for v in baseline or [] if _float(v) is not None]
    lows = [float(b["lower_bound"]) for b in buckets] + ([min(numbers)] if numbers else [])
    highs = [float(b["upper_bound"]) for b in buckets] + ([max(numbers)] if numbers else [])
    if not lows or not highs:
        return [], None, []
    low, high = min(lows), max(highs)
    width = (high - low) / NUMERIC_BINS or 1.0

    def bin_of(value: float) -> int:
        return min(NUMERIC_BINS - 1, max(0, int((value - low) / width)))

    window = [0.0] * NUMERIC_BINS
    for bucket in buckets:
        window[bin_of((float(bucket["lower_bound"]) + float(bucket["upper_bound"])) / 2)] += float(bucket["count"])
    base = [0.0] * NUMERIC_BINS
    for value in numbers:
        base[bin_of(value)] += 1
    labels = [f"{low + i * width:.3g}–{low + (i + 1) * width:.3g}" for i in range(NUMERIC_BINS)]
    return labels, _shares(base) if numbers else None, _shares(window) or []


def categorical_distribution(
    buckets: list[dict[str, Any]], baseline: list[str] | None
) -> tuple[list[str], list[float | None] | None, list[float | None]]:
    window = {str(b["value"]): float(b["count"]) for b in buckets}
    base: dict[str, float] = {}
    for value in baseline or []:
        base[value] = base.get(value, 0.0) + 1
    ranked = sorted(set(window) | set(base), key=lambda v: -(window.get(v, 0) + base.get(v, 0)))[:CATEGORIES_DRAWN]
    win_total, base_total = sum(window.values()) or 1.0, sum(base.values()) or 1.0
    return (
        ranked,
        [base.get(v, 0.0) / base_total for v in ranked] if base else None,
        [window.get(v, 0.0) / win_total for v in ranked],
    )


def _shares(counts: list[float]) -> list[float | None] | None:
    total = sum(counts)
    return [c / total for c in counts] if total else None
