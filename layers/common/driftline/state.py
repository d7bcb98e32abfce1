"""The state table: one DynamoDB table, items keyed by (pk, sk).

| pk                  | sk           | what                                                  |
|---------------------|--------------|-------------------------------------------------------|
| MODEL#<model>       | CONFIG       | the last valid model config (JSON)                     |
| MODEL#<model>       | OPENRUN      | the run still collecting uploads (its quiet window)    |
| MODEL#<model>       | RUN#<run>    | a run: trigger, status, steps, results, pages sent     |
| MODEL#<model>       | PRODUCTION   | the model serving traffic                              |
| MODEL#<model>       | ROLLOUT      | lock: the one rollout of this model now running        |
| MODEL#<model>       | MONITOR      | the last drift report (job, location, drifted features) |
| MODEL#<model>       | RETRAIN      | the last drift retrain (cooldown)                      |
| ALARM#<alarm>       | INCIDENT     | the alarm's incident: open/closed, flaps (one page each) |
| MONITORSCHEDULE#<s> | MODEL        | which model a SageMaker Model Monitor schedule watches |
| TRAININGJOB#<job>   | TOKEN        | the task token a training job's end completes          |
| MODEL#<model>       | LABELS       | the classes the model's accepted data has had          |
| MODEL#<model>       | BATCH#<job>  | a batch transform: its file, job, rows and output      |
| MODEL#<model>       | PAUSE        | the model is paused: who, when, why (absent: not paused) |
| MODEL#<model>       | OPERATION#<op> | the last operator command of a kind (double-typing window) |
| MODEL#<model>       | AUDIT#<time>#<op> | one operator command: who, when, what, why, outcome |
| IDEMPOTENCY#<what>  | <key>        | powertools Idempotency records (in progress / completed, expire) |
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, Key

from driftline import aws
from driftline.settings import settings

if TYPE_CHECKING:
    from driftline.config import ModelConfig

DEDUPE_TTL_SECONDS = 7 * 24 * 3600


def _table() -> Any:
    return aws.table(settings().state_table)


def _model_key(model: str) -> str:
    return f"MODEL#{model}"


def _is_conditional_failure(exc: Exception) -> bool:
    return aws.error_code(exc) == "ConditionalCheckFailedException"


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB numbers come back as Decimal; hand plain ints/floats to callers."""
    return json.loads(json.dumps(item, default=lambda d: int(d) if d == int(d) else float(d)))


# --- labels seen -------------------------------------------------------------------------------


def known_labels(model: str) -> tuple[frozenset[str], int]:
    """The classes the model's accepted data has had so far, and the record's version (0: none yet)."""
    item = _table().get_item(Key={"pk": _model_key(model), "sk": "LABELS"}, ConsistentRead=True).get("Item")
    if not item:
        return frozenset(), 0
    return frozenset(item.get("labels") or []), int(item["version"])


def record_labels(model: str, labels: frozenset[str], version: int) -> bool:
    """Store the model's classes if the record is still at `version`; False if another upload got there first."""
    condition = Attr("pk").not_exists() if version == 0 else Attr("version").eq(version)
    try:
        _table().put_item(
            Item={
                "pk": _model_key(model),
                "sk": "LABELS",
                "labels": sorted(labels),
                "version": version + 1,
                "updated_at": int(time.time()),
            },
            ConditionExpression=condition,
        )
        return True
    except Exception as exc:
        if _is_conditional_failure(exc):
            return False
        raise


# --- model config -------------------------------------------------------------------------------


def save_config(config: ModelConfig) -> None:
    _table().put_item(
        Item={
            "pk": _model_key(config.name),
            "sk": "CONFIG",
            "config": config.model_dump_json(),
            "updated_at": int(time.time()),
        }
    )
    if config.monitoring.model_monitor_schedule:
        _table().put_item(
            Item={
                "pk": f"MONITORSCHEDULE#{config.monitoring.model_monitor_schedule}",
                "sk": "MODEL",
                "model": config.name,
            }
        )


