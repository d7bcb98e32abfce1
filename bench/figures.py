"""The one result format every bench writes, so `make bench` can print a single table and the README.

A bench collects `Figure`s in a `Figures` sink and, when run with `--json PATH`, writes them there
(`figures.write_if_asked(args.json)`). A bench checks what it claims happened (interruptions landed,
faults applied, requests served) *before* it adds a figure: if a check fails it calls
`refuse(reason)`, which prints the reason and exits non-zero, so no figure of a run that did not do
its work is ever printed or written.

Usage:

    from figures import Figures, add_json_argument, refuse
    figures = Figures("spot")
    parser.add_argument(...); add_json_argument(parser)
    ...
    figures.add("training time, 2 interruptions", 41.2, "s", baseline=38.0, baseline_name="uninterrupted",
                aim="<= 1.2x baseline + restarts", holds=41.2 <= 1.2 * 38.0 + restarts)
    figures.write_if_asked(args.json)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NoReturn


class BenchCheckFailed(SystemExit):
    """Raised by `refuse`: the bench did not do what its figures would claim."""


@dataclass(frozen=True)
class Figure:
    bench: str
    name: str  # what was measured, with its size: "upload -> InService outside the jobs, warm, 41k rows"
    value: float
    unit: str  # "s", "ms", "MiB", "%", "x", "rounds", "requests"
    baseline: float | None = None  # the same work done the reference way, in the same run and unit
    baseline_name: str | None = None  # what the baseline is: "bare boto3 handler", "numpy PSI floor"
    aim: str | None = None  # the aim in words: "<= 10 %", "<= 1.25x baseline"
    holds: bool | None = None  # whether the aim holds (None when the figure has no aim)
    note: str | None = None  # anything a reader needs to trust the figure ("3 of 3 interruptions landed")

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline


class Figures:
    """The figures one bench run produced, in the order it measured them."""

    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.items: list[Figure] = []

    def add(self, name: str, value: float, unit: str, **fields: object) -> Figure:
        figure = Figure(self.bench, name, float(value), unit, **fields)  # type: ignore[arg-type]
        self.items.append(figure)
        return figure

    def as_json(self) -> list[dict[str, object]]:
        return [asdict(figure) | {"ratio": figure.ratio} for figure in self.items]

    def write_if_asked(self, path: str | None) -> None:
        if path:
            Path(path).write_text(json.dumps(self.as_json(), indent=2) + "\n")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH (see bench/figures.py)")


def refuse(reason: str) -> NoReturn:
    """Stop the bench without a result: what it was about to report did not happen."""
    print(f"bench refused to report: {reason}", file=sys.stderr, flush=True)
    raise BenchCheckFailed(3)
