"""Invocation metrics as SageMaker publishes them, put into moto's CloudWatch.

Namespace AWS/SageMaker, dimensions EndpointName + VariantName; Invocations, InvocationsPerInstance,
Invocation4XXErrors and Invocation5XXErrors (1 or 0 per request, by the status the model container
answered with), ModelLatency and OverheadLatency (microseconds). They are aggregated per variant over
`metrics_interval(ctx)` (one cloud minute, at most one real second) and put as statistic sets; the latency
sets also carry their raw values so percentile alarms can be evaluated (`driftline_local.alarms`).
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime

from driftline_local.context import LocalCloudContext

from ._aws import LOG

METRICS_NAMESPACE = "AWS/SageMaker"


def metrics_interval(ctx: LocalCloudContext) -> float:
    """Real seconds each invocation datapoint aggregates: one cloud minute (SageMaker's resolution), at most 1 s."""
    return min(1.0, 60.0 / ctx.time_scale)


class _Series:
    """One metric's statistic set over one interval (and its raw values, for percentiles)."""

    def __init__(self, keep_values: bool) -> None:
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.values: list[float] | None = [] if keep_values else None

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        if self.values is not None:
            self.values.append(value)


_UNITS = {
    "Invocations": "None",
    "InvocationsPerInstance": "None",
    "Invocation4XXErrors": "None",
    "Invocation5XXErrors": "None",
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
}
_LATENCIES = ("ModelLatency", "OverheadLatency")


class InvocationMetrics:
    """Aggregates invocation metrics per variant and interval; puts them into moto's CloudWatch."""

    def __init__(self, ctx: LocalCloudContext, stopped: threading.Event) -> None:
        self.ctx = ctx
        self.interval = metrics_interval(ctx)
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str, str, int], dict[str, _Series]] = {}
        self._stopped = stopped
        threading.Thread(target=self._flush_loop, name="sagemaker-endpoint-metrics", daemon=True).start()

    def record(
        self,
        account: str,
        region: str,
        endpoint: str,
        variant: str,
        model_status: int,
        model_us: float,
        overhead_us: float,
        instances: int,
    ) -> None:
        key = (account, region, endpoint, variant, math.floor(time.time() / self.interval))
        with self._lock:
            series = self._buckets.get(key)
            if series is None:
                series = self._buckets[key] = {name: _Series(name in _LATENCIES) for name in _UNITS}
            series["Invocations"].add(1.0)
            series["InvocationsPerInstance"].add(1.0 / max(1, instances))
            series["Invocation4XXErrors"].add(1.0 if 400 <= model_status < 500 else 0.0)
            series["Invocation5XXErrors"].add(1.0 if model_status >= 500 else 0.0)
            series["ModelLatency"].add(model_us)
            series["OverheadLatency"].add(overhead_us)

    def flush(self, everything: bool = False) -> None:
        """Publish every finished interval (`everything`: the current one too)."""
        current = math.floor(time.time() / self.interval)
        with self._lock:
            due = [key for key in self._buckets if everything or key[4] < current]
            ready = [(key, self._buckets.pop(key)) for key in due]
        for key, series in ready:
            try:
                self._publish(key, series)
            except Exception:
                LOG.exception("could not publish invocation metrics of %s/%s", key[2], key[3])

    def _publish(self, key: tuple[str, str, str, str, int], series: dict[str, _Series]) -> None:
        from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends

        account, region, endpoint, variant, index = key
        # naive UTC, as moto stores timestamps that arrive over the wire
        timestamp = datetime.fromtimestamp(index * self.interval, UTC).replace(tzinfo=None)
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        backend = cloudwatch_backends[account][region]
        for name, data in series.items():
            datum = MetricAggregatedDatum(
                namespace=METRICS_NAMESPACE,
                name=name,
                min_stat=data.low,
                max_stat=data.high,
                sample_count=float(data.count),
                sum_stat=data.total,
                dimensions=dimensions,
                timestamp=timestamp,
                unit=_UNITS[name],
            )
            if data.values is not None:
                datum.values = data.values  # type: ignore[attr-defined]  # read by driftline_local.alarms for pNN
            backend.metric_data.append(datum)

    def _flush_loop(self) -> None:
        while not self._stopped.wait(max(0.05, self.interval / 4)):
            self.flush()
