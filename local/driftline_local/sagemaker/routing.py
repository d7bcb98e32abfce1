"""Which variant answers a request: an endpoint's live fleets, their weights, and injected faults.

Traffic is split by CurrentWeight (seeded RNG) unless TargetVariant is given. During a blue/green update
the green fleet's share is chosen first, then a variant of that fleet by weight.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .data_capture import DataCapture
from .model_server import VariantWorker


@dataclass
class Fault:
    """What `set_fault` injects into one variant: a share of failed invocations and added latency."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)

    def fails(self) -> bool:
        return self.error_rate > 0 and self.rng.random() < self.error_rate

    def describe(self) -> dict[str, float]:
        return {"error_rate": self.error_rate, "latency_ms": self.latency_ms}


@dataclass
class LiveEndpoint:
    name: str
    fake: Any  # moto's FakeEndpoint, updated in place so DescribeEndpoint is live
    variants: dict[str, VariantWorker] = field(default_factory=dict)
    capture: DataCapture | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    deleted: bool = False
    generation: int = 0
    # a blue/green update's new fleet, its capture, its variants' weights and its share of requests
    green: dict[str, VariantWorker] = field(default_factory=dict)
    green_capture: DataCapture | None = None
    green_weights: dict[str, float] = field(default_factory=dict)
    green_share: float = 0.0
    # the shadow variant (ShadowProductionVariants) of the serving config: gets a copy of every request (shadow.py)
    shadow: dict[str, VariantWorker] = field(default_factory=dict)

    def choose(self, target: str | None) -> VariantWorker | None:
        if target:
            return self.variants.get(target)
        weights = {v["VariantName"]: float(v.get("CurrentWeight", 1.0)) for v in self.fake.production_variants}
        return self._pick(self.variants, weights)

    def route(self, target: str | None) -> tuple[VariantWorker, DataCapture | None] | None:
        """The variant (and its fleet's capture) that answers a request; None for an unknown TargetVariant."""
        green, share = self.green, self.green_share
        fleets = [(self.variants, self.capture), (green, self.green_capture)]
        if share >= 1.0:
            fleets.reverse()
        if target:
            for variants, capture in fleets:
                if target in variants and (variants is not green or share > 0):
                    return variants[target], capture
            return None
        if green and share > 0 and (share >= 1.0 or self.rng.random() < share):
            worker = self._pick(green, self.green_weights)
            return (worker, self.green_capture) if worker else None
        worker = self.choose(None)
        return (worker, self.capture) if worker else None

    def _pick(self, variants: dict[str, VariantWorker], weights: dict[str, float]) -> VariantWorker | None:
        names = [n for n in variants if weights.get(n, 1.0) > 0] or list(variants)
        if len(names) <= 1:
            return variants[names[0]] if names else None
        return variants[self.rng.choices(names, weights=[weights.get(n, 1.0) or 1e-9 for n in names])[0]]
