"""CloudWatch metric alarms that change state from metric data, for the local cloud.

moto 5.2.5 stores alarms and metric data but never evaluates an alarm (a new one sits in OK, "Unchecked"
for ever), and SetAlarmState changes the stored state only. Here a background evaluator judges every
metric alarm moto knows (all accounts and regions) from moto's metric data, as CloudWatch does:

- the metric: Namespace/MetricName/Dimensions (dimensions matched exactly, as CloudWatch matches a
  metric), Unit when the alarm has one, and Statistic (SampleCount, Average, Sum, Minimum, Maximum) or
  ExtendedStatistic pNN (nearest rank over raw values; statistic sets carry none unless
  min == max, as in CloudWatch). A `Metrics` alarm is evaluated when exactly one query returns data and
  it is a MetricStat; metric math, anomaly bands (the LessThanLowerOrGreaterThanUpperThreshold family)
  and composite alarms are left alone;
- the last EvaluationPeriods periods, DatapointsToAlarm of them breaching to alarm (default all),
  with the four threshold comparisons and TreatMissingData missing / ignore / breaching / notBreaching
  (see `decide`), EvaluateLowSampleCountPercentile=ignore holding the state on thin percentile data.

Time: alarm periods run `ctx.time_scale` times faster. Metric timestamps stay wall-clock (what
PutMetricData and the SageMaker endpoints record); an alarm with Period P is judged on wall-clock
windows of P / time_scale seconds aligned to the epoch (Period 60 at time_scale 60: whole seconds), the
last complete window being the one that ended at least `EVALUATION_DELAY_SECONDS` ago so that
aggregated metrics have arrived. StateReasonData reports the alarm's own Period and the windows'
wall-clock start times.

On a state change the moto alarm is updated (StateValue, StateReason, StateReasonData,
StateUpdatedTimestamp, moto's history), a `CloudWatch Alarm State Change` event goes onto the default
bus of the alarm's account and region (AWS's documented shape: alarmName, state, previousState,
configuration.metrics), and when ActionsEnabled the AlarmActions / OKActions / InsufficientDataActions
that are SNS topics get CloudWatch's notification JSON through moto SNS (so the local SNS delivery
reaches email, Lambda and SQS subscribers). SetAlarmState does the same when it changes the state;
the next period's evaluation then sets the state from the data again. As on AWS, PutMetricAlarm creates
an alarm in INSUFFICIENT_DATA and an update keeps the alarm's state.

`evaluate_now()` judges every alarm at once (tests, the `evaluate_alarms` control action).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import operator
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from driftline_local import alarm_limits, dashboard_limits, event_log
from driftline_local.context import LocalCloudContext

log = logging.getLogger(__name__)

EVALUATION_DELAY_SECONDS = 0.5  # real seconds a window is given for its (aggregated) metrics to arrive
TICK_SECONDS = 0.1
EVENT_DETAIL_TYPE = "CloudWatch Alarm State Change"
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")

_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_TRIGGER_STATISTICS = {
    "SampleCount": "SAMPLE_COUNT",
    "Average": "AVERAGE",
    "Sum": "SUM",
    "Minimum": "MINIMUM",
    "Maximum": "MAXIMUM",
}
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")

_lock = threading.RLock()
_ctx: LocalCloudContext | None = None
_evaluator: AlarmEvaluator | None = None
_originals: dict[str, Callable[..., Any]] = {}


# --- what an alarm watches ----------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSpec:
    namespace: str
    name: str
    dimensions: frozenset[tuple[str, str]]
    period: int
    stat: str  # SampleCount | Average | Sum | Minimum | Maximum | pNN
    unit: str | None


def metric_spec(alarm: Any) -> MetricSpec | None:
    """The single metric an alarm evaluates, or None when the local evaluator cannot judge it."""
    if getattr(alarm, "rule", None) is not None:  # composite alarm
        return None
    if alarm.comparison_operator not in _COMPARISONS:
        return None
    if alarm.metric_data_queries:
        returning = [q for q in alarm.metric_data_queries if _returns_data(q)]
        if len(returning) != 1 or returning[0].metric_stat is None:
            return None
        stat = returning[0].metric_stat
        spec = MetricSpec(
            stat.metric.namespace,
            stat.metric.metric_name,
            frozenset((d.name, d.value) for d in stat.metric.dimensions),
            int(stat.period or 0),
            str(stat.stat or ""),
            stat.unit or None,
        )
    else:
        spec = MetricSpec(
            alarm.namespace or "",
            alarm.metric_name or "",
            frozenset((d.name, d.value) for d in alarm.dimensions),
            int(alarm.period or 0),
            str(alarm.extended_statistic or alarm.statistic or ""),
            alarm.unit or None,
        )
    if not (spec.namespace and spec.name and spec.period > 0):
        return None
    if spec.stat not in _STATISTICS and not _PERCENTILE.match(spec.stat):
        return None
    return spec


def _returns_data(query: Any) -> bool:
    value = query.return_data
    return value is None or value is True or str(value).lower() == "true"


# --- statistics over moto's metric data -----------------------------------------------------------
@dataclass
class Datapoint:
    start: float  # wall-clock epoch seconds of the window's start
    value: float | None  # None: missing
    samples: float = 0.0
    low_sample: bool = False


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:  # moto keeps wire timestamps as naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class _MetricIndex:
    """moto's metric data of one backend by (namespace, name, dimensions), extended as data arrives.

    moto keeps one append-only list per backend; scanning all of it for every alarm every period grows
    with the session, so each evaluation only indexes what was appended since the last one.
    """

    def __init__(self, data: list[Any]) -> None:
        self.data = data  # moto's list itself: a reset replaces it
        self.seen = 0
        self.series: dict[tuple[str, str, frozenset[tuple[str, str]]], list[tuple[float, Any]]] = {}

    def update(self) -> None:
        fresh = self.data[self.seen :]
        self.seen += len(fresh)
        for datum in fresh:
            key = (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions))
            self.series.setdefault(key, []).append((_epoch(datum.timestamp), datum))


_indexes: dict[int, _MetricIndex] = {}


def _matching(backend: Any, spec: MetricSpec, start: float, end: float) -> list[tuple[float, Any]]:
    """The datums of exactly this metric with a timestamp in [start, end)."""
    index = _indexes.get(id(backend))
    if index is None or index.data is not backend.metric_data or index.seen > len(backend.metric_data):
        index = _indexes[id(backend)] = _MetricIndex(backend.metric_data)
    index.update()
    series = list(index.series.get((spec.namespace, spec.name, spec.dimensions), []))
    if spec.namespace == "AWS/S3":  # moto computes these on demand
        for datum in backend.aws_metric_data:
            if datum.name == spec.name and frozenset((d.name, d.value) for d in datum.dimensions) == spec.dimensions:
                series.append((_epoch(datum.timestamp), datum))
    return [
        (when, datum) for when, datum in series if start <= when < end and not (spec.unit and datum.unit != spec.unit)
    ]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def statistic(datums: list[Any], stat: str) -> tuple[float | None, float]:
    """`stat` over raw values and statistic sets; (None, samples) when CloudWatch could not compute it."""
    from moto.cloudwatch.models import MetricAggregatedDatum

    singles = [float(d.value) for d in datums if not isinstance(d, MetricAggregatedDatum)]
    sets = [d for d in datums if isinstance(d, MetricAggregatedDatum)]
    count = float(len(singles)) + sum(float(s.sample_count) for s in sets)
    if count <= 0:
        return None, 0.0
    total = sum(singles) + sum(float(s.sum) for s in sets)
    if stat == "SampleCount":
        return count, count
    if stat == "Sum":
        return total, count
    if stat == "Average":
        return total / count, count
    if stat == "Minimum":
        return min(singles + [float(s.min) for s in sets]), count
    if stat == "Maximum":
        return max(singles + [float(s.max) for s in sets]), count
    values = list(singles)
    for item in sets:
        raw = getattr(item, "values", None)
        if raw is not None:
            values += [float(v) for v in raw]
        elif item.sample_count == 1 or item.min == item.max:
            values += [float(item.min)] * max(1, int(item.sample_count))
        else:
            return None, count  # a statistic set hides its distribution
    return _percentile(values, float(stat[1:])), count


def datapoints(backend: Any, spec: MetricSpec, first_start: float, window: float, periods: int) -> list[Datapoint]:
    """One datapoint per window, oldest first."""
    buckets: list[list[Any]] = [[] for _ in range(periods)]
    for when, datum in _matching(backend, spec, first_start, first_start + periods * window):
        index = min(periods - 1, int((when - first_start) // window))
        buckets[index].append(datum)
    points = []
    for index, datums in enumerate(buckets):
        value, samples = statistic(datums, spec.stat) if datums else (None, 0.0)
        point = Datapoint(first_start + index * window, value, samples)
        if spec.stat.startswith("p") and value is not None:
            p = float(spec.stat[1:])
            point.low_sample = p < 100 and samples < 10 / (1 - p / 100)
        points.append(point)
    return points


# --- deciding the state -------------------------------------------------------------------------
@dataclass
class Decision:
    value: str
    reason: str
    reason_data: dict[str, Any]


def _timestamp(epoch: float) -> str:
    """CloudWatch's timestamp format in events, notifications and reason data."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _short(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d/%m/%y %H:%M:%S")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def decide(alarm: Any, spec: MetricSpec, points: list[Datapoint], now: float) -> Decision | None:
    """The state the alarm should be in after judging `points` (oldest first); None keeps it.

    Missing datapoints are replaced first: `breaching` / `notBreaching` count them as such; then, with
    M = DatapointsToAlarm of N = EvaluationPeriods:
    - ALARM when at least M datapoints breach;
    - nothing present: INSUFFICIENT_DATA (`missing`) or no change (`ignore`);
    - `missing` with fewer than M datapoints present: ALARM when all present ones breach (AWS's
      "- - X" example), else OK;
    - `ignore`: OK only when too few datapoints could still breach to reach M, else no change;
    - otherwise OK.
    """
    compare, words = _COMPARISONS[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    n = len(points)
    m = max(1, min(n, int(alarm.datapoints_to_alarm or n)))
    treat = alarm.treat_missing_data or "missing"
    if str(alarm.evaluate_low_sample_count_percentile or "").lower() == "ignore" and any(p.low_sample for p in points):
        return None
    present = [p for p in points if p.value is not None]
    breaching = [p for p in present if compare(float(p.value), threshold)]  # type: ignore[arg-type]
    fine = [p for p in present if not compare(float(p.value), threshold)]  # type: ignore[arg-type]
    substituted = n - len(present) if treat in ("breaching", "notBreaching") else 0
    bad = len(breaching) + (substituted if treat == "breaching" else 0)
    good = len(fine) + (substituted if treat == "notBreaching" else 0)
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": _timestamp(now),
        "startDate": _timestamp(points[0].start),
    }
    data["extendedStatistic" if spec.stat.startswith("p") else "statistic"] = spec.stat
    data.update(
        {
            "period": spec.period,
            "recentDatapoints": [p.value for p in present],
            "threshold": threshold,
            "evaluatedDatapoints": [
                {"timestamp": _timestamp(p.start), "sampleCount": p.samples, "value": p.value}
                if p.value is not None
                else {"timestamp": _timestamp(p.start)}
                for p in reversed(points)
                if p.value is not None or substituted
            ],
        }
    )
    if not present and not substituted:
        if treat == "ignore":
            return None
        return Decision("INSUFFICIENT_DATA", f"Insufficient Data: {_plural(n, 'datapoint')} {_was(n)} unknown.", data)
    if bad >= m:
        value = "ALARM"
    elif treat == "missing" and len(present) < m:
        value = "ALARM" if present and not fine else "OK"
    elif treat == "ignore" and good <= n - m:
        return None
    else:
        value = "OK"
    old = alarm.state_value
    if not present:
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        reason = (
            f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
            f"{_plural(n, 'missing datapoint')} {_was(n)} treated as [{kind}]."
        )
        return Decision(value, reason, data)
    shown = breaching if value == "ALARM" else fine
    judged, needed = n, (m if value == "ALARM" else n - m + 1)
    if treat == "missing" and len(present) < n:  # judged on the datapoints there are
        judged = len(present)
        needed = min(m, judged) if value == "ALARM" else max(1, judged - min(m, judged) + 1)
    listed = ", ".join(f"{p.value!r} ({_short(p.start)})" for p in reversed(shown))
    negation = "" if value == "ALARM" else "not "
    reason = (
        f"Threshold Crossed: {len(shown)} out of the last {judged} datapoints [{listed}] {_was(len(shown))} "
        f"{negation}{words} the threshold ({threshold!r})"
    )
    if substituted:
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        reason += f" and {_plural(substituted, 'missing datapoint')} {_was(substituted)} treated as [{kind}]"
    reason += f" (minimum {_plural(needed, 'datapoint')} for {old} -> {value} transition)."
    return Decision(value, reason, data)


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


