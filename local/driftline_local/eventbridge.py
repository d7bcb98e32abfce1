"""EventBridge for the local cloud: rules deliver to every target type, S3 events look like AWS's,
and schedules fire.

moto 5.2.5 matches rules but delivers only to SQS, logs, buses and API destinations (Lambda, Step
Functions and SNS targets raise `NotImplementedError`, which S3 notifications swallow); it ignores a
rule's `State`; its events carry an epoch-number `time`; and S3's events share one constant `id` and
`sequencer`, use `eTag` instead of `etag`, and give `reason: ObjectCreated`. Here:

- `Rule.send_to_targets` is replaced: an ENABLED rule whose pattern matches hands the event to a
  background thread that applies each target's `Input`/`InputPath`/`InputTransformer` and delivers it
  to Lambda (async invoke through `lambda_runtime`), Step Functions (StartExecution), SNS, SQS, or
  moto's own code for the rest;
- S3 → EventBridge notifications are rebuilt in the AWS shape with a unique `id`, `request-id` and an
  increasing `sequencer`;
- rules with a `ScheduleExpression` and EventBridge Scheduler schedules fire on a cloud clock that
  runs `ctx.time_scale` times faster than the wall clock (rate(1 hour) at time_scale 60: every real
  minute). cron(...) takes AWS's six fields with `L`, `W` and `#`; PutRule rejects what AWS rejects
  (moto accepts any `cron(...)` and `rate(1 hours)`) with AWS's "Parameter ScheduleExpression is not
  valid."; a Scheduler schedule the local cloud cannot run is logged once and never fires.

Other local-cloud modules put events on the bus with `emit(...)`.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from driftline_local import s3_limits
from driftline_local.context import LocalCloudContext

log = logging.getLogger(__name__)

_ctx: LocalCloudContext | None = None
_executor: ThreadPoolExecutor | None = None
_scheduler: Scheduler | None = None
_original_send_to_targets: Callable[..., Any] | None = None
_original_put_rule: Callable[..., Any] | None = None
_managed_targets: dict[str, Callable[[dict[str, Any]], None]] = {}  # target ARN -> the AWS service's receiver


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- putting events on the bus ------------------------------------------------------------------
def emit(
    ctx: LocalCloudContext,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str] | None = None,
    event_bus: str = "default",
) -> str:
    """Put one event on a bus, as the AWS service `source` would; returns its id.

    Delivery to the matching rules' targets happens in the background.
    """
    from moto.events.models import events_backends

    backend = events_backends[ctx.account_id][ctx.region]
    entries = backend.put_events(
        [
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, default=str),
                "Resources": resources or [],
                "EventBusName": event_bus,
            }
        ]
    )
    if "EventId" not in entries[0]:
        raise ValueError(f"event rejected: {entries[0]}")
    return str(entries[0]["EventId"])


def _normalise(event: dict[str, Any]) -> dict[str, Any]:
    """The envelope as EventBridge delivers it (moto keeps `time` as epoch seconds)."""
    event = copy.deepcopy(event)
    event.pop("ingestion-time", None)
    when = event.get("time")
    if isinstance(when, int | float):
        event["time"] = _iso(dt.datetime.fromtimestamp(when, dt.UTC))
    elif isinstance(when, dt.datetime):
        event["time"] = _iso(when)
    elif not when:
        event["time"] = _iso(dt.datetime.now(dt.UTC))
    return event


# --- delivery -----------------------------------------------------------------------------------
def _send_to_targets(rule: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
    """Replacement for moto's `Rule.send_to_targets`: match here, deliver in the background."""
    if getattr(rule, "state", "ENABLED") != "ENABLED":
        return
    if getattr(rule, "scheduled_expression", None):  # a schedule rule only gets its own events
        return
    if not rule.event_pattern.matches_event(original_event):
        return
    event = _normalise(original_event)
    if _executor is None:
        return
    for target in list(rule.targets):
        _executor.submit(_deliver_safely, rule, target, event)


