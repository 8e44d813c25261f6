"""Confidence intervals for aggregate scores.

Rates of binary outcomes get the Wilson score interval (honest at small n and near 0 or 1,
unlike the normal approximation); other means get a seeded percentile bootstrap. Paired
statistics between two systems build on the same per-example vectors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20261122


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% interval and the method that produced the interval."""

    value: float
    low: float
    high: float
    n: int
    method: str


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_mean_interval(values: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES,
                            seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def estimate_mean(values: Sequence[float], binary: bool) -> Estimate:
    """Mean of per-example scores with a 95% interval (Wilson if binary, else bootstrap).

    An empty sample has no estimate: the interval is the whole [0, 1] range, so any bound
    other than a trivial one is INCONCLUSIVE rather than passing by default.
    """
    n = len(values)
    if n == 0:
        return Estimate(float("nan"), 0.0, 1.0, 0, "none")
    mean = float(np.mean(values))
    if binary:
        low, high = wilson_interval(sum(values), n)
        return Estimate(mean, low, high, n, "wilson")
    low, high = bootstrap_mean_interval(values)
    return Estimate(mean, low, high, n, "bootstrap")
