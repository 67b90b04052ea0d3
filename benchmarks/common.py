"""What every benchmark module returns, and helpers to time things robustly.

A benchmark module is ``benchmarks/bench_<name>.py`` with ``run(quick: bool) -> list[Result]``.
Figures are medians over repeated runs; targets are ratios against a baseline measured
in the same run (the machine is shared and noisy), except where an issue sets an absolute one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    figure: str  # what was measured, e.g. "analysis 5000 users (median s)"
    value: float
    unit: str  # "s", "ms", "MB", "req/s", "x"
    baseline: float | None = None  # the same-run baseline, in the same unit
    target: str = ""  # e.g. "ratio <= 1.0", "p99 <= 5 ms"
    passed: bool | None = None  # None: informational, no target

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]


def median_time(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
