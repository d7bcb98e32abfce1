"""Instance sizing verdicts: over- or under-sized with a concrete type to try, from SageMaker's utilisation metrics."""

from __future__ import annotations

import pytest
from driftline import instance_types
from driftline.sizing import Utilisation, judge, spec


def _used(cpu: float, memory: float, disk: float = 3.0, samples: int = 10) -> Utilisation:
    """CPU as SageMaker reports it (sum over vCPUs); memory and disk in % of the instance's."""
    return Utilisation(cpu, cpu, memory, memory, disk, samples)


def test_an_idle_training_job_on_ml_m5_large_is_over_sized_and_told_to_try_ml_t3_medium():
    verdict = judge("training", "ml.m5.large", _used(cpu=18, memory=12))
    assert verdict.verdict == "over-sized"
    assert verdict.suggestion == "ml.t3.medium"
    assert verdict.text == (
        "over-sized: ml.m5.large CPU 18 % avg (9 % of its vCPUs), memory 12 % at peak (10 sample(s)): "
        "try ml.t3.medium (2 vCPU, 4 GiB)"
    )


def test_a_lightly_used_larger_instance_is_told_the_next_size_down_in_its_own_family():
    verdict = judge("processing", "ml.m5.xlarge", _used(cpu=60, memory=30))
    assert (verdict.verdict, verdict.suggestion) == ("over-sized", "ml.m5.large")


def test_a_burstable_type_is_not_suggested_when_the_job_would_run_above_its_baseline():
    # 0.45 vCPU busy on average: above ml.t3.medium's 20 % x 2 baseline; nothing smaller holds it
    verdict = judge("training", "ml.m5.large", _used(cpu=45, memory=10))
    assert verdict.verdict == "fits" and verdict.suggestion is None


def test_memory_near_the_limit_is_under_sized_and_told_a_type_with_more_memory():
    verdict = judge("training", "ml.m5.large", _used(cpu=100, memory=95))
    assert verdict.verdict == "under-sized"
    assert verdict.text.startswith("under-sized (memory): ml.m5.large")
    assert verdict.suggestion == "ml.r5.large"
    assert spec("ml.r5.large").memory_gib >= 0.95 * spec("ml.m5.large").memory_gib / 0.7


def test_saturated_cpu_is_under_sized_and_told_a_type_with_twice_the_vcpus():
    verdict = judge("processing", "ml.m5.large", _used(cpu=190, memory=40))
    assert verdict.text.startswith("under-sized (CPU)")
    assert verdict.suggestion == "ml.c5.xlarge"
    assert spec(verdict.suggestion).vcpus == 2 * spec("ml.m5.large").vcpus


def test_a_nearly_full_volume_names_the_config_field_to_raise():
    verdict = judge("training", "ml.m5.large", _used(cpu=100, memory=40, disk=96), "training.volume_size_gb")
    assert verdict.verdict == "under-sized"
    assert verdict.text.endswith("disk 96 % full at peak: raise training.volume_size_gb")


def test_a_well_used_instance_fits():
    verdict = judge("training", "ml.m5.large", _used(cpu=120, memory=55))
    assert verdict.verdict == "fits" and verdict.text.startswith("fits: ml.m5.large CPU 120 % avg (60 % of its vCPUs)")


def test_no_samples_is_unknown_never_a_guess():
    verdict = judge("training", "ml.m5.large", Utilisation())
    assert verdict.verdict == "unknown" and verdict.suggestion is None
    assert "no utilisation metrics" in verdict.text


def test_a_type_of_unknown_size_is_judged_in_percent_without_a_suggestion():
    verdict = judge("training", "ml.g5.xlarge", _used(cpu=10, memory=3))
    assert verdict.verdict == "fits" and verdict.suggestion is None
    assert "of its vCPUs" not in verdict.text


@pytest.mark.parametrize(
    ("cpu", "memory", "kind"),
    [(18, 12, "processing"), (60, 30, "processing"), (100, 95, "processing"), (190, 40, "training")],
)
def test_a_suggestion_is_a_type_the_job_kind_accepts(cpu, memory, kind):
    verdict = judge(kind, "ml.m5.large" if cpu != 60 else "ml.m5.xlarge", _used(cpu=cpu, memory=memory))
    allowed = instance_types.TRAINING if kind == "training" else instance_types.PROCESSING
    assert verdict.suggestion in allowed


@pytest.mark.parametrize(
    ("name", "vcpus", "memory"),
    [
        ("ml.m5.large", 2, 8),
        ("ml.m5.4xlarge", 16, 64),
        ("ml.c5.9xlarge", 36, 72),
        ("ml.r5.xlarge", 4, 32),
        ("ml.m4.10xlarge", 40, 160),
        ("ml.t3.medium", 2, 4),
        ("ml.t3.2xlarge", 8, 32),
    ],
)
def test_sizes_follow_ec2s_published_specifications(name, vcpus, memory):
    assert (spec(name).vcpus, spec(name).memory_gib) == (vcpus, memory)
