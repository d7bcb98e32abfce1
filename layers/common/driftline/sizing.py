"""Was a job's instance the right size? A verdict and a concrete suggestion from its utilisation metrics.

SageMaker publishes each job instance's CPUUtilization (the sum over its vCPUs, 0-100 % each),
MemoryUtilization and DiskUtilization (0-100 %) under /aws/sagemaker/TrainingJobs and
/aws/sagemaker/ProcessingJobs, dimension Host = `<job>/algo-1` (AWS, "Amazon SageMaker AI metrics in
Amazon CloudWatch", SageMaker AI job metrics). `judge` turns them into a verdict a person reads:

- over-sized: the job used under a quarter of the vCPUs on average and under half the memory at its
  peak, and a smaller type of the job's kind holds the same work (peak memory at most 70 % of the new
  type's, average CPU at most 70 % of its vCPUs, or of a burstable type's baseline);
- under-sized: memory peaked at 90 % or more (the next allocation can kill the job), or the average CPU
  used 90 % or more of the vCPUs (the job waited on CPU); the suggestion is the smallest type of the
  same family or a sibling family (c/m/r of the same generation) with room for it;
- disk: a volume at 90 % or more is told with the config field to raise;
- otherwise the instance fits. No metrics: said so, never guessed.

vCPUs and memory come from the EC2 naming rule the families below follow (AWS, "Amazon EC2 instance type
specifications": large = 2 vCPUs, xlarge = 4, Nxlarge = 4N; GiB per vCPU 2 for c, 4 for m, 8 for r);
ml.t3 sizes are listed with their baseline CPU per vCPU (AWS, "Key concepts for burstable performance
instances"). Types outside these families (GPU, c4, c5n, ...) get a verdict in percentages but no
suggested type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from driftline import instance_types

OVER_CPU = 25.0  # average % of the vCPUs
OVER_MEMORY = 50.0  # peak % of memory
UNDER_MEMORY = 90.0
UNDER_CPU = 90.0
DISK_FULL = 90.0
TARGET = 70.0  # a suggested type carries the work at no more than this % (memory peak, CPU average)

_GIB_PER_VCPU = {
    **dict.fromkeys(("c5", "c6i", "c7i", "c7i-flex", "c8i", "c8i-flex"), 2),
    **dict.fromkeys(("m4", "m5", "m6i", "m7i", "m7i-flex", "m8i", "m8i-flex"), 4),
    **dict.fromkeys(("r5", "r5d", "r6i", "r7i", "r8i", "r8i-flex"), 8),
}
# ml.t3: (vCPUs, GiB, baseline CPU % per vCPU)
_T3 = {"medium": (2, 4, 20.0), "large": (2, 8, 30.0), "xlarge": (4, 16, 40.0), "2xlarge": (8, 32, 40.0)}
_SIZE = re.compile(r"(\d*)xlarge")


@dataclass(frozen=True)
class Spec:
    name: str
    vcpus: int
    memory_gib: float
    baseline_cpu: float = 100.0  # % per vCPU the type sustains (burstable types less)

    @property
    def family(self) -> str:
        return self.name.split(".")[1]

    def describe(self) -> str:
        return f"{self.name} ({self.vcpus} vCPU, {self.memory_gib:g} GiB)"


def spec(instance_type: str) -> Spec | None:
    """vCPUs and memory of an ml.* type in the families above; None for any other type."""
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml":
        return None
    _, family, size = parts
    if family == "t3":
        known = _T3.get(size)
        return Spec(instance_type, known[0], known[1], known[2]) if known else None
    per_vcpu = _GIB_PER_VCPU.get(family)
    if per_vcpu is None:
        return None
    if size == "large":
        vcpus = 2
    elif match := _SIZE.fullmatch(size):
        vcpus = 4 * int(match.group(1) or 1)
    else:
        return None
    return Spec(instance_type, vcpus, float(vcpus * per_vcpu))


@dataclass(frozen=True)
class Utilisation:
    """One job instance's metrics over the job: CPU as SageMaker reports it (sum over vCPUs, %)."""

    cpu_average: float | None = None
    cpu_peak: float | None = None
    memory_average: float | None = None
    memory_peak: float | None = None
    disk_peak: float | None = None
    samples: int = 0


@dataclass(frozen=True)
class Verdict:
    verdict: str  # over-sized | under-sized | fits | unknown
    text: str
    suggestion: str | None = None