# --- announcing a change ------------------------------------------------------------------------
@dataclass
class _State:
    value: str
    reason: str
    reason_data: str | None
    timestamp: datetime

    @classmethod
    def of(cls, alarm: Any) -> _State:
        return cls(alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp)

    def event_form(self) -> dict[str, Any]:
        state: dict[str, Any] = {"value": self.value, "reason": self.reason}
        if self.reason_data:
            state["reasonData"] = self.reason_data
        state["timestamp"] = _timestamp(_epoch(self.timestamp))
        return state


def _metric_stat(namespace: str, name: str, dimensions: list[Any], period: Any, stat: str, unit: Any) -> dict:
    metric_stat: dict[str, Any] = {
        "metric": {"dimensions": {d.name: d.value for d in dimensions}, "name": name, "namespace": namespace},
        "period": int(period or 0),
        "stat": stat,
    }
    if unit:
        metric_stat["unit"] = unit
    return metric_stat


def configuration(alarm: Any) -> dict[str, Any]:
    """The event's `configuration`: description and the alarm's metrics in EventBridge's casing."""
    config: dict[str, Any] = {}
    if alarm.description:
        config["description"] = alarm.description
    metrics: list[dict[str, Any]] = []
    if alarm.metric_data_queries:
        for query in alarm.metric_data_queries:
            entry: dict[str, Any] = {"id": query.id}
            if query.metric_stat is not None:
                stat = query.metric_stat
                entry["metricStat"] = _metric_stat(
                    stat.metric.namespace,
                    stat.metric.metric_name,
                    stat.metric.dimensions,
                    stat.period,
                    stat.stat,
                    stat.unit,
                )
            if query.expression:
                entry["expression"] = query.expression
            if query.label:
                entry["label"] = query.label
            entry["returnData"] = _returns_data(query)
            metrics.append(entry)
    elif alarm.metric_name:
        metrics.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
                "metricStat": _metric_stat(
                    alarm.namespace,
                    alarm.metric_name,
                    alarm.dimensions,
                    alarm.period,
                    alarm.extended_statistic or alarm.statistic,
                    alarm.unit,
                ),
                "returnData": True,
            }
        )
    config["metrics"] = metrics
    return config


