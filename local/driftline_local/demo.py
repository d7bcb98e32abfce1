"""`driftline demo`: the whole loop on a fresh local cloud, told as it happens, with a summary.

1. Onboard `bank-marketing` and upload a burst of data plus a broken file: one run, one quarantine.
   Its spot training job loses its capacity once and resumes from its newest checkpoint.
2. Batch predictions: a CSV of unlabelled rows dropped in batch/<model>/ comes back as predictions.
3. A bad candidate (its variant fails every request) rolls out beside production and is rolled back; the same
   candidate rolled out with a shadow test first is stopped before any customer request reaches it.
4. Traffic from a shifted population: the drift monitor notices, the drift alarm pages on-call and
   retrains on the new data, the new model rolls out step by step, the alarm resolves.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import roc_auc_score

from driftline_local.batch_demo import BatchFailed, show_batch_predictions
from driftline_local.cli import deploy_local_stack
from driftline_local.cloud import LocalCloud
from driftline_local.context import REPO_ROOT
from driftline_local.loop import (
    FAST_TIMINGS,
    Clients,
    RunResult,
    Stack,
    Traffic,
    onboard_model,
    predict,
    start_rollout,
    upload_frames,
    wait_for_execution,
    wait_for_run,
)
from driftline_local.ops import format as fmt
from driftline_local.ops.session import Driftline
from driftline_local.ops.status import model_status, open_incidents, render_model
from driftline_local.ops.watch import RunWatcher, default_view, follow, wait_for_new_run
from driftline_local.sagemaker.endpoints import set_fault
from driftline_local.sagemaker.jobs import PlannedInterruption, plan_training_interruption
from driftline_local.sample_data import SAMPLE_MODEL_YAML, generate_bank_marketing
from driftline_local.shadow_demo import shadow_test_story
from driftline_local.sns import read_mailbox, wait_for_mail

MODEL = "bank-marketing"
ENDPOINT = f"driftline-{MODEL}"
TIME_SCALE = 30  # alarm periods and schedules: an hourly monitor would run every two minutes
# Short waits and an every-5-minutes monitor (every 10 s at the demo's time scale); else the defaults.
DEMO_CONFIG = (
    SAMPLE_MODEL_YAML
    + FAST_TIMINGS
    + "training:\n  start_on_upload: {on_upload}\n  hyperparameters:\n    num_round: 400\n"
    + "gate:\n  max_regression_vs_production: 0.05\n"
    + "monitoring:\n  schedule: rate(5 minutes)\n  window_seconds: 900\n  min_records: 300\n"
)
SIGTERM_LINE = re.compile(r"SIGTERM received: checkpoint-(\d+)\.json written")
RESUME_LINE = re.compile(r"resuming from checkpoint-(\d+)\.json")


class Console:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)


@dataclass
class Story:
    first: RunResult | None = None
    resume: dict[str, Any] = field(default_factory=dict)
    batch: dict[str, Any] = field(default_factory=dict)
    rollback: dict[str, Any] = field(default_factory=dict)
    shadow: dict[str, Any] = field(default_factory=dict)
    retrain: RunResult | None = None
    auc_before: float | None = None
    auc_after: float | None = None
    ok: bool = True


def run_demo(rows: int = 6000, files: int = 3, workdir: Path | None = None) -> int:
    say = Console()
    # moto logs every execution that ends in a Fail state as an error; the demo's rollback ends so on purpose
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)
    workdir = workdir or REPO_ROOT / ".local-cloud" / "demo"
    shutil.rmtree(workdir, ignore_errors=True)  # a fresh cloud: no pages or jobs from an earlier demo
    say(f"starting the local cloud (moto + Driftline's execution extensions, time scale x{TIME_SCALE})")
    story = Story()
    with LocalCloud(port=0, workdir=workdir, time_scale=TIME_SCALE) as cloud:
        deploy_local_stack(cloud, REPO_ROOT / "template.yaml")
        clients = Clients(cloud.endpoint_url, cloud.ctx.region)
        stack = Stack.describe(clients)
        say(f"stack 'driftline' deployed at {cloud.endpoint_url}; data bucket {stack.data_bucket}")
        _first_model(clients, stack, rows, files, story, say)
        if story.ok:
            _batch(clients, stack, story, say)
        if story.ok:
            _bad_candidate(clients, stack, story, say)
        if story.ok:
            _shadow(clients, stack, story, say)
        if story.ok:
            _drift(clients, stack, story, say, cloud)
        _summary(story, read_mailbox(cloud.ctx), cloud.endpoint_url)
        _status(clients)
    return 0 if story.ok else 1


def _status(clients: Clients) -> None:
    """What `driftline status` shows at the end (the same screen an on-call engineer would look at)."""
    ops = _ops(clients)
    print(f"\n=== driftline status --endpoint-url {clients.endpoint_url} ===")
    incidents = open_incidents(ops)
    for model in ops.models():
        render_model(fmt.console(), model_status(ops, model, ops.model_items(model), incidents.get(model, []), 3))


def _first_model(clients: Clients, stack: Stack, rows: int, files: int, story: Story, say: Console) -> None:
    say(f"== 1. onboarding '{MODEL}': s3://{stack.data_bucket}/models/{MODEL}/model.yaml")
    onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="true"), MODEL)
    data = generate_bank_marketing(rows, seed=7)
    size = -(-len(data) // files)
    parts = [data.iloc[i : i + size] for i in range(0, len(data), size)]
    say(f"uploading {rows} labelled rows as a burst of {files} CSV files, plus one broken file")
    # Spot capacity is reclaimed once, after round 100; it comes back and the job resumes in place.
    interruption = plan_training_interruption(
        PlannedInterruption("-train-1", TRAINING_ROUND, at_least=100, notice_seconds=2.0, outcome="resume")
    )
    since = upload_frames(clients, stack, MODEL, parts)
    clients("s3").put_object(
        Bucket=stack.data_bucket, Key=f"incoming/{MODEL}/broken.csv", Body=b"age,job,outcome\n41,admin.,no\n"
    )
    _watch(clients, wait_for_new_run(_ops(clients), f"{MODEL}-", since), say)
    story.first = result = wait_for_run(clients, stack, MODEL, since, _quiet)
    if interruption.fired.is_set():
        say("spot capacity was reclaimed from the training job after round 100 (it restarts in place)")
    say(f"run finished: {result.status} in {result.seconds:.1f}s from the first upload")
    story.ok = result.status == "SUCCEEDED" and bool(result.endpoint_name)
    if not story.ok:
        return
    story.resume = _resume_facts(clients, result.attempts[-1]["job_name"])
    if story.resume:
        say(
            f"spot: stopped after round {story.resume['stopped_at']}, resumed from checkpoint round "
            f"{story.resume['resumed_from']} ({story.resume['redone']} rounds redone, "
            f"{story.resume['lost_seconds']:.1f}s lost to the restart)"
        )
    fresh = generate_bank_marketing(3, seed=99)
    for (_, row), prediction in zip(
        fresh.iterrows(), predict(clients, ENDPOINT, fresh.drop(columns=["y", "duration"])), strict=True
    ):
        say(
            f"predict: age={row['age']:<3} job={row['job']:<13} -> P(yes)={prediction['score']:.3f} (actual {row['y']})"
        )


TRAINING_ROUND = re.compile(r"\bround=(\d+) ")  # jobs/train.py logs it at every checkpoint


def _resume_facts(clients: Clients, job: str) -> dict[str, Any]:
    """From the job's log and status history: where it stopped, where it resumed, what the restart cost."""
    logs = clients("logs")
    lines: list[str] = []
    for stream in logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job)[
        "logStreams"
    ]:
        lines += [
            e["message"]
            for e in logs.get_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
        ]
    stopped = [int(m.group(1)) for line in lines if (m := SIGTERM_LINE.search(line))]
    resumed = [int(m.group(1)) for line in lines if (m := RESUME_LINE.search(line))]
    if not stopped or not resumed:
        return {}
    transitions = clients("sagemaker").describe_training_job(TrainingJobName=job)["SecondaryStatusTransitions"]
    lost, interrupted_at = 0.0, None
    for transition in transitions:
        if transition["Status"] == "Interrupted":
            interrupted_at = transition["StartTime"]
        elif transition["Status"] == "Training" and interrupted_at is not None:
            lost += (transition["StartTime"] - interrupted_at).total_seconds()
            interrupted_at = None
    return {
        "stopped_at": stopped[0],
        "resumed_from": resumed[-1],
        "redone": stopped[0] - resumed[-1],
        "lost_seconds": lost,
    }


