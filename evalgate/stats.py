"""Confidence intervals for aggregate scores.

Rates of binary outcomes get the Wilson score interval (honest at small n and near 0 or 1,
unlike the normal approximation); other means get a seeded percentile bootstrap. Paired
differences between two systems on the same examples: Tango's score interval for binary
scores (with McNemar's exact test), the paired bootstrap for continuous ones, which decide
only from `MIN_CONTINUOUS_PAIRED_N` examples on. `bench/null_simulation.py` measures the
false-PASS rate of every paired check built on them.
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


# --- paired statistics: a candidate against a baseline on the same examples -----------------

Z80_POWER = 0.8416212335729143  # one-sided z for 80% power, used by `examples_to_settle`


# A continuous paired figure (log-probs, perplexity, KL) on fewer examples proves nothing: its
# bootstrap interval collapses onto identical values, and a handful of them cannot show spread.
MIN_CONTINUOUS_PAIRED_N = 30


@dataclass(frozen=True)
class PairedEstimate:
    """The mean paired difference (candidate − baseline) with its 95% interval: Tango's score
    interval for binary scores (`method` "tango", with McNemar's exact two-sided p-value and
    the discordant counts b: only the candidate right, c: only the baseline right), the paired
    percentile bootstrap otherwise (`method` "bootstrap")."""

    delta: float
    low: float
    high: float
    n: int
    sd: float
    resamples: int
    seed: int
    p_value: float | None = None
    b: int | None = None
    c: int | None = None
    method: str = "bootstrap"


def paired_bootstrap(candidate: Sequence[float], baseline: Sequence[float],
                     resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """Mean of the per-example differences and its 95% percentile interval, resampling
    examples (pairs stay together). Seeded, so a verdict recomputes to the same figures."""
    if resamples < 2000:
        raise ValueError("a paired bootstrap needs at least 2,000 resamples")
    diffs = np.asarray(candidate, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    if diffs.size == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, diffs.size, size=(resamples, diffs.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diffs.mean()), float(low), float(high)


def _tango_z(b: int, c: int, n: int, delta: float) -> float:
    """Tango's score statistic for Δ = π_b − π_c (the difference of two paired proportions)
    at `delta`, with the discordant probability π_c at its maximum-likelihood value under
    the constraint π_b = π_c + Δ (Tango 1998, Statistics in Medicine 17:891–908)."""
    # d/dπ_c of b·log(π_c + Δ) + c·log π_c + (n − b − c)·log(1 − 2π_c − Δ) = 0 is the quadratic
    # 2n·π² + W·π − c·Δ(1 − Δ) = 0 with W = (2n − b + c)·Δ − (b + c) (Tango's W).
    w = (2.0 * n - b + c) * delta - (b + c)
    pi_c = (-w + math.sqrt(max(w * w + 8.0 * n * c * delta * (1.0 - delta), 0.0))) / (4.0 * n)
    pi_c = min(max(pi_c, max(0.0, -delta)), (1.0 - delta) / 2.0)
    variance = n * (2.0 * pi_c + delta - delta * delta)
    if variance <= 0.0:
        return math.inf if b - c - n * delta > 0 else -math.inf if b - c - n * delta < 0 else 0.0
    return (b - c - n * delta) / math.sqrt(variance)


def tango_interval(b: int, c: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% score interval for the difference of paired proportions (b − c)/n: the Δ whose
    score statistic stays within ±z (Tango 1998), found by bisection.

    Unlike a percentile bootstrap, it keeps its coverage at small n and with few discordant
    pairs: 3 wins of 3 give [−0.12, 1], not [1, 1]; identical outputs on 5 examples give
    [−0.43, 0.43] and on 200 examples [−0.019, 0.019], whether the shared answers were right
    or wrong, so agreement proves non-inferiority only when there is enough of it."""
    if n <= 0:
        return -1.0, 1.0
    point = (b - c) / n

    def solve(inside: float, outside: float) -> float:
        for _ in range(80):  # |Z| is monotone in Δ on each side of the estimate
            middle = (inside + outside) / 2.0
            if abs(_tango_z(b, c, n, middle)) <= z:
                inside = middle
            else:
                outside = middle
        return inside

    low = -1.0 if abs(_tango_z(b, c, n, -1.0 + 1e-12)) <= z else solve(point, -1.0 + 1e-12)
    high = 1.0 if abs(_tango_z(b, c, n, 1.0 - 1e-12)) <= z else solve(point, 1.0 - 1e-12)
    return low, high


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of b successes in b + c discordant
    pairs at p = 1/2 (doubling the smaller tail, capped at 1). No discordant pair: p = 1."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2.0 * tail)


def paired_estimate(candidate: Sequence[float], baseline: Sequence[float], binary: bool,
                    resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> PairedEstimate:
    if len(candidate) != len(baseline):
        raise ValueError("paired samples must have the same length")
    diffs = np.asarray(candidate, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    sd = float(diffs.std(ddof=1)) if diffs.size > 1 else 0.0
    if not binary:
        delta, low, high = paired_bootstrap(candidate, baseline, resamples, seed)
        return PairedEstimate(delta, low, high, int(diffs.size), sd, resamples, seed)
    # Binary pairs: the percentile bootstrap collapses ([1, 1] for 3 wins of 3, [0, 0] for
    # identical outputs at any n); Tango's score interval keeps its coverage there.
    b = int(np.sum(diffs > 0.5))
    c = int(np.sum(diffs < -0.5))
    n = int(diffs.size)
    low, high = tango_interval(b, c, n) if n else (float("nan"), float("nan"))
    delta = float(diffs.mean()) if n else float("nan")
    return PairedEstimate(delta, low, high, n, sd, resamples, seed, mcnemar_exact(b, c), b, c,
                          method="tango")


def examples_to_settle(n: int, sd: float, distance: float,
                       z: float = Z95 + Z80_POWER) -> int | None:
    """Total examples that would likely settle an interval straddling a bound.

    The interval's half-width shrinks like z·sd/√n; it clears a bound at `distance` from the
    observed value once √n ≥ (z_{0.975} + z_{0.80})·sd / distance — the classic sample size for
    80% power if the observed effect is the true one. None when no finite n would do (the
    estimate sits on the bound, or there is no spread to estimate from)."""
    distance = abs(distance)
    if n <= 0 or sd <= 0 or distance <= 1e-12 or not math.isfinite(sd):
        return None
    return max(n + 1, math.ceil((z * sd / distance) ** 2))