def event_detail(alarm: Any, previous: _State) -> dict[str, Any]:
    return {
        "alarmName": alarm.name,
        "state": _State.of(alarm).event_form(),
        "previousState": previous.event_form(),
        "configuration": configuration(alarm),
    }


def _region_name(region: str) -> str:
    try:
        import botocore.session

        for partition in botocore.session.get_session().get_data("endpoints")["partitions"]:
            if region in partition["regions"]:
                return str(partition["regions"][region]["description"])
    except Exception:  # the code is an acceptable stand-in
        log.debug("no description for region %s", region, exc_info=True)
    return region


def notification(alarm: Any, account: str, region: str, previous: _State) -> tuple[str, str]:
    """(subject, message) of the SNS notification CloudWatch sends for the alarm's new state."""
    trigger: dict[str, Any]
    if alarm.metric_name:
        trigger = {"MetricName": alarm.metric_name, "Namespace": alarm.namespace}
        if alarm.extended_statistic:
            trigger.update({"StatisticType": "ExtendedStatistic", "ExtendedStatistic": alarm.extended_statistic})
        else:
            trigger.update(
                {"StatisticType": "Statistic", "Statistic": _TRIGGER_STATISTICS.get(alarm.statistic, alarm.statistic)}
            )
        trigger["Unit"] = alarm.unit
        trigger["Dimensions"] = [{"value": d.value, "name": d.name} for d in alarm.dimensions]
        trigger["Period"] = int(alarm.period or 0)
    else:
        trigger = {"Metrics": configuration(alarm)["metrics"]}
    trigger.update(
        {
            "EvaluationPeriods": int(alarm.evaluation_periods or 1),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods or 1),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold) if alarm.threshold is not None else None,
            "TreatMissingData": alarm.treat_missing_data or "missing",
            "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
        }
    )
    long_region = _region_name(region)
    message = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _timestamp(_epoch(alarm.configuration_updated_timestamp)),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _timestamp(_epoch(alarm.state_updated_timestamp)),
        "Region": long_region,
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": previous.value,
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "Trigger": trigger,
    }
    subject = f'{alarm.state_value}: "{alarm.name}" in {long_region}'
    if len(subject) > 100:  # SNS's limit
        subject = subject[:97] + "..."
    return subject, json.dumps(message)