def _deliver_safely(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    try:
        deliver(rule, target, event)
    except Exception:
        log.exception("delivery of %s to %s failed", event.get("detail-type"), target.get("Arn"))


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What a target receives: the event, or its `Input`, `InputPath` or `InputTransformer`."""
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        return _transform(transformer, event)
    return event


def _transform(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    from jsonpath_ng.ext import parse

    values: dict[str, Any] = {}
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        matches = parse(path).find(event)
        values[name] = matches[0].value if matches else None
    values.setdefault("aws.events.event", event)
    values.setdefault("aws.events.event.json", event)
    values.setdefault("aws.events.rule-arn", "")
    template = transformer["InputTemplate"]

    def fill(match: re.Match[str]) -> str:
        quoted, name = match.group(1), match.group(2)
        if name not in values:
            return match.group(0)
        value = values[name]
        if quoted:  # "<name>" inside a JSON string: the raw text
            text = value if isinstance(value, str) else json.dumps(value)
            return '"' + json.dumps(text)[1:-1] + '"'
        return value if isinstance(value, str) and not template.lstrip().startswith(("{", "[")) else (json.dumps(value))

    filled = re.sub(r'(")?<([A-Za-z0-9_.\-]+)>(?(1)")', fill, template)
    try:
        return json.loads(filled)
    except ValueError:
        return filled


def delivering() -> bool:
    """Whether rules deliver to their targets here (the EventBridge extension is installed and running)."""
    return _executor is not None


def register_managed_target(arn: str, receive: Callable[[dict[str, Any]], None]) -> None:
    """A target that an AWS service puts on its managed rule (Step Functions' `.sync` rules): events that
    match the rule go to `receive` in this process, as they go to the service on AWS."""
    _managed_targets[arn] = receive


def deliver(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
    """Deliver one event to one rule target (called on a background thread)."""
    assert _ctx is not None
    arn: str = target["Arn"]
    managed = _managed_targets.get(arn)
    if managed is not None:
        managed(event)
        return
    service = arn.split(":")[2]
    payload = target_input(target, event)
    if service == "lambda":
        from moto.awslambda.utils import get_backend

        from driftline_local import lambda_runtime

        fn = get_backend(_ctx.account_id, _ctx.region).get_function(arn)
        lambda_runtime.active_runtime().invoke_async(fn, payload)
    elif service == "states":
        start_execution(_ctx, arn, payload)
    elif service == "sns":
        from moto.sns.models import sns_backends

        message = payload if isinstance(payload, str) else json.dumps(payload)
        sns_backends[_ctx.account_id][_ctx.region].publish(message, arn=arn)
    elif service == "sqs":
        from moto.sqs.models import sqs_backends

        body = payload if isinstance(payload, str) else json.dumps(payload)
        group_id = target.get("SqsParameters", {}).get("MessageGroupId")
        kwargs: dict[str, Any] = {"group_id": group_id, "validate_group_id": False} if group_id else {}
        if group_id:
            kwargs["deduplication_id"] = event.get("id")
        sqs_backends[_ctx.account_id][_ctx.region].send_message(arn.split(":")[5], body, **kwargs)
    else:  # logs, archives, other buses, API destinations: moto knows how
        assert _original_send_to_targets is not None
        proxy = copy.copy(rule)
        proxy.targets = [target]
        raw = dict(event)
        raw["time"] = dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
        _original_send_to_targets(proxy, raw, transform_input=True)


def start_execution(ctx: LocalCloudContext, state_machine_arn: str, payload: Any) -> str:
    """StartExecution as the EventBridge/Scheduler service principal would call it."""
    from moto.stepfunctions.responses import get_backend

    backend = get_backend(ctx.account_id, ctx.region)
    execution = backend.start_execution(state_machine_arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload))
    return str(execution.execution_arn)


# --- S3 → EventBridge ---------------------------------------------------------------------------
_S3_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}
_sequence_lock = threading.Lock()
_last_sequence = 0


def _next_sequencer() -> str:
    """S3's `sequencer`: hex, increasing for events on the same key (we make it global)."""
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(_last_sequence + 1, time.time_ns() // 1000)
        return f"{_last_sequence:018X}"


def s3_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any]:
    """The EventBridge event S3 sends for `event_name` on `key` (AWS's documented shape)."""
    from moto.s3.notifications import _detail_type

    detail_type = _detail_type(event_name)
    obj: dict[str, Any] = {"key": key.name}
    if detail_type != "Object Deleted" or getattr(key, "size", None):
        obj["size"] = key.size
        obj["etag"] = key.etag.replace('"', "")
    if getattr(key, "version_id", None) and key.version_id != "null":
        obj["version-id"] = key.version_id
    obj["sequencer"] = _next_sequencer()
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": _S3_REASONS.get(event_name, event_name.split(":")[-1]),
    }
    if detail_type == "Object Deleted":
        detail["deletion-type"] = (
            "Delete Marker Created" if event_name.endswith("DeleteMarkerCreated") else "Permanently Deleted"
        )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        "time": _iso(dt.datetime.now(dt.UTC)),
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
    }