def judge(kind: str, instance_type: str, used: Utilisation, volume_field: str | None = None) -> Verdict:
    """The verdict on one job's instance. `kind`: "training" | "processing" (which types it may use)."""
    if used.samples == 0 or used.cpu_average is None or used.memory_peak is None:
        return Verdict(
            "unknown",
            f"{instance_type}: no utilisation metrics (the job ran too briefly for a sample, or CloudWatch has "
            "not received them yet)",
        )
    current = spec(instance_type)
    vcpus = current.vcpus if current else None
    cpu_share = used.cpu_average / vcpus if vcpus else None  # average % of the instance's vCPUs
    measured = _measured(instance_type, used, cpu_share)
    disk = ""
    if used.disk_peak is not None and used.disk_peak >= DISK_FULL:
        field = volume_field or "the job's volume_size_gb"
        disk = f"; disk {used.disk_peak:.0f} % full at peak: raise {field}"
    if used.memory_peak >= UNDER_MEMORY or (cpu_share is not None and cpu_share >= UNDER_CPU):
        bigger = _bigger(kind, current, used) if current else None
        why = "memory" if used.memory_peak >= UNDER_MEMORY else "CPU"
        advice = f"try {bigger.describe()}" if bigger else "try a larger instance type"
        return Verdict(
            "under-sized", f"under-sized ({why}): {measured}: {advice}{disk}", bigger.name if bigger else None
        )
    if cpu_share is not None and current and cpu_share < OVER_CPU and used.memory_peak < OVER_MEMORY:
        smaller = _smaller(kind, current, used)
        if smaller:
            return Verdict("over-sized", f"over-sized: {measured}: try {smaller.describe()}{disk}", smaller.name)
    if disk:
        return Verdict("under-sized", f"under-sized (disk): {measured}{disk}")
    return Verdict("fits", f"fits: {measured}")


def _measured(instance_type: str, used: Utilisation, cpu_share: float | None) -> str:
    cpu = f"CPU {used.cpu_average:.0f} % avg"
    if cpu_share is not None:
        cpu += f" ({cpu_share:.0f} % of its vCPUs)"
    memory = f"memory {used.memory_peak:.0f} % at peak"
    return f"{instance_type} {cpu}, {memory} ({used.samples} sample(s))"


def _allowed(kind: str) -> frozenset[str]:
    return instance_types.TRAINING if kind == "training" else instance_types.PROCESSING


def _related(current: Spec) -> set[str]:
    """The current family, its c/m/r siblings of the same generation, and ml.t3."""
    match = re.fullmatch(r"[cmr](\d+[a-z]*(?:-flex)?)", current.family)
    siblings = {f"{letter}{match.group(1)}" for letter in "cmr"} if match else set()
    return {current.family, "t3"} | siblings


def _candidates(kind: str, current: Spec) -> list[Spec]:
    families = _related(current)
    found = (spec(name) for name in _allowed(kind) if name.split(".")[1] in families)
    return [s for s in found if s is not None and s.name != current.name]


def _holds(candidate: Spec, used: Utilisation, current: Spec) -> bool:
    memory_gib = (used.memory_peak or 0.0) / 100 * current.memory_gib
    cpu_vcpus = (used.cpu_average or 0.0) / 100  # vCPUs busy on average
    within_memory = memory_gib <= TARGET / 100 * candidate.memory_gib
    within_cpu = cpu_vcpus <= min(TARGET, candidate.baseline_cpu) / 100 * candidate.vcpus
    return within_memory and within_cpu


def _smaller(kind: str, current: Spec, used: Utilisation) -> Spec | None:
    """The smallest type no larger than the current one in both vCPUs and memory that holds the work."""
    fits = [
        c
        for c in _candidates(kind, current)
        if c.vcpus <= current.vcpus
        and c.memory_gib <= current.memory_gib
        and (c.vcpus, c.memory_gib) != (current.vcpus, current.memory_gib)
        and _holds(c, used, current)
    ]
    return min(fits, key=lambda c: (c.memory_gib, c.vcpus, c.family != current.family), default=None)


def _bigger(kind: str, current: Spec, used: Utilisation) -> Spec | None:
    """The smallest type with more of what ran out (memory, or vCPUs) and no less of the other."""
    memory_short = (used.memory_peak or 0.0) >= UNDER_MEMORY
    need_memory = (used.memory_peak or 0.0) / TARGET * current.memory_gib if memory_short else current.memory_gib
    need_vcpus = current.vcpus * 2 if not memory_short else current.vcpus
    fits = [
        c
        for c in _candidates(kind, current)
        if c.family != "t3" and c.memory_gib >= need_memory and c.vcpus >= need_vcpus
    ]
    order = (lambda c: (c.memory_gib, c.vcpus)) if memory_short else (lambda c: (c.vcpus, c.memory_gib))
    return min(fits, key=lambda c: (*order(c), c.family != current.family), default=None)