def _announce(ctx: LocalCloudContext, account: str, region: str, alarm: Any, previous: _State) -> None:
    """The event and the actions of a state change that has just happened."""
    from driftline_local import eventbridge

    where = (
        ctx
        if (account, region) == (ctx.account_id, ctx.region)
        else dataclasses.replace(ctx, account_id=account, region=region)
    )
    event_log.events.info(
        "alarm %s: %s -> %s (%s)", alarm.name, previous.value, alarm.state_value, (alarm.state_reason or "")[:160]
    )
    try:
        eventbridge.emit(where, "aws.cloudwatch", EVENT_DETAIL_TYPE, event_detail(alarm, previous), [alarm.alarm_arn])
    except Exception:
        log.exception("could not put the state change event of alarm %s", alarm.name)
    if not alarm.actions_enabled:
        return
    actions = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }[alarm.state_value]
    if not actions:
        return
    subject, message = notification(alarm, account, region, previous)
    for action in actions:
        parts = action.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            log.warning("alarm %s: action %s is not run locally (only SNS topics are)", alarm.name, action)
            continue
        try:
            from moto.sns.models import sns_backends

            sns_backends[parts[4]][parts[3]].publish(message, arn=action, subject=subject)
        except Exception:
            log.exception("alarm %s: could not notify %s", alarm.name, action)