def _batch(clients: Clients, stack: Stack, story: Story, say: Console) -> None:
    say(f"== 2. batch predictions: unlabelled rows dropped in batch/{MODEL}/")
    rows = generate_bank_marketing(500, seed=21).drop(columns=["y", "duration"])
    rows.insert(0, "id", [f"c-{n:04d}" for n in range(len(rows))])
    try:
        result = show_batch_predictions(clients, stack, MODEL, rows, shown=3, progress=say)
    except BatchFailed as failure:
        say(f"batch predictions failed: {failure}")
        story.ok = False
        return
    story.batch = {"rows": len(result.rows), "output": result.output_key, "seconds": result.seconds}
    story.ok = len(result.rows) == len(rows)


def _candidate_model_data(clients: Clients, story: Story) -> str:
    """The first run's model artifact: the demo's candidates are this model with a fault injected."""
    assert story.first is not None
    training_job = clients("sagemaker").describe_training_job(TrainingJobName=story.first.attempts[-1]["job_name"])
    return str(training_job["ModelArtifacts"]["S3ModelArtifacts"])


def _bad_candidate(clients: Clients, stack: Stack, story: Story, say: Console) -> None:
    say("== 3. a bad candidate: its variant fails every request once it takes traffic")
    model_data = _candidate_model_data(clients, story)
    run = f"{MODEL}-manual-20261128T090000"
    variant = run.removeprefix(f"{MODEL}-")
    rows = generate_bank_marketing(2000, seed=5).drop(columns=["y", "duration"])  # a representative sample
    with Traffic(clients, ENDPOINT, rows, per_second=15) as traffic:
        execution = start_rollout(clients, stack, MODEL, run, model_data)
        _wait(lambda: variant in _variants(clients))
        set_fault(ENDPOINT, variant, error_rate=1.0)
        say(f"candidate {variant} joined the endpoint at 10% of traffic; fault injected")
        _watch(clients, run, say)
        outcome = wait_for_execution(clients, execution)
        finished = time.time()
        time.sleep(2)
    after = traffic.log.served_by(since=finished)
    story.rollback = {
        "status": outcome["status"],
        "error": outcome.get("error"),
        "sent": traffic.log.sent,
        "failed": traffic.log.failed,
        "served": traffic.log.served_by(),
        "after": after,
        "candidate_after": after.get(variant, 0),
    }
    say(f"rollout ended {outcome['status']} ({outcome.get('error')}); requests after the rollback: {after}")
    story.ok = outcome.get("error") == "CandidateRolledBack" and story.rollback["candidate_after"] == 0


