"""The local cloud's tuning search: values within their ranges and scaling; the Bayesian surrogate learns."""

from __future__ import annotations

import math
import statistics

from driftline_local.sagemaker.tuning import Search, dimensions

RANGES = {
    "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.001", "MaxValue": "1", "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10", "ScalingType": "Auto"}],
    "CategoricalParameterRanges": [{"Name": "tree_method", "Values": ['"hist"', '"approx"']}],
}


def test_random_values_stay_in_their_ranges_and_follow_log_scaling():
    search = Search("Random", dimensions(RANGES), maximize=True, seed=1)

    proposals = [search.propose() for _ in range(400)]

    etas = [float(p["eta"]) for p in proposals]
    assert all(0.001 <= e <= 1 for e in etas)
    # log-uniform: the median sits near the geometric middle (0.0316), far below the linear one (0.5)
    assert 0.015 < statistics.median(etas) < 0.07
    assert {int(p["max_depth"]) for p in proposals} == set(range(2, 11))
    assert {p["tree_method"] for p in proposals} == {'"hist"', '"approx"'}


def test_trials_proposed_together_keep_apart():
    search = Search("Bayesian", dimensions(RANGES), maximize=True, seed=3)
    for eta, depth, value in (("0.01", "4", 0.7), ("0.1", "6", 0.8)):
        search.observe({"eta": eta, "max_depth": depth, "tree_method": '"hist"'}, value)

    # two trials start together, before either reports: the second is not proposed on top of the first
    first, second = search.propose(), search.propose()

    assert first != second
    assert len(search.pending) == 2


def _regret(strategy: str, seed: int) -> float:
    search = Search(strategy, dimensions(RANGES), maximize=True, seed=seed)
    best = -math.inf
    for _ in range(6):
        batch = [search.propose(), search.propose()]
        for params in batch:
            value = math.exp(
                -((math.log10(float(params["eta"])) + 1.5) ** 2) - ((int(params["max_depth"]) - 7) / 4) ** 2
            )
            search.observe(params, value)
            best = max(best, value)
    return 1 - best


def test_the_bayesian_search_finds_better_values_than_random_with_the_same_trials():
    seeds = range(40)

    bayesian = statistics.mean(_regret("Bayesian", s) for s in seeds)
    random_ = statistics.mean(_regret("Random", s) for s in seeds)

    assert bayesian < random_