def model_for_monitoring_schedule(schedule: str) -> str | None:
    """The model whose config points Driftline at this SageMaker Model Monitor schedule."""
    item = _table().get_item(Key={"pk": f"MONITORSCHEDULE#{schedule}", "sk": "MODEL"}).get("Item")
    return str(item["model"]) if item else None


def load_config(model: str) -> ModelConfig | None:
    # The config models load with the first step that reads a config: a handler that never does (a training job's
    # state change, a page) builds none of model.yaml's models at init.
    from driftline.config import ModelConfig

    item = _table().get_item(Key={"pk": _model_key(model), "sk": "CONFIG"}).get("Item")
    return ModelConfig.model_validate_json(item["config"]) if item else None


def record_inferred_features(config: ModelConfig) -> ModelConfig:
    """Store features inferred from the first data, unless another upload stored them first.

    Returns the config that is now in force (ours, or the one that won the race).
    """
    try:
        _table().update_item(
            Key={"pk": _model_key(config.name), "sk": "CONFIG"},
            UpdateExpression="SET config = :config, features_inferred = :yes",
            ConditionExpression=Attr("pk").exists() & Attr("features_inferred").not_exists(),
            ExpressionAttributeValues={":config": config.model_dump_json(), ":yes": True},
        )
        return config
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    return load_config(config.name) or config


# --- the run collecting uploads -----------------------------------------------------------------


def open_or_join_run(model: str, candidate_run: str, uploaded_at: int) -> tuple[str, bool]:
    """Attach an upload to the model's open run, opening `candidate_run` if there is none.

    Returns (run id, whether this call opened it). Concurrent uploads race on a conditional write,
    so exactly one of them opens the run.
    """
    table = _table()
    key = {"pk": _model_key(model), "sk": "OPENRUN"}
    try:
        table.put_item(
            Item=key | {"run_id": candidate_run, "opened_at": uploaded_at, "last_upload_at": uploaded_at, "uploads": 1},
            ConditionExpression=Attr("pk").not_exists(),
        )
        return candidate_run, True
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    try:
        response = table.update_item(
            Key=key,
            UpdateExpression="SET last_upload_at = :at ADD uploads :one",
            ConditionExpression=Attr("pk").exists() & Attr("last_upload_at").lt(uploaded_at),
            ExpressionAttributeValues={":at": uploaded_at, ":one": 1},
            ReturnValues="ALL_NEW",
        )
        return str(response["Attributes"]["run_id"]), False
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    # Either the open run already saw a later upload, or it closed between our two writes.
    item = table.get_item(Key=key).get("Item")
    if item:
        return str(item["run_id"]), False
    return open_or_join_run(model, candidate_run, uploaded_at)


def open_run(model: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"pk": _model_key(model), "sk": "OPENRUN"}, ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def close_run(model: str, run: str) -> None:
    """Stop the run collecting uploads; later uploads open a new run."""
    try:
        _table().delete_item(
            Key={"pk": _model_key(model), "sk": "OPENRUN"},
            ConditionExpression=Attr("run_id").eq(run),
        )
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise


# --- runs ---------------------------------------------------------------------------------------


def create_run(model: str, run: str, **fields: Any) -> bool:
    """Record a new run; False (and nothing changed) if the run is already recorded."""
    try:
        _table().put_item(
            Item={"pk": _model_key(model), "sk": f"RUN#{run}", "run_id": run, "model": model} | _dynamo(fields),
            ConditionExpression=Attr("pk").not_exists(),
        )
        return True
    except Exception as exc:
        if _is_conditional_failure(exc):
            return False
        raise


def put_run(model: str, run: str, **fields: Any) -> None:
    _table().put_item(
        Item={"pk": _model_key(model), "sk": f"RUN#{run}", "run_id": run, "model": model} | _dynamo(fields)
    )