def _send_s3_event_to_eventbridge(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    """Replacement for `moto.s3.notifications._send_event_bridge_message` (default bus only, as AWS)."""
    try:
        from moto.events.models import events_backends

        event = s3_event(account_id, bucket, event_name, key)
        bus = events_backends[account_id][bucket.region_name].event_buses.get("default")
        if bus is None:
            return
        for rule in list(bus.rules.values()):
            rule.send_to_targets(event, transform_input=True)  # type: ignore[arg-type]
    except Exception:
        log.exception("S3 event %s for %s not delivered", event_name, getattr(key, "name", key))


# --- schedules ----------------------------------------------------------------------------------
_MONTHS = {
    m: i + 1 for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # 1 = Sunday
_RATE = re.compile(r"rate\((\d+) +(minute|minutes|hour|hours|day|days)\)")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def _cron_field(spec: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows; None means any (`*` or `?`)."""
    if spec in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text) if step_text.isdigit() else 0
            if step < 1:
                raise ValueError(f"bad step in cron field {spec!r}")
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-")
            start, end = _cron_value(a, names), _cron_value(b, names)
        else:
            start = _cron_value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field {spec!r} is outside {low}-{high}")
        allowed.update(range(start, end + 1, step))
    return allowed


def _cron_value(text: str, names: dict[str, int] | None) -> int:
    text = text.upper()
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"bad cron value {text!r}")
    return int(text)


def _last_day(day: dt.datetime) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _weekday(day: dt.datetime) -> int:
    return (day.isoweekday() % 7) + 1  # Sunday = 1 ... Saturday = 7


def _nearest_weekday(year: int, month: int, target: int) -> int:
    """The `W` rule: the weekday nearest day `target`, never leaving the month."""
    last = calendar.monthrange(year, month)[1]
    target = min(target, last)
    weekday = dt.date(year, month, target).isoweekday()  # Monday = 1 ... Sunday = 7
    if weekday == 6:  # Saturday: Friday before, or Monday after when the 1st
        return target + 2 if target == 1 else target - 1
    if weekday == 7:  # Sunday: Monday after, or Friday before when the month's last day
        return target - 2 if target == last else target + 1
    return target


def _day_of_month(spec: str) -> Callable[[dt.datetime], bool]:
    """Day-of-month field: values, ranges, steps, `L` (last day), `LW`, `<n>W` (nearest weekday)."""
    upper = spec.upper()
    if upper == "L":
        return lambda day: day.day == _last_day(day)
    if upper == "LW":
        return lambda day: day.day == _last_weekday(day)
    if upper.endswith("W"):
        target = _cron_value(upper[:-1], None)
        if not 1 <= target <= 31:
            raise ValueError(f"bad day-of-month {spec!r}")
        return lambda day: day.day == _nearest_weekday(day.year, day.month, target)
    allowed = _cron_field(spec, 1, 31)
    return lambda day: allowed is None or day.day in allowed


def _last_weekday(day: dt.datetime) -> int:
    last = _last_day(day)
    weekday = dt.date(day.year, day.month, last).isoweekday()
    return last - max(0, weekday - 5)


def _day_of_week(spec: str) -> Callable[[dt.datetime], bool]:
    """Day-of-week field (1 = SUN): values, ranges, `L` (Saturday), `<d>L` (last <d>), `<d>#<n>` (n-th <d>)."""
    upper = spec.upper()
    if upper == "L":
        return lambda day: _weekday(day) == 7
    if "#" in upper:
        name, nth_text = upper.split("#")
        weekday, nth = _cron_value(name, _DAYS), _cron_value(nth_text, None)
        if not (1 <= weekday <= 7 and 1 <= nth <= 5):
            raise ValueError(f"bad day-of-week {spec!r}")
        return lambda day: _weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    if upper.endswith("L"):
        weekday = _cron_value(upper[:-1], _DAYS)
        if not 1 <= weekday <= 7:
            raise ValueError(f"bad day-of-week {spec!r}")
        return lambda day: _weekday(day) == weekday and day.day + 7 > _last_day(day)
    allowed = _cron_field(spec, 1, 7, _DAYS)
    return lambda day: allowed is None or _weekday(day) in allowed


class CronSchedule:
    """AWS's six-field cron: minutes hours day-of-month month day-of-week year, with L, W and #.

    As on AWS, exactly one of day-of-month and day-of-week is `?`. Times are in the schedule's zone
    (UTC for rules).
    """

    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) != 6:
            raise ValueError(f"cron needs 6 fields: {expression!r}")
        minutes, hours, day_of_month, month, day_of_week, year = fields
        if (day_of_month == "?") == (day_of_week == "?"):
            raise ValueError(f"one of day-of-month and day-of-week must be '?': {expression!r}")
        if "?" in (minutes, hours, month, year):
            raise ValueError(f"'?' is allowed only in day-of-month or day-of-week: {expression!r}")
        self.minutes = _cron_field(minutes, 0, 59)
        self.hours = _cron_field(hours, 0, 23)
        self.months = _cron_field(month, 1, 12, _MONTHS)
        self.years = _cron_field(year, 1970, 2199)
        self._day = _day_of_month(day_of_month) if day_of_week == "?" else _day_of_week(day_of_week)

    @staticmethod
    def _ok(allowed: set[int] | None, value: int) -> bool:
        return allowed is None or value in allowed

    def _day_ok(self, day: dt.datetime) -> bool:
        return self._ok(self.years, day.year) and self._ok(self.months, day.month) and self._day(day)

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        candidate = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = candidate + dt.timedelta(days=366 * 5)
        while candidate < limit:
            if not self._day_ok(candidate):
                candidate = (candidate + dt.timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if not self._ok(self.hours, candidate.hour):
                candidate = (candidate + dt.timedelta(hours=1)).replace(minute=0)
                continue
            if not self._ok(self.minutes, candidate.minute):
                candidate += dt.timedelta(minutes=1)
                continue
            return candidate
        return None


def _rate_period(body: str) -> dt.timedelta:
    match = _RATE.fullmatch(f"rate({body})")
    if not match:
        raise ValueError(f"rate needs '<value> <unit>': rate({body})")
    amount, unit = int(match.group(1)), match.group(2)
    if amount < 1 or (amount == 1) == unit.endswith("s"):  # AWS: rate(1 hour), rate(5 hours)
        raise ValueError(f"rate(1 <unit>) or rate(<n> <units>): rate({body})")
    return dt.timedelta(seconds=amount * _RATE_UNITS[unit.rstrip("s")])


def _zone(timezone: str | None) -> dt.tzinfo:
    if not timezone or timezone.upper() == "UTC":
        return dt.UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(timezone)


def validate_schedule(expression: str, allow_at: bool = False) -> None:
    """ValueError unless `expression` is a schedule the local cloud can run (rules: rate/cron)."""
    expression = expression.strip()
    kinds = ("rate(", "cron(", "at(") if allow_at else ("rate(", "cron(")
    if not expression.startswith(kinds) or not expression.endswith(")"):
        raise ValueError(f"unsupported schedule expression {expression!r}")
    now = dt.datetime.now(dt.UTC)
    next_fire(expression, now, now)


def next_fire(
    expression: str, after: dt.datetime, created: dt.datetime, timezone: str | None = None
) -> dt.datetime | None:
    """The next time (cloud clock, UTC) a `rate(...)`, `cron(...)` or `at(...)` expression fires.

    cron and at are read in `timezone` (EventBridge Scheduler's ScheduleExpressionTimezone; rules: UTC).
    """
    expression = expression.strip()
    body = expression[expression.index("(") + 1 : expression.rindex(")")].strip()
    if expression.startswith("rate("):
        period = _rate_period(body)
        elapsed = after - created
        return created + period * (elapsed // period + 1)
    zone = _zone(timezone)
    if expression.startswith("cron("):
        local = CronSchedule(body).next_after(after.astimezone(zone))
        return local.astimezone(dt.UTC) if local else None
    if expression.startswith("at("):
        when = dt.datetime.fromisoformat(body).replace(tzinfo=zone).astimezone(dt.UTC)
        return when if when > after else None
    raise ValueError(f"unsupported schedule expression {expression!r}")


class Scheduler(threading.Thread):
    """Fires schedule rules and Scheduler schedules on the cloud clock."""

    TICK_SECONDS = 0.1

    def __init__(self, ctx: LocalCloudContext) -> None:
        super().__init__(name="local-cloud-scheduler", daemon=True)
        self.ctx = ctx
        self._start_real = time.monotonic()
        self._start_cloud = dt.datetime.now(dt.UTC)
        self._next: dict[str, tuple[str, dt.datetime | None]] = {}  # arn -> (expression, next fire)
        self._stop = threading.Event()

    def now(self) -> dt.datetime:
        """The cloud clock: starts at the wall clock, runs `time_scale` times faster."""
        elapsed = (time.monotonic() - self._start_real) * self.ctx.time_scale
        return self._start_cloud + dt.timedelta(seconds=elapsed)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not (self._stop.is_set() or self.ctx.stop_event.is_set()):
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            self._stop.wait(self.TICK_SECONDS)

    def _due(self, arn: str, expression: str, now: dt.datetime, timezone: str | None = None) -> dt.datetime | None:
        """The scheduled time (cloud clock) when `arn` is due now, else None."""
        try:
            known = self._next.get(arn)
            if known is None or known[0] != expression:
                self._next[arn] = (expression, next_fire(expression, now, now, timezone))
                return None
            when = known[1]
            if when is None or when > now:
                return None
            # rate() keeps its phase from the first fire; a tick that came late fires once
            self._next[arn] = (expression, next_fire(expression, now, when, timezone))
            return when
        except (ValueError, KeyError) as exc:  # one bad schedule must not stop the others
            if self._next.get(arn) != (expression, None):
                log.error("schedule %s: %s is not supported locally (%s); it will not fire", arn, expression, exc)
            self._next[arn] = (expression, None)
            return None

    def tick(self) -> None:
        from moto.events.models import events_backends

        now = self.now()
        backend = events_backends[self.ctx.account_id][self.ctx.region]
        for bus in list(backend.event_buses.values()):
            for rule in list(bus.rules.values()):
                expression = getattr(rule, "scheduled_expression", None)
                if not expression or rule.state != "ENABLED":
                    continue
                when = self._due(rule.arn, expression, now)
                if when is not None:
                    self._fire_rule(rule, when)  # the event's time is the scheduled time, as on AWS
        for schedule in self._schedules():
            if schedule.state != "ENABLED":
                continue
            zone = getattr(schedule, "schedule_expression_timezone", None)
            when = self._due(schedule.arn, schedule.schedule_expression, now, zone)
            if when is not None:
                self._fire_schedule(schedule, when)

    def _schedules(self) -> list[Any]:
        try:
            from moto.scheduler.models import scheduler_backends

            backend = scheduler_backends[self.ctx.account_id][self.ctx.region]
            return [s for group in backend.schedule_groups.values() for s in group.schedules.values()]
        except Exception:
            return []

    def _fire_rule(self, rule: Any, now: dt.datetime) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.ctx.account_id,
            "time": _iso(now),
            "region": self.ctx.region,
            "resources": [rule.arn],
            "detail": {},
        }
        assert _executor is not None
        for target in list(rule.targets):
            _executor.submit(_deliver_safely, rule, target, event)

    def _fire_schedule(self, schedule: Any, now: dt.datetime) -> None:
        target = dict(schedule.target)
        text = target.get("Input")
        payload = json.loads(text) if text else {}
        assert _ctx is not None and _executor is not None
        # Scheduler's universal targets get the Input as is; EventBridge targets use the same path.
        _executor.submit(_deliver_safely, schedule, {"Arn": target["Arn"], "Input": json.dumps(payload)}, {})


def cloud_now() -> dt.datetime:
    """The local cloud's clock (scaled), for modules that time things in cloud seconds."""
    if _scheduler is None:
        return dt.datetime.now(dt.UTC)
    return _scheduler.now()


def _put_rule(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Replacement for moto's `EventsBackend.put_rule`: a schedule expression is validated as AWS does."""
    expression = kwargs.get("scheduled_expression")
    if expression:
        try:
            validate_schedule(expression)
        except (ValueError, KeyError):
            from moto.events.exceptions import ValidationException

            raise ValidationException("Parameter ScheduleExpression is not valid.") from None
    assert _original_put_rule is not None
    return _original_put_rule(self, name, *args, **kwargs)


# --- installation -------------------------------------------------------------------------------
def install(ctx: LocalCloudContext) -> None:
    """Patch moto's EventBridge and S3 notifications and start the scheduler for `ctx`."""
    global _ctx, _executor, _scheduler, _original_send_to_targets, _original_put_rule
    import moto.s3.notifications as s3_notifications
    from moto.events.models import EventsBackend, Rule

    uninstall()
    _ctx = ctx
    _executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="eventbridge-delivery")
    if _original_send_to_targets is None:
        _original_send_to_targets = Rule.send_to_targets
        Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign,assignment]
        s3_notifications._send_event_bridge_message = _send_s3_event_to_eventbridge
    if _original_put_rule is None:
        _original_put_rule = EventsBackend.put_rule
        EventsBackend.put_rule = _put_rule  # type: ignore[method-assign]
    s3_limits.install()  # CopyObject refuses a source over 5 GiB (S3's limit; lives here beside the S3 patches)
    _scheduler = Scheduler(ctx)
    _scheduler.start()


def uninstall() -> None:
    global _executor, _scheduler
    if _scheduler is not None:
        _scheduler.stop()
        _scheduler = None
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
        _executor = None
