"""Does the local cloud's Bayesian search find better hyperparameters than its Random search with the same trials?

The local cloud's tuning jobs (local/driftline_local/sagemaker/tuning.py) propose trials with `Search`:
Random, or a small surrogate (Gaussian-kernel average of the objectives seen plus an exploration bonus).
This bench runs both on synthetic objectives shaped like a tuning problem (a smooth optimum in a
log-scaled learning rate and an integer depth, plus noise), trials proposed in batches of
`max_parallel` as a tuning job does, and reports the mean regret (optimum minus the best trial's true
value) over many seeds. No job runs: it measures the search, not training.

    .venv/bin/python bench/tuning.py --json out/tuning.json            # ~2 s
    .venv/bin/python bench/tuning.py --quick
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

from figures import Figures, add_json_argument, refuse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))

from driftline_local.sagemaker.tuning import Search, dimensions  # noqa: E402

RANGES = {
    "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "1", "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10", "ScalingType": "Auto"}],
    "CategoricalParameterRanges": [{"Name": "tree_method", "Values": ['"hist"', '"approx"']}],
}


def true_value(params: dict[str, str], optimum: tuple[float, int]) -> float:
    """An AUC-like objective: best at (eta, depth) = optimum, 'hist' slightly better."""
    eta, depth = float(params["eta"]), int(params["max_depth"])
    distance = (math.log10(eta) - math.log10(optimum[0])) ** 2 + ((depth - optimum[1]) / 4) ** 2
    return 0.9 * math.exp(-distance) + (0.01 if params["tree_method"] == '"hist"' else 0.0)


def regret(strategy: str, seed: int, trials: int, parallel: int, noise: float) -> float:
    rng = random.Random(seed)
    optimum = (10 ** rng.uniform(-1.7, -0.3), rng.randint(3, 9))
    search = Search(strategy, dimensions(RANGES), maximize=True, seed=seed)
    best = -math.inf
    done = 0
    while done < trials:
        batch = [search.propose() for _ in range(min(parallel, trials - done))]
        for params in batch:  # a batch is proposed before any of its trials report, as with parallel trials
            value = true_value(params, optimum)
            search.observe(params, value + rng.gauss(0, noise))
            best = max(best, value)
        done += len(batch)
    return (0.9 + 0.01) - best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--noise", type=float, default=0.005, help="objective noise (std) a trial reports")
    parser.add_argument("--quick", action="store_true", help="50 seeds")
    add_json_argument(parser)
    args = parser.parse_args()
    seeds = 50 if args.quick else args.seeds
    figures = Figures("tuning")
    results = {
        strategy: [regret(strategy, seed, args.trials, args.parallel, args.noise) for seed in range(seeds)]
        for strategy in ("Random", "Bayesian")
    }
    if any(len(values) != seeds or any(v < -1e-9 for v in values) for values in results.values()):
        refuse("a search reported a trial better than the optimum, or skipped seeds")
    bayes, rand = statistics.mean(results["Bayesian"]), statistics.mean(results["Random"])
    wins = sum(b < r for b, r in zip(results["Bayesian"], results["Random"], strict=True))
    figures.add(
        f"mean regret of the best of {args.trials} trials ({args.parallel} at a time), Bayesian search",
        round(bayes, 4),
        "objective",
        baseline=round(rand, 4),
        baseline_name="Random search, same trials and seeds",
        aim="< Random's regret",
        holds=bayes < rand,
        note=f"{seeds} seeds; Bayesian better on {wins}, Random on {seeds - wins - sum(b == r for b, r in zip(results['Bayesian'], results['Random'], strict=True))}",  # noqa: E501
    )
    for figure in figures.items:
        print(f"{figure.name}: {figure.value} {figure.unit} (baseline {figure.baseline}; holds: {figure.holds})")
        print(f"  {figure.note}")
    figures.write_if_asked(args.json)


if __name__ == "__main__":
    main()
