"""A job instance's CPU, memory and disk utilisation, measured on the job's real processes, as SageMaker publishes it.

SageMaker puts each job instance's CPUUtilization, MemoryUtilization and DiskUtilization (unit Percent)
into CloudWatch under `/aws/sagemaker/TrainingJobs` or `/aws/sagemaker/ProcessingJobs`, dimension
Host = `<job>/algo-1` (AWS, "Amazon SageMaker AI metrics in Amazon CloudWatch", SageMaker AI job
metrics). Here the job is a process session (jobs.py starts it with `start_new_session=True`), so its
"container" is every process in that session:

- CPUUtilization: the session's CPU time (user + system, with the children it has reaped) per second
  of wall time, x 100: the sum over cores, 0-100 % each, as SageMaker reports it; capped at the
  requested instance's vCPUs x 100 (a container cannot use more cores than its instance has);
- MemoryUtilization: the session's resident memory over the requested instance type's memory (the
  container's limit on AWS); the host's memory for a type whose size driftline.sizing does not know;
- DiskUtilization: the bytes under the job's sandbox (its /opt/ml) over the request's VolumeSizeInGB.

It reads /proc (Linux; nothing is installed for it). A sample every `interval` seconds; the samples are
put each `publish_every` seconds and when the job's process ends (`Watch.stop`, before the job's final
status), so a job that reads Completed has its metrics in CloudWatch. On AWS they arrive at a
1-minute frequency and may lag; here a short job gets a sample per interval instead.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftline_local.context import LocalCloudContext

from ._aws import LOG, client

NAMESPACES = {"training": "/aws/sagemaker/TrainingJobs", "processing": "/aws/sagemaker/ProcessingJobs"}
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces): field 3 (state) is index 0."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def session_usage(session: int) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of every live process whose session id is `session`."""
    cpu_ticks = 0
    resident = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # index 3: session; 11-14: utime, stime, cutime, cstime; 21: rss (pages)
        if not fields or len(fields) < 22 or int(fields[3]) != session:
            continue
        cpu_ticks += sum(int(value) for value in fields[11:15])
        resident += int(fields[21]) * _PAGE
    return cpu_ticks / _TICKS, resident


def tree_bytes(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _host_memory() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _instance(fake: Any, kind: str) -> tuple[str, int]:
    """(instance type, volume GB) of the moto job the local cloud runs."""
    if kind == "training":
        config = getattr(fake, "resource_config", None) or {}
    else:
        config = (getattr(fake, "processing_resources", None) or {}).get("ClusterConfig") or {}
    return str(config.get("InstanceType") or ""), int(config.get("VolumeSizeInGB") or 0)


class Watch:
    """Samples one running job process's session and puts its utilisation into CloudWatch."""

    def __init__(
        self,
        ctx: LocalCloudContext,
        kind: str,
        name: str,
        pid: int,
        sandbox: Path,
        fake: Any,
        interval: float = 0.5,
        publish_every: float = 5.0,
        host: str = "algo-1",
    ) -> None:
        from driftline.sizing import spec

        self.ctx, self.kind, self.name, self.session, self.sandbox = ctx, kind, name, pid, sandbox
        self.interval, self.publish_every, self.host = interval, publish_every, host
        instance_type, volume_gb = _instance(fake, kind)
        known = spec(instance_type)
        self.vcpus = known.vcpus if known else os.cpu_count() or 1
        self.memory_bytes = int(known.memory_gib * 2**30) if known else _host_memory()
        self.volume_bytes = volume_gb * 10**9
        self.pending: list[dict[str, Any]] = []
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._last = (time.monotonic(), session_usage(pid)[0])
        self._thread = threading.Thread(target=self._run, name=f"utilisation-{name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Take the last sample and put everything not yet published (the job's process has ended)."""
        self._stopped.set()
        self._thread.join(timeout=10)
        self._publish()

    def _run(self) -> None:
        last_publish = time.monotonic()
        while not self._stopped.wait(self.interval):
            self._sample()
            if time.monotonic() - last_publish >= self.publish_every:
                last_publish = time.monotonic()
                self._publish()

    def _sample(self) -> None:
        now = time.monotonic()
        cpu_seconds, resident = session_usage(self.session)
        then, cpu_before = self._last
        self._last = (now, max(cpu_seconds, cpu_before))
        if resident == 0:  # the session has ended: nothing of it left to measure
            return
        cpu = max(0.0, cpu_seconds - cpu_before) / max(now - then, 1e-6) * 100
        values = {
            "CPUUtilization": min(cpu, 100.0 * self.vcpus),
            "MemoryUtilization": min(100.0, 100.0 * resident / self.memory_bytes) if self.memory_bytes else None,
            "DiskUtilization": (
                min(100.0, 100.0 * tree_bytes(self.sandbox) / self.volume_bytes) if self.volume_bytes else None
            ),
        }
        stamp = datetime.now(UTC)
        dimensions = [{"Name": "Host", "Value": f"{self.name}/{self.host}"}]
        with self._lock:
            self.pending += [
                {"MetricName": metric, "Value": value, "Unit": "Percent", "Timestamp": stamp}
                | {"Dimensions": dimensions}
                for metric, value in values.items()
                if value is not None
            ]

    def _publish(self) -> None:
        with self._lock:
            batch, self.pending = self.pending, []
        for start in range(0, len(batch), 1000):  # PutMetricData takes up to 1000 datums
            try:
                client(self.ctx, "cloudwatch").put_metric_data(
                    Namespace=NAMESPACES[self.kind], MetricData=batch[start : start + 1000]
                )
            except Exception:
                LOG.exception("could not publish the utilisation of %s", self.name)


def watch(ctx: LocalCloudContext, job: Any, pid: int, host: Any | None = None) -> Watch:
    """Start sampling one host's process (`job`: jobs.py's _Job; `host`: its _Host, default algo-1 in the
    job's sandbox); call `.stop()` when the process has ended. Each instance of a multi-instance job reports
    its own metrics (Host=<job>/algo-<n>), as on AWS."""
    name, sandbox = (host.name, host.sandbox) if host is not None else ("algo-1", job.sandbox)
    return Watch(ctx, job.kind, job.name, pid, sandbox, job.fake, host=name)