def set_state(
    ctx: LocalCloudContext, account: str, region: str, alarm: Any, value: str, reason: str, reason_data: str | None
) -> bool:
    """Move `alarm` to `value` and announce it; False when it already was in that state."""
    with _lock:
        if alarm.state_value == value:
            return False
        previous = _State.of(alarm)
        alarm.update_state(reason, reason_data, value)
    log.info("alarm %s: %s -> %s (%s)", alarm.name, previous.value, value, reason)
    _announce(ctx, account, region, alarm, previous)
    return True


# --- the evaluator ------------------------------------------------------------------------------
def _backends() -> Iterator[tuple[str, str, Any]]:
    from moto.cloudwatch.models import cloudwatch_backends

    for account, regions in list(cloudwatch_backends.items()):
        for region, backend in list(regions.items()):
            yield account, region, backend


def evaluation_windows(
    period: int, time_scale: float, periods: int, now: float | None = None
) -> list[tuple[float, float]]:
    """The wall-clock windows (start, end), oldest first, an alarm is judged on at `now`.

    Each is `period / time_scale` seconds, aligned to the epoch; the last is the latest one that ended
    at least `EVALUATION_DELAY_SECONDS` before `now`.
    """
    window = period / time_scale
    moment = (time.time() if now is None else now) - EVALUATION_DELAY_SECONDS
    last = math.floor(moment / window) - 1  # the window holding `moment` is still open
    return [((last - i) * window, (last - i + 1) * window) for i in reversed(range(periods))]


