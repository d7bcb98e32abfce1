"""What a run is doing, from its state-table item and its Step Functions executions.

A run's TrainingPipeline execution is named after the run id, and so is its CanaryRollout execution
(docs/internals.md); the state table's RUN# item holds the rest (status, spot summary, gate, metrics).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from driftline_local.ops.session import Driftline, OpsError

# States that only route or wait: never "the current step" when a task step is known.
_ROUTING = ("ChoiceStateEntered", "PassStateEntered")
_ENTERED_SUFFIX = "StateEntered"


def execution_arn(machine_arn: str, name: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def find_run(ops: Driftline, run_id: str, model: str | None = None) -> tuple[str, dict[str, Any]]:
    """(model, run item) for a run id; the model is found from the id's prefix (`<model>-<trigger>-<time>`)."""
    table = ops.table()
    parts = run_id.split("-")
    candidates = [model] if model else ["-".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
    for name in candidates:
        item = table.get_item(Key={"pk": f"MODEL#{name}", "sk": f"RUN#{run_id}"}, ConsistentRead=True).get("Item")
        if item:
            from driftline_local.ops.session import plain

            return name, {"run_id": run_id} | plain(item)
    raise OpsError(
        f"unknown run id '{run_id}' in stack '{ops.stack_name}': run ids look like <model>-<trigger>-<time>; "
        "list a model's runs with `driftline runs MODEL`"
    )


def describe(ops: Driftline, arn: str) -> dict[str, Any] | None:
    sfn = ops.client("stepfunctions")
    try:
        return dict(sfn.describe_execution(executionArn=arn))
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def history(ops: Driftline, arn: str) -> list[dict[str, Any]]:
    sfn = ops.client("stepfunctions")
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**request)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        request["nextToken"] = page["nextToken"]


def executions(ops: Driftline, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's executions that exist: {"pipeline": described, "rollout": described}."""
    stack = ops.stack
    found = {}
    for kind, machine in (("pipeline", stack.training_pipeline_arn), ("rollout", stack.canary_rollout_arn)):
        described = describe(ops, execution_arn(machine, run_id))
        if described:
            found[kind] = described
    return found


def steps(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step in the order entered: name, state type, start, seconds (so far, if still in it), how it ended.

    A step entered again (a polling loop) is one row with its time added up and `times` counted.
    """
    rows: dict[str, dict[str, Any]] = {}
    open_at: dict[str, datetime] = {}
    last_time: datetime | None = None
    failed: str | None = None
    for event in events:
        last_time = event["timestamp"]
        if details := event.get("stateEnteredEventDetails"):
            name = details["name"]
            row = rows.setdefault(
                name,
                {
                    "step": name,
                    "type": event["type"].removesuffix(_ENTERED_SUFFIX),
                    "started": event["timestamp"],
                    "seconds": 0.0,
                    "times": 0,
                    "state": "running",
                },
            )
            row["times"] += 1
            row["state"] = "running"
            open_at[name] = event["timestamp"]
        elif details := event.get("stateExitedEventDetails"):
            name = details["name"]
            start = open_at.pop(name, None)
            if name in rows and start is not None:
                rows[name]["seconds"] += (event["timestamp"] - start).total_seconds()
                rows[name]["state"] = "done"
        elif event["type"] in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            failed = event["type"]
    for name, start in open_at.items():
        row = rows[name]
        if failed:
            row["state"] = "failed"
        elif last_time is not None:
            row["ongoing_seconds"] = (last_time - start).total_seconds()
    return list(rows.values())


def current_step(events: list[dict[str, Any]]) -> str | None:
    """The step a running execution is in: the last task/wait entered and not exited."""
    open_steps: list[tuple[str, str]] = []
    for event in events:
        if details := event.get("stateEnteredEventDetails"):
            open_steps.append((details["name"], event["type"]))
        elif details := event.get("stateExitedEventDetails"):
            open_steps = [s for s in open_steps if s[0] != details["name"]]
    meaningful = [name for name, kind in open_steps if kind not in _ROUTING]
    if meaningful:
        return meaningful[-1]
    return open_steps[-1][0] if open_steps else None


SUCCESS = frozenset({"SUCCEEDED", "DEPLOYED"})
ENDED = SUCCESS | {"FAILED", "REJECTED", "ROLLED_BACK"}


def reconciled_status(run_status: str | None, execution_status: str | None) -> str:
    """A run's status from its item and its execution: the item says more (REJECTED, ROLLED_BACK), but an
    execution that ended otherwise than SUCCEEDED overrides an item that still reads as a success (a step
    after the one that wrote it failed)."""
    if execution_status in (None, "RUNNING"):
        return "RUNNING" if execution_status and run_status in ENDED else str(run_status or "PENDING")
    if execution_status != "SUCCEEDED" and (run_status in SUCCESS or run_status not in ENDED):
        return execution_status
    if execution_status == "SUCCEEDED" and run_status not in ENDED:
        return execution_status
    return str(run_status)


def run_state(ops: Driftline, run: dict[str, Any]) -> dict[str, Any]:
    """The run's status and, while it runs, the step it is in (the rollout's step during `Roll out the model`)."""
    found = executions(ops, str(run["run_id"]))
    state: dict[str, Any] = {"status": run.get("status"), "step": None}
    pipeline = found.get("pipeline")
    if pipeline and pipeline["status"] == "RUNNING":
        state["step"] = current_step(history(ops, pipeline["executionArn"]))
        rollout = found.get("rollout")
        if rollout and rollout["status"] == "RUNNING":
            state["step"] = f"{state['step']}: {current_step(history(ops, rollout['executionArn']))}"
    elif run.get("failed_step"):
        state["step"] = f"failed at {run['failed_step']}"
    if pipeline:
        state["execution_status"] = pipeline["status"]
        state["status"] = reconciled_status(run.get("status"), pipeline["status"])
    return state