def _shadow(clients: Clients, stack: Stack, story: Story, say: Console) -> None:
    rows = generate_bank_marketing(2000, seed=6).drop(columns=["y", "duration"])
    story.shadow = shadow_test_story(
        clients,
        stack,
        MODEL,
        DEMO_CONFIG.format(on_upload="true"),
        _candidate_model_data(clients, story),
        rows,
        say=say,
        run_id=f"{MODEL}-manual-20261128T100000",
    )
    story.ok = story.shadow["error"] == "CandidateFailedShadowTest" and story.shadow["customer_requests_failed"] == 0


def _drift(clients: Clients, stack: Stack, story: Story, say: Console, cloud: LocalCloud) -> None:
    say("== 4. the population shifts: fresh labelled data is kept, traffic drifts")
    onboard_model(clients, stack, DEMO_CONFIG.format(on_upload="false"), MODEL)
    upload_frames(clients, stack, MODEL, [generate_bank_marketing(12000, seed=8, shift=1.0)], prefix="shifted")
    holdout = generate_bank_marketing(1000, seed=9, shift=1.0)
    story.auc_before, variant = _auc(clients, holdout)
    say(f"production model ({variant}) on the shifted population: AUC {story.auc_before:.3f}")
    traffic_rows = generate_bank_marketing(2000, seed=10, shift=1.0).drop(columns=["y", "duration"])
    with Traffic(clients, ENDPOINT, traffic_rows, per_second=15):
        alarm = wait_for_mail(cloud.ctx, f"{MODEL}: drift alarm")
        say(f"page: {alarm['subject']}")
        for line in alarm["message"].splitlines():
            if line.startswith(("Drifted features", '  "', "What Driftline did", "Drift report", "Runbook")):
                say(f"      {line.strip()}")
        started = _watch(clients, wait_for_new_run(_ops(clients), f"{MODEL}-drift-", time.time() - 300), say)
        story.retrain = wait_for_run(clients, stack, MODEL, started, _quiet)
        resolved = wait_for_mail(cloud.ctx, f"{MODEL}: drift alarm resolved")
        say(f"page: {resolved['subject']}")
    story.auc_after, variant = _auc(clients, holdout)
    say(
        f"retrained model ({variant}) on the shifted population: AUC {story.auc_after:.3f} (was {story.auc_before:.3f})"
    )
    story.ok = story.retrain.status == "SUCCEEDED"