def update_run(model: str, run: str, **fields: Any) -> None:
    fields = {k: v for k, v in fields.items() if v is not None}
    if not fields:
        return
    names = {f"#{k}": k for k in fields}
    values = {f":{k}": v for k, v in _dynamo(fields).items()}
    _table().update_item(
        Key={"pk": _model_key(model), "sk": f"RUN#{run}"},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def record_run_page(model: str, run: str, entry: dict[str, Any]) -> bool:
    """Append a page sent about the run to its `pages` list; False if not appended.

    One logical page is one entry: a retried invocation that publishes the same page again (same kind and
    subject, in the same UTC minute as `entry["at"]`) finds its key in the `page_keys` list and appends nothing. A
    retry that crosses a minute boundary, or comes minutes later, is recorded again: it was sent again.
    Nothing is written when the run has no item (a page never creates a run).
    """
    key = f"{entry.get('kind')}|{entry.get('subject')}|{str(entry.get('at'))[:16]}"
    try:
        _table().update_item(
            Key={"pk": _model_key(model), "sk": f"RUN#{run}"},
            UpdateExpression="SET pages = list_append(if_not_exists(pages, :none), :one), "
            "page_keys = list_append(if_not_exists(page_keys, :none), :key)",
            ConditionExpression=Attr("pk").exists() & ~Attr("page_keys").contains(key),
            ExpressionAttributeValues={":none": [], ":one": [_dynamo(entry)], ":key": [key]},
        )
        return True
    except Exception as exc:
        if _is_conditional_failure(exc):
            return False
        raise


def get_run(model: str, run: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"pk": _model_key(model), "sk": f"RUN#{run}"}).get("Item")
    return _plain(item) if item else None


# --- production model ---------------------------------------------------------------------------


def get_production(model: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"pk": _model_key(model), "sk": "PRODUCTION"}).get("Item")
    return _plain(item) if item else None


def put_production(model: str, **fields: Any) -> None:
    _table().put_item(Item={"pk": _model_key(model), "sk": "PRODUCTION", "model": model} | _dynamo(fields))


# --- batch transforms ------------------------------------------------------------------------------


def create_batch(model: str, job: str, **fields: Any) -> bool:
    """A batch transform job of the model (`BATCH#<job>`): the file, the job, its outcome.

    Written once: a retried drop event finds the item (perhaps already finished) and leaves it (False).
    """
    try:
        _table().put_item(
            Item={"pk": _model_key(model), "sk": f"BATCH#{job}", "job": job} | _dynamo(fields),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
        return False
    return True


def get_batch(model: str, job: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"pk": _model_key(model), "sk": f"BATCH#{job}"}, ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def update_batch(model: str, job: str, **fields: Any) -> None:
    present = _dynamo(fields)  # Nones are left out
    names = {f"#f{i}": name for i, name in enumerate(present)}
    values = {f":v{i}": value for i, value in enumerate(present.values())}
    _table().update_item(
        Key={"pk": _model_key(model), "sk": f"BATCH#{job}"},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(present))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


# --- monitoring and incidents ---------------------------------------------------------------------


def put_monitoring_report(model: str, **fields: Any) -> None:
    _table().put_item(Item={"pk": _model_key(model), "sk": "MONITOR", "at": int(time.time())} | _dynamo(fields))


def get_monitoring_report(model: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"pk": _model_key(model), "sk": "MONITOR"}, ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def put_quality_report(model: str, **fields: Any) -> None:
    """The newest model quality job's findings (driftline.quality), for the quality alarm's page."""
    _table().put_item(Item={"pk": _model_key(model), "sk": "QUALITY", "at": int(time.time())} | _dynamo(fields))


def get_quality_report(model: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"pk": _model_key(model), "sk": "QUALITY"}, ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def get_incident(alarm: str) -> dict[str, Any] | None:
    item = _table().get_item(Key={"pk": f"ALARM#{alarm}", "sk": "INCIDENT"}, ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def open_incident(alarm: str, now: int, reopen_within: int, **fields: Any) -> tuple[bool, dict[str, Any]]:
    """Open the alarm's incident, or reopen the last one if it closed less than `reopen_within` s ago.

    Returns (whether this is a new incident, the incident). A duplicate ALARM (incident already open)
    returns (False, incident) and changes nothing: one page per incident, however the alarm flaps.
    """
    key = {"pk": f"ALARM#{alarm}", "sk": "INCIDENT"}
    try:
        _table().put_item(
            Item=key | {"status": "OPEN", "opened_at": now, "flaps": 0} | _dynamo(fields),
            ConditionExpression=Attr("pk").not_exists()
            | (Attr("status").eq("CLOSED") & Attr("closed_at").lte(now - reopen_within)),
        )
        return True, get_incident(alarm) or {}
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    try:
        _table().update_item(
            Key=key,
            UpdateExpression="SET #s = :open ADD flaps :one",
            ConditionExpression=Attr("status").eq("CLOSED"),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":open": "OPEN", ":one": 1},
        )
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    return False, get_incident(alarm) or {}


def close_incident(alarm: str, now: int) -> dict[str, Any] | None:
    """Close the alarm's open incident; None if none was open (a duplicate or stray OK)."""
    try:
        response = _table().update_item(
            Key={"pk": f"ALARM#{alarm}", "sk": "INCIDENT"},
            UpdateExpression="SET #s = :closed, closed_at = :now",
            ConditionExpression=Attr("status").eq("OPEN"),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":closed": "CLOSED", ":now": now},
            ReturnValues="ALL_NEW",
        )
    except Exception as exc:
        if _is_conditional_failure(exc):
            return None
        raise
    return _plain(response["Attributes"])