class AlarmEvaluator(threading.Thread):
    """Judges each alarm whenever one of its (scaled) periods has completed."""

    def __init__(self, ctx: LocalCloudContext) -> None:
        super().__init__(name="local-cloud-alarms", daemon=True)
        self.ctx = ctx
        self._stop = threading.Event()
        self._judged: dict[str, tuple[float, Any]] = {}  # alarm ARN -> (last window start, configuration time)

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not (self._stop.is_set() or self.ctx.stop_event.is_set()):
            try:
                self.evaluate(force=False)
            except Exception:
                log.exception("alarm evaluation failed")
            self._stop.wait(TICK_SECONDS)

    def evaluate(self, force: bool) -> list[dict[str, str]]:
        changes = []
        with _lock:
            now = time.time()
            for account, region, backend in _backends():
                for alarm in list(backend.alarms.values()):
                    change = self._judge(account, region, backend, alarm, now, force)
                    if change:
                        changes.append(change)
        return changes

    def _judge(
        self, account: str, region: str, backend: Any, alarm: Any, now: float, force: bool
    ) -> dict[str, str] | None:
        spec = metric_spec(alarm)
        if spec is None:
            return None
        periods = max(1, int(alarm.evaluation_periods or 1))
        windows = evaluation_windows(spec.period, self.ctx.time_scale, periods, now)
        marker = (windows[-1][0], alarm.configuration_updated_timestamp)
        if not force and self._judged.get(alarm.alarm_arn) == marker:
            return None
        self._judged[alarm.alarm_arn] = marker
        window = spec.period / self.ctx.time_scale
        points = datapoints(backend, spec, windows[0][0], window, periods)
        decision = decide(alarm, spec, points, now)
        if decision is None or decision.value == alarm.state_value:
            return None
        before = alarm.state_value
        reason_data = json.dumps(decision.reason_data, separators=(",", ":"))
        if not set_state(self.ctx, account, region, alarm, decision.value, decision.reason, reason_data):
            return None
        return {"alarmName": alarm.name, "region": region, "from": before, "to": decision.value}


def evaluate_now() -> list[dict[str, str]]:
    """Judge every alarm now (not waiting for its next period); returns the state changes made."""
    if _evaluator is None:
        raise RuntimeError("driftline_local.alarms is not installed")
    return _evaluator.evaluate(force=True)


# --- moto patches -------------------------------------------------------------------------------
def _put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
    """PutMetricAlarm as AWS: a new alarm starts INSUFFICIENT_DATA, an update keeps the state."""
    name = kwargs["name"] if "name" in kwargs else args[0]
    existing = self.alarms.get(name)
    alarm = _originals["put_metric_alarm"](self, *args, **kwargs)
    if existing is not None:
        alarm.state_value = existing.state_value
        alarm.state_reason = existing.state_reason
        alarm.state_reason_data = existing.state_reason_data
        alarm.state_updated_timestamp = existing.state_updated_timestamp
        alarm.history = existing.history
    else:
        alarm.state_value = "INSUFFICIENT_DATA"
        alarm.state_reason_data = None
    return alarm


def _set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
    """SetAlarmState, plus the event and actions a change brings."""
    alarm = self.alarms.get(alarm_name)
    with _lock:
        previous = _State.of(alarm) if alarm is not None else None
        _originals["set_alarm_state"](self, alarm_name, reason, reason_data, state_value)
    if _ctx is not None and previous is not None and previous.value != state_value:
        _announce(_ctx, self.account_id, self.region_name, self.alarms[alarm_name], previous)


def install(ctx: LocalCloudContext) -> None:
    """Patch moto's CloudWatch alarms and start the evaluator for `ctx`."""
    global _ctx, _evaluator
    from moto.cloudwatch.models import CloudWatchBackend

    from driftline_local import control

    uninstall()
    if not _originals:
        _originals["put_metric_alarm"] = CloudWatchBackend.put_metric_alarm
        _originals["set_alarm_state"] = CloudWatchBackend.set_alarm_state
        CloudWatchBackend.put_metric_alarm = _put_metric_alarm  # type: ignore[method-assign]
        CloudWatchBackend.set_alarm_state = _set_alarm_state  # type: ignore[method-assign]
    alarm_limits.install()  # PutMetricAlarm refuses the Period / EvaluationPeriods AWS refuses
    dashboard_limits.install()  # PutDashboard refuses the names and bodies CloudWatch refuses
    _ctx = ctx
    _evaluator = AlarmEvaluator(ctx)
    _evaluator.start()
    control.register(ctx, "evaluate_alarms", lambda payload: {"changes": evaluate_now()})


def uninstall() -> None:
    global _ctx, _evaluator
    if _evaluator is not None:
        _evaluator.stop()
        _evaluator = None
    _ctx = None
    _indexes.clear()
