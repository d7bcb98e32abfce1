"""CanaryRollout under steady traffic: requests per traffic step, failures, and the rejected model after a rollback.

Run: `.venv/bin/python bench/rollout.py [--rate 20] [--bake 6]`. Starts a fresh local cloud (time scale 30: a
60 s alarm period is judged every 2 s), deploys the stack, onboards a model and trains its first model through
an upload (the first deployment). Then, with steady invocation traffic (`--rate` requests/s, loopback only)
running from a little before each rollout until a little after it:

1. promotion: a candidate (the production model's artifact) goes 10 -> 50 -> 100 % and becomes the only variant;
2. rollback, candidate faulted as it joins: every answer of its variant fails (`set_fault`, error rate 1.0) from
   the moment UpdateEndpoint puts it beside production, so its 5xx alarm fires and the rollout rolls back;
3. rollback, candidate faulted at 50 %: the same, with the fault applied once the first "Shift more traffic to
   the candidate" state is entered;
4. shadow-canary, the same faulty candidate: the model's config switches to `strategy: shadow-canary`; the
   candidate is faulted the moment the endpoint knows it (as its shadow variant), the shadow test stops it.

Side by side (the issue's figure): customer requests the faulty candidate failed with canary (scenario 2) and with
shadow-canary (scenario 4). The shadow-canary figure is refused unless the fault really applied (CloudWatch
Invocation5XXErrors of the shadow variant > 0: the mirrored copies failed) and the rollout really stopped at its
shadow test (CandidateFailedShadowTest, no traffic step entered). `--quick` runs only scenarios 2 and 4.

Printed per scenario: a table per traffic step (boundaries are the execution history's state-entered times),
with the requests answered in the step, the failures (those the faulted candidate answered with the injected
fault, and the others) and the requests answered by each variant; then a summary: failures caused by the rollout
itself (every failure the faulted candidate did not answer with its injected fault; aim 0) and requests routed to
the rejected variant after the rollback (served or failed; aim 0). A failed request is attributed to a variant by
the `x-Amzn-Invoked-Production-Variant` header of its ModelError answer; CloudWatch's Invocation5XXErrors of the
faulted variant is printed beside it as a cross-check.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.loop import (
    FAST_TIMINGS,
    Clients,
    Failure,
    Stack,
    Traffic,
    onboard_model,
    start_rollout,
    states_entered,
    upload_frames,
    wait_for_execution,
    wait_for_run,
)
from driftline_local.sagemaker.endpoints import flush_metrics, set_fault
from driftline_local.sample_data import generate_bank_marketing
from figures import Figures, add_json_argument, refuse

MODEL = "rollout"
ENDPOINT = f"driftline-{MODEL}"
TIME_SCALE = 30
STEPS = [10, 50, 100]  # the config's traffic_steps_percent (the default)
LEAD_SECONDS = 2.0  # traffic before each rollout starts
TAIL_SECONDS = 4.0  # traffic after each rollout ends (where the rejected model must serve nothing)
PUT_BESIDE = "Put the candidate beside the production model"
SHIFT = "Shift more traffic to the candidate"
ONLY = "Make the candidate the only variant"
ROLL_BACK = "Roll back to the previous model"
MIRROR = "Mirror production traffic to the candidate in shadow"
SHADOW_STOPPED = "Candidate failed its shadow test"
SHADOW_SCENARIO = "shadow-canary, candidate faulted as it joins"
ENDED = ("Rollout finished", "Candidate rolled back", "Rollback failed", SHADOW_STOPPED)


def config(bake: int, shadow_seconds: int | None = None) -> str:
    deployment = f"bake_seconds: {bake}"
    if shadow_seconds is not None:
        deployment += (
            f"\n  strategy: shadow-canary\n  shadow_seconds: {shadow_seconds}\n  shadow_min_requests: {shadow_seconds}"
        )
    return (
        f"name: {MODEL}\nproblem_type: binary_classification\ntarget: y\ndrop_columns: [duration]\n"
        + FAST_TIMINGS.replace("bake_seconds: 3", deployment)
        + "training:\n  hyperparameters:\n    num_round: 30\nmonitoring:\n  enabled: false\n"
    )


@dataclass
class Scenario:
    title: str
    run_id: str
    candidate: str
    production: list[str]
    faulted: str | None
    outcome: dict[str, Any]
    started: float  # StartExecution
    ended: float  # the terminal state's entry
    traffic_started: float
    traffic_stopped: float
    windows: list[tuple[str, float, float]]
    traffic: Traffic
    fault_at: float | None = None
    cloudwatch_5xx: dict[str, float] = field(default_factory=dict)
    entered: list[str] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0, help="invocations per second")
    parser.add_argument("--bake", type=int, default=6, help="bake_seconds of each traffic step")
    parser.add_argument("--shadow", type=int, default=8, help="shadow_seconds of the shadow-canary scenario")
    parser.add_argument("--quick", action="store_true", help="only the faulty candidate with canary and shadow-canary")
    add_json_argument(parser)
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir, LocalCloud(port=0, workdir=workdir, time_scale=TIME_SCALE) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        clients = Clients(cloud.endpoint_url)
        stack = Stack.describe(clients)
        onboard_model(clients, stack, config(args.bake), MODEL)
        since = upload_frames(clients, stack, MODEL, [generate_bank_marketing(3000, seed=31)])
        first = wait_for_run(clients, stack, MODEL, since, progress=lambda message: None, timeout=600)
        if first.status != "SUCCEEDED":
            raise SystemExit(f"the first model's run {first.run_id} ended {first.status}: {first.error}")
        job = clients("sagemaker").describe_training_job(TrainingJobName=first.attempts[-1]["job_name"])
        artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
        print(
            f"first model {first.run_id}: deployed in {first.seconds:.1f}s "
            f"({time.monotonic() - began:.0f}s since start)"
        )
        rows = generate_bank_marketing(50, seed=32).drop(columns=["y", "duration"])
        canary_faulted = "rollback, candidate faulted as it joins"
        scenarios = [] if args.quick else [run(clients, stack, artifact, rows, args.rate, 1, "promotion", fault=None)]
        scenarios += [
            run(clients, stack, artifact, rows, args.rate, 2, canary_faulted, fault=fault_when_joined),
        ]
        if not args.quick:
            scenarios.append(
                run(
                    clients,
                    stack,
                    artifact,
                    rows,
                    args.rate,
                    3,
                    "rollback, candidate faulted at 50 %",
                    fault=fault_after_first_shift,
                )
            )
        onboard_model(clients, stack, config(args.bake, shadow_seconds=args.shadow), MODEL)
        scenarios.append(
            run(
                clients,
                stack,
                artifact,
                rows,
                args.rate,
                4,
                SHADOW_SCENARIO,
                fault=fault_when_joined,
            )
        )
    print(
        f"rate {args.rate:g}/s, bake {args.bake}s per step, time scale {TIME_SCALE}, "
        f"total {time.monotonic() - began:.0f}s"
    )
    summaries = [report(s) for s in scenarios]
    print(json.dumps({"aims_hold": all(s["aims_hold"] for s in summaries), "scenarios": summaries}))
    figures = Figures("rollout")
    for summary in summaries:
        figures.add(
            f"{summary['scenario']}: requests failed by the rollout itself",
            summary["failed_caused_by_the_rollout"],
            "requests",
            aim="0",
            holds=summary["failed_caused_by_the_rollout"] == 0,
            note=f"{summary['sent']} sent at {args.rate:g}/s; "
            f"{summary['failed_by_the_fault']} failed by the injected fault",
        )
        if "rejected_after_rollback" in summary:
            figures.add(
                f"{summary['scenario']}: requests the rejected variant answered after the rollback",
                summary["rejected_after_rollback"],
                "requests",
                aim="0",
                holds=summary["rejected_after_rollback"] == 0,
            )
    by_title = {summary["scenario"]: summary for summary in summaries}
    canary, shadow = by_title[canary_faulted], by_title[SHADOW_SCENARIO]
    figures.add(
        "customer requests failed by a faulty candidate, canary",
        canary["failed"],
        "requests",
        note=f"{canary['sent']} sent at {args.rate:g}/s; rolled back by its 5xx alarm ({canary['error']})",
    )
    figures.add(
        "customer requests failed by a faulty candidate, shadow-canary",
        shadow["failed"],
        "requests",
        baseline=canary["failed"],
        baseline_name="canary, same faulty candidate",
        aim="0",
        holds=shadow["failed"] == 0,
        note=f"{shadow['sent']} sent at {args.rate:g}/s; the shadow answered "
        f"{shadow['cloudwatch_5xx'].get(shadow['candidate'], 0)} mirrored copies with the fault; {shadow['error']}",
    )
    figures.write_if_asked(args.json)


def run(
    clients: Clients, stack: Stack, artifact: str, rows: pd.DataFrame, rate: float, n: int, title: str, fault: Any
) -> Scenario:
    run_id = f"{MODEL}-upload-20261128T0800{n:02d}"
    candidate = run_id.removeprefix(f"{MODEL}-")
    production = [
        v["VariantName"] for v in clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    ]
    load = Traffic(clients, ENDPOINT, rows, per_second=rate, limit=int(rate * 600))
    with load:
        traffic_started = time.time()
        time.sleep(LEAD_SECONDS)
        started = time.time()
        execution = start_rollout(clients, stack, MODEL, run_id, artifact)
        fault_at = fault(clients, execution, candidate) if fault else None
        outcome = wait_for_execution(clients, execution, timeout=300)
        time.sleep(TAIL_SECONDS)
    traffic_stopped = time.time()
    windows, ended = step_windows(clients, execution, traffic_started, traffic_stopped, outcome)
    scenario = Scenario(
        title,
        run_id,
        candidate,
        production,
        candidate if fault else None,
        outcome,
        started,
        ended,
        traffic_started,
        traffic_stopped,
        windows,
        load,
        fault_at,
    )
    scenario.cloudwatch_5xx = cloudwatch_5xx(clients, [*production, candidate], traffic_started, traffic_stopped)
    scenario.entered = states_entered(clients, execution)
    return scenario


def fault_when_joined(clients: Clients, execution: str, variant: str) -> float | None:
    """Fault the candidate's variant the moment the endpoint knows it (UpdateEndpoint called), before its traffic."""
    while clients("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING":
        try:
            set_fault(ENDPOINT, variant, error_rate=1.0)
            return time.time()
        except ValueError:  # not on the endpoint yet
            time.sleep(0.02)
    return None


def fault_after_first_shift(clients: Clients, execution: str, variant: str) -> float | None:
    """Fault the candidate's variant once the rollout has entered its first shift (to 50 %)."""
    while clients("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING":
        if SHIFT in states_entered(clients, execution):
            set_fault(ENDPOINT, variant, error_rate=1.0)
            return time.time()
        time.sleep(0.05)
    return None


def history(clients: Clients, execution: str) -> list[dict[str, Any]]:
    pages = clients("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution)
    return [event for page in pages for event in page["events"]]


def step_windows(
    clients: Clients, execution: str, traffic_started: float, traffic_stopped: float, outcome: dict[str, Any]
) -> tuple[list[tuple[str, float, float]], float]:
    """(label, start, end) per traffic step from the state-entered times; and when the rollout ended."""
    starts: list[tuple[str, float]] = [("before the rollout", traffic_started)]
    shifts, rolling_back, ended = 0, False, None
    for event in history(clients, execution):
        entered = event.get("stateEnteredEventDetails")
        if not entered:
            continue
        name, at = entered["name"], event["timestamp"].timestamp()
        if name == MIRROR:
            starts.append(("shadow test (a copy of every request)", at))
        elif name == PUT_BESIDE:
            starts.append((f"{STEPS[0]} % to the candidate", at))
        elif name == SHIFT:
            shifts += 1
            starts.append((f"{STEPS[min(shifts, len(STEPS) - 1)]} % to the candidate", at))
        elif name == ONLY:
            starts.append(("candidate made the only variant", at))
        elif name == ROLL_BACK and not rolling_back:
            rolling_back = True
            starts.append(("rolling back", at))
        elif name in ENDED and ended is None:
            ended = at
            starts.append((f"after ({name})", at))
    if ended is None:  # no entered event for the terminal state: the execution's stop time
        ended = outcome["stopDate"].timestamp()
        starts.append(("after the rollout", ended))
    ends = [at for _, at in starts[1:]] + [traffic_stopped]
    return [(label, start, end) for (label, start), end in zip(starts, ends, strict=True)], ended


def cloudwatch_5xx(clients: Clients, variants: list[str], since: float, until: float) -> dict[str, float]:
    """Invocation5XXErrors per variant as SageMaker (the local cloud) published them over the traffic window."""
    flush_metrics()
    sums: dict[str, float] = {}
    for variant in variants:
        datapoints = clients("cloudwatch").get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocation5XXErrors",
            Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": variant}],
            StartTime=datetime.fromtimestamp(since, UTC) - timedelta(seconds=60),
            EndTime=datetime.fromtimestamp(until, UTC) + timedelta(seconds=60),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        sums[variant] = sum(point["Sum"] for point in datapoints)
    return sums


def expected(s: Scenario, failure: Failure) -> bool:
    """A failure the bench caused on purpose: the faulted candidate answering with its injected fault."""
    return s.faulted is not None and "fault injected" in failure.message and failure.variant == s.faulted


def report(s: Scenario) -> dict[str, Any]:
    log = s.traffic.log
    attributed = log.failures
    production = "+".join(s.production)
    print()
    print(
        f"== {s.title}: {s.run_id} -> {s.outcome['status']}"
        f"{' (' + s.outcome['error'] + ')' if s.outcome.get('error') else ''}, "
        f"rollout {s.ended - s.started:.1f}s; production {production}, candidate {s.candidate}"
        + (f", fault set {s.fault_at - s.started:.1f}s after the start" if s.fault_at else "")
    )
    width = max(34, *(len(label) for label, _, _ in s.windows))
    print(
        f"{'traffic step':{width}} {'from s':>7} {'for s':>6} {'sent':>6} {'failed':>6} {'fault':>6} {'other':>6} "
        f"{'production':>10} {'candidate':>10} {'cand. share':>11}"
    )
    for label, start, end in s.windows:
        served = log.served_by(start, end)
        failures = [f for f in attributed if start <= f.at < end]
        on_production = sum(n for v, n in served.items() if v in s.production)
        on_candidate = served.get(s.candidate, 0)
        failed_candidate = sum(1 for f in failures if f.variant == s.candidate)
        routed = on_production + on_candidate + len(failures)
        share = (on_candidate + failed_candidate) / routed if routed else 0.0
        fault = sum(1 for f in failures if expected(s, f))
        print(
            f"{label:{width}} {start - s.started:>7.1f} {end - start:>6.1f} {sum(served.values()) + len(failures):>6} "
            f"{len(failures):>6} {fault:>6} {len(failures) - fault:>6} {on_production:>10} "
            f"{on_candidate:>10} {share:>11.0%}"
        )
    caused = [f for f in attributed if not expected(s, f)]
    injected = sum(1 for f in attributed if expected(s, f))
    if not log.sent or not any(log.served_by(start, end) for _, start, end in s.windows):
        refuse(f"{s.title}: no request was served during the rollout")
    shadow = s.title == SHADOW_SCENARIO
    if shadow and not s.cloudwatch_5xx.get(s.candidate):
        refuse(f"{s.title}: no mirrored request failed on the shadow {s.faulted}: the fault did not apply")
    if shadow and (s.outcome.get("error") != "CandidateFailedShadowTest" or PUT_BESIDE in s.entered):
        refuse(f"{s.title}: the rollout did not stop at its shadow test ({s.outcome.get('error')})")
    if s.faulted and not shadow and not injected:
        refuse(f"{s.title}: the fault on {s.faulted} never answered a request, so no rollback was tested")
    summary: dict[str, Any] = {
        "scenario": s.title,
        "status": s.outcome["status"],
        "error": s.outcome.get("error"),
        "sent": log.sent,
        "failed": log.failed,
        "failed_by_the_fault": injected,
        "failed_caused_by_the_rollout": len(caused),
        "cloudwatch_5xx": {v: int(n) for v, n in s.cloudwatch_5xx.items()},
        "candidate": s.candidate,
    }
    line = (
        f"sent {log.sent}, failed {log.failed} ({injected} the faulted candidate's injected answers; CloudWatch "
        f"Invocation5XXErrors of the candidate {s.cloudwatch_5xx.get(s.candidate, 0):.0f}), failed caused by the "
        f"rollout itself {len(caused)} (aim 0)"
    )
    if caused:
        codes: dict[str, int] = {}
        for f in caused:
            codes[f"{f.code}@{f.variant or '?'}"] = codes.get(f"{f.code}@{f.variant or '?'}", 0) + 1
        line += f" {codes}"
    aims = not caused
    if s.faulted:
        served_after = log.served_by(since=s.ended).get(s.faulted, 0)
        failed_after = sum(1 for f in attributed if f.at >= s.ended and f.variant == s.faulted)
        rolling_back = next((start for label, start, _ in s.windows if label == "rolling back"), s.ended)
        during = log.served_by(since=rolling_back, until=s.ended).get(s.faulted, 0)
        during += sum(1 for f in attributed if rolling_back <= f.at < s.ended and f.variant == s.faulted)
        line += (
            f"; after the rollback ({s.traffic_stopped - s.ended:.1f}s of traffic) the rejected variant "
            f"answered {served_after + failed_after} requests ({served_after} served, {failed_after} failed; "
            f"aim 0); it answered {during} while rolling back"
        )
        summary.update(rejected_after_rollback=served_after + failed_after, rejected_answered_while_rolling_back=during)
        stopped = "CandidateFailedShadowTest" if shadow else "CandidateRolledBack"
        aims = aims and served_after + failed_after == 0 and s.outcome.get("error") == stopped
        if shadow:
            aims = aims and log.failed == 0
    else:
        old_after = sum(n for v, n in log.served_by(since=s.ended).items() if v in s.production)
        line += f"; after the promotion the previous production variant served {old_after}"
        summary["previous_after_promotion"] = old_after
        aims = aims and s.outcome["status"] == "SUCCEEDED"
    summary["aims_hold"] = aims
    print(line)
    print(f"aims {'hold' if aims else 'NOT met'}")
    return summary


if __name__ == "__main__":
    main()