def mark_incident(alarm: str, done: str) -> None:
    """Record that an incident's page (`paged`) or resolution (`resolution_sent`) went out.

    Written after the page, never before: a retry of an invocation that died first sends it then.
    """
    _table().update_item(
        Key={"pk": f"ALARM#{alarm}", "sk": "INCIDENT"},
        UpdateExpression="SET #done = :t",
        ExpressionAttributeNames={"#done": done},
        ExpressionAttributeValues={":t": True},
    )


def claim_retrain(model: str, run: str, now: int, cooldown: int) -> str | None:
    """Record a drift retrain unless one started within `cooldown` s; returns the earlier run if refused."""
    key = {"pk": _model_key(model), "sk": "RETRAIN"}
    try:
        _table().put_item(
            Item=key | {"run_id": run, "started_at": now},
            ConditionExpression=Attr("pk").not_exists() | Attr("started_at").lte(now - cooldown),
        )
        return None
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    item = _table().get_item(Key=key, ConsistentRead=True).get("Item") or {}
    return str(item.get("run_id") or "an earlier run")


# --- operator commands: pause, double-typing window, audit ----------------------------------------


def get_pause(model: str) -> dict[str, Any] | None:
    """The model's pause (`paused_by`, `paused_at`, `reason`, `uploads_kept`, ...), or None if it is not paused."""
    item = _table().get_item(Key={"pk": _model_key(model), "sk": "PAUSE"}, ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def pause_note(model: str, pause: dict[str, Any]) -> str:
    """One sentence for pages and errors: who paused the model, since when, why, and how to undo it."""
    reason = pause.get("reason") or "no reason given"
    return (
        f"model '{model}' is paused by {pause.get('paused_by') or 'someone'} since {pause.get('paused_at') or '?'} "
        f"({reason}); `driftline resume {model}` ends the pause"
    )


def mark_pause(model: str, flag: str) -> None:
    """Note on the pause that something was done once for it (e.g. `uploads_paged`); nothing if not paused."""
    try:
        _table().update_item(
            Key={"pk": _model_key(model), "sk": "PAUSE"},
            UpdateExpression="SET #flag = :t",
            ConditionExpression=Attr("pk").exists(),
            ExpressionAttributeNames={"#flag": flag},
            ExpressionAttributeValues={":t": True},
        )
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise


def put_pause(model: str, **fields: Any) -> dict[str, Any] | None:
    """Pause the model unless it is paused already; returns the existing pause if it was (nothing changed)."""
    try:
        _table().put_item(
            Item={"pk": _model_key(model), "sk": "PAUSE", "model": model} | _dynamo(fields),
            ConditionExpression=Attr("pk").not_exists(),
        )
        return None
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    return get_pause(model)


def delete_pause(model: str) -> dict[str, Any] | None:
    """Resume the model; returns the pause that ended (None if it was not paused)."""
    response = _table().delete_item(Key={"pk": _model_key(model), "sk": "PAUSE"}, ReturnValues="ALL_OLD")
    attributes = response.get("Attributes")
    return _plain(attributes) if attributes else None


def count_held(model: str, what: str) -> int | None:
    """Add one to the pause's counter `what` (e.g. `uploads_kept`); its new value, None if not paused."""
    try:
        response = _table().update_item(
            Key={"pk": _model_key(model), "sk": "PAUSE"},
            UpdateExpression="ADD #what :one",
            ConditionExpression=Attr("pk").exists(),
            ExpressionAttributeNames={"#what": what},
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
    except Exception as exc:
        if _is_conditional_failure(exc):
            return None
        raise
    return int(response["Attributes"][what])


def claim_operation(model: str, op: str, ident: str, now: int, window: int, **fields: Any) -> dict[str, Any] | None:
    """Record operator command `op` (`ident`) unless one was recorded less than `window` s ago.

    Returns None when recorded, else the earlier command's record (a command typed twice finds the first).
    """
    key = {"pk": _model_key(model), "sk": f"OPERATION#{op}"}
    try:
        _table().put_item(
            Item=key | {"id": ident, "at": now} | _dynamo(fields),
            ConditionExpression=Attr("pk").not_exists() | Attr("at").lte(now - window),
        )
        return None
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    return _plain(_table().get_item(Key=key, ConsistentRead=True).get("Item") or {})


def recent_operation(model: str, op: str, now: int, window: int) -> dict[str, Any] | None:
    """The last `op` command if it was recorded less than `window` s ago."""
    item = _table().get_item(Key={"pk": _model_key(model), "sk": f"OPERATION#{op}"}, ConsistentRead=True).get("Item")
    if item and int(item["at"]) > now - window:
        return _plain(item)
    return None


def release_operation(model: str, op: str, ident: str) -> None:
    """Forget a claimed command that did not happen (it failed): typing it again then does the work."""
    try:
        _table().delete_item(
            Key={"pk": _model_key(model), "sk": f"OPERATION#{op}"}, ConditionExpression=Attr("id").eq(ident)
        )
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise


def audit(model: str, op: str, at: str, **fields: Any) -> None:
    """Record an operator command under `AUDIT#<ISO time>#<op>` (newest last in a query of the model)."""
    _table().put_item(Item={"pk": _model_key(model), "sk": f"AUDIT#{at}#{op}", "op": op, "at": at} | _dynamo(fields))


def audits(model: str, limit: int = 20) -> list[dict[str, Any]]:
    """The model's last operator commands, newest first."""
    response = _table().query(
        KeyConditionExpression=Key("pk").eq(_model_key(model)) & Key("sk").begins_with("AUDIT#"),
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_plain(item) for item in response.get("Items", [])]


def runs(model: str) -> list[dict[str, Any]]:
    """Every run of the model recorded in the table."""
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(_model_key(model)) & Key("sk").begins_with("RUN#"),
        "ConsistentRead": True,
    }
    found: list[dict[str, Any]] = []
    while True:
        response = _table().query(**query)
        found += [_plain(item) for item in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            return found
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# --- rollout lock -------------------------------------------------------------------------------

ROLLOUT_LOCK_SECONDS = 24 * 3600  # a rollout that died without releasing its lock stops blocking after this


def acquire_rollout_lock(model: str, holder: str, now: int | None = None) -> str | None:
    """Take the model's rollout lock for `holder` (re-entrant); returns the other holder if it is taken."""
    now = int(time.time()) if now is None else now
    key = {"pk": _model_key(model), "sk": "ROLLOUT"}
    try:
        _table().put_item(
            Item=key | {"holder": holder, "acquired_at": now, "expires_at": now + ROLLOUT_LOCK_SECONDS},
            ConditionExpression=Attr("pk").not_exists() | Attr("holder").eq(holder) | Attr("expires_at").lt(now),
        )
        return None
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise
    item = _table().get_item(Key=key, ConsistentRead=True).get("Item") or {}
    return str(item.get("holder") or "another rollout")


def rollout_lock(model: str, now: int | None = None) -> dict[str, Any] | None:
    """Who holds the model's rollout lock (`holder`, `acquired_at`), or None if it is free (or expired)."""
    now = int(time.time()) if now is None else now
    item = _table().get_item(Key={"pk": _model_key(model), "sk": "ROLLOUT"}, ConsistentRead=True).get("Item")
    if not item or int(item.get("expires_at") or 0) < now:
        return None
    return _plain(item)


def release_rollout_lock(model: str, holder: str) -> None:
    try:
        _table().delete_item(
            Key={"pk": _model_key(model), "sk": "ROLLOUT"}, ConditionExpression=Attr("holder").eq(holder)
        )
    except Exception as exc:
        if not _is_conditional_failure(exc):
            raise


# --- training task tokens -----------------------------------------------------------------------


def put_training_token(
    job: str,
    token: str,
    model: str,
    run: str,
    *,
    request: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
) -> None:
    """Park the pipeline's token under the job that will complete it (with what a successor needs)."""
    _table().put_item(
        Item=_dynamo(
            {
                "pk": f"TRAININGJOB#{job}",
                "sk": "TOKEN",
                "task_token": token,
                "model": model,
                "run_id": run,
                "request": request,
                "policy": policy,
                "expires_at": int(time.time()) + DEDUPE_TTL_SECONDS,
            }
        )
    )


def append_training_attempt(model: str, run: str, attempt: dict[str, Any]) -> list[dict[str, Any]]:
    """Add one finished training job to the run; returns every attempt so far, oldest first.

    A retried event (the token is handed back when its handler fails) finds its job there already and
    adds nothing: the claimed token serialises the events of one job.
    """
    recorded = (get_run(model, run) or {}).get("attempts") or []
    if any(a.get("job_name") == attempt.get("job_name") for a in recorded):
        return list(recorded)
    response = _table().update_item(
        Key={"pk": _model_key(model), "sk": f"RUN#{run}"},
        UpdateExpression="SET attempts = list_append(if_not_exists(attempts, :none), :one)",
        ExpressionAttributeValues={":none": [], ":one": [_dynamo(attempt)]},
        ReturnValues="ALL_NEW",
    )
    return list(_plain(response["Attributes"]).get("attempts") or [])


def claim_training_token(job: str) -> dict[str, Any] | None:
    """Take the job's task token exactly once: a duplicate event finds nothing to complete."""
    try:
        response = _table().delete_item(
            Key={"pk": f"TRAININGJOB#{job}", "sk": "TOKEN"},
            ConditionExpression=Attr("pk").exists(),
            ReturnValues="ALL_OLD",
        )
    except Exception as exc:
        if _is_conditional_failure(exc):
            return None
        raise
    return _plain(response.get("Attributes") or {}) or None


def _dynamo(fields: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB takes no floats: send Decimals, and drop Nones."""
    return json.loads(json.dumps({k: v for k, v in fields.items() if v is not None}, default=str), parse_float=Decimal)