def _watch(clients: Clients, run: str, say: Console) -> float:
    """Follow a run (or rollout) with `driftline watch`'s display; returns when its execution started."""
    say(f"following {run} (as `driftline watch {run}` does)")
    follow(RunWatcher(_ops(clients), run), default_view(say), interval=1.0)
    for machine in (_ops(clients).stack.training_pipeline_arn, _ops(clients).stack.canary_rollout_arn):
        arn = machine.replace(":stateMachine:", ":execution:") + f":{run}"
        try:
            return float(clients("stepfunctions").describe_execution(executionArn=arn)["startDate"].timestamp())
        except clients("stepfunctions").exceptions.ExecutionDoesNotExist:
            continue
    return time.time()


_SESSIONS: dict[str, Driftline] = {}


def _ops(clients: Clients) -> Driftline:
    """The session `driftline watch` would use on this local cloud."""
    if clients.endpoint_url not in _SESSIONS:
        _SESSIONS[clients.endpoint_url] = Driftline.for_local_cloud(clients.endpoint_url, clients.region)
    return _SESSIONS[clients.endpoint_url]


def _quiet(message: str) -> None:
    """The steps were shown live; `wait_for_run` only collects the run's facts."""


def _auc(clients: Clients, frame: pd.DataFrame) -> tuple[float, str]:
    """The serving model's AUC on labelled rows, and which variant answered."""
    body = json.dumps({"instances": json.loads(frame.drop(columns=["y", "duration"]).to_json(orient="records"))})
    answer = clients("sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="application/json", Accept="application/json", Body=body.encode()
    )
    scores = [p["score"] for p in json.loads(answer["Body"].read())["predictions"]]
    return float(roc_auc_score((frame["y"] == "yes").astype(int), scores)), str(answer["InvokedProductionVariant"])


def _variants(clients: Clients) -> list[str]:
    described = clients("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return [v["VariantName"] for v in described["ProductionVariants"]]


def _wait(check: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo waited too long")
        time.sleep(0.2)


def _summary(story: Story, mailbox: list[dict[str, Any]], endpoint_url: str) -> None:
    print("\n=== Driftline demo summary ===")
    first = story.first
    if first:
        print(f"first run      {first.run_id}  ({first.status}, {first.seconds:.1f}s from upload to serving)")
        if first.metrics:
            print("test metrics   " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(first.metrics.items())))
        if first.gate:
            verdict = "passed" if first.gate.get("passed") else "FAILED"
            print(f"quality gate   {verdict}: {'; '.join(first.gate.get('reasons', []))}")
        if first.spot:
            print(
                f"spot training  {int(first.spot.get('interruptions') or 0)} interruption(s); spot saved "
                f"{first.spot.get('spot_savings_percent')}% (1 - billable / training seconds)"
            )
        if story.resume:
            print(
                f"               resumed from round {story.resume['resumed_from']} after stopping at round "
                f"{story.resume['stopped_at']}: {story.resume['redone']} rounds redone, "
                f"{story.resume['lost_seconds']:.1f}s lost"
            )
        print(f"endpoint       {first.endpoint_name}  (local cloud {endpoint_url})")
        for step in first.steps:
            print(f"  {step.seconds:7.1f}s  {step.step}")
        if first.error:
            print(f"error          {first.error}")
    if story.rollback:
        rb = story.rollback
        print(
            f"bad candidate  {rb['status']} ({rb['error']}); {rb['sent']} requests sent, {rb['failed']} failed "
            f"(the faulted candidate's); served by variant {rb['served']}; "
            f"served by the candidate after the rollback: {rb['candidate_after']}"
        )
    if story.batch:
        batch = story.batch
        print(f"batch          {batch['rows']} predictions in {batch['output']} ({batch['seconds']:.1f}s)")
    if story.shadow:
        sh = story.shadow
        print(
            f"shadow test    {sh['status']} ({sh['error']}); the shadow failed {sh['mirrored_failed']} of "
            f"{sh['mirrored']} mirrored requests; {sh['customer_requests']} customer requests, "
            f"{sh['customer_requests_failed']} failed"
        )
    if story.retrain:
        print(f"drift retrain  {story.retrain.run_id} ({story.retrain.status})")
    if story.auc_before is not None and story.auc_after is not None:
        print(f"shifted population AUC: before {story.auc_before:.3f} -> after {story.auc_after:.3f}")
    print("pages to on-call:")
    for message in mailbox:
        print(f"  - {message.get('subject')}")
