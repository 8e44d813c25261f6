"""Verbatim extraction: does a prefix of a record make the model write out the rest?

A record's token ids are split into a prefix of p tokens and the s tokens that follow it; the
model continues the prefix greedily, and the record counts as extracted when the continuation
begins with exactly those s tokens (Carlini et al. 2023, "Quantifying Memorization Across Neural
Language Models"). Some text is predictable from its prefix whether trained on or not (a closing
formula, a list that counts up), so what counts is the members' rate minus the non-members'
rate, with an interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from evalgate.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, wilson_interval


def split_prefix(ids: Sequence[int], *, prefix_tokens: int | None = None,
                 prefix_fraction: float | None = None,
                 suffix_tokens: int | None = None) -> tuple[list[int], list[int]] | None:
    """(prefix ids, expected suffix ids) of one record, or None when it is too short.

    The prefix is either `prefix_tokens` long or ⌊prefix_fraction · len(ids)⌋ long (at least one
    token); the suffix is the next `suffix_tokens` tokens, or all the rest when it is None. A
    record without room for a non-empty prefix and the whole suffix gives None: skip it and
    report how many were skipped rather than scoring a shorter suffix."""
    if (prefix_tokens is None) == (prefix_fraction is None):
        raise ValueError("give exactly one of prefix_tokens and prefix_fraction")
    if prefix_tokens is not None:
        p = prefix_tokens
        if p < 1:
            raise ValueError(f"prefix_tokens must be at least 1, got {p}")
    else:
        if not 0.0 < prefix_fraction < 1.0:
            raise ValueError(f"prefix_fraction must be in (0, 1), got {prefix_fraction}")
        p = max(1, math.floor(prefix_fraction * len(ids) + 1e-9))
    if suffix_tokens is not None and suffix_tokens < 1:
        raise ValueError(f"suffix_tokens must be at least 1, got {suffix_tokens}")
    rest = len(ids) - p
    if rest < 1 or (suffix_tokens is not None and rest < suffix_tokens):
        return None
    end = len(ids) if suffix_tokens is None else p + suffix_tokens
    return list(ids[:p]), list(ids[p:end])


def exact_suffix_match(generated: Sequence[int], expected: Sequence[int]) -> bool:
    """True when the greedy continuation starts with every expected suffix token, in order (a
    continuation that stops early does not match)."""
    if len(expected) == 0:
        raise ValueError("the expected suffix is empty")
    return list(generated[:len(expected)]) == list(expected)


def exact_suffix_rate(pairs: Iterable[tuple[Sequence[int], Sequence[int]]]) -> float:
    """Fraction of (generated ids, expected suffix ids) pairs that match exactly."""
    matches = [exact_suffix_match(generated, expected) for generated, expected in pairs]
    if not matches:
        raise ValueError("no (generated, expected) pairs: the exact-suffix rate is undefined")
    return sum(matches) / len(matches)


@dataclass(frozen=True)
class RateDifference:
    """Members' exact-suffix rate minus non-members', with two 95% intervals.

    `low`/`high`: percentile bootstrap, members and non-members resampled independently (they
    are different records, so the difference is between two samples, not of pairs).
    `newcombe_low`/`newcombe_high`: Newcombe's hybrid score interval from the two Wilson
    intervals — unlike the bootstrap it does not collapse to [0, 0] when neither group has a
    single match, so prefer it for a bound near zero."""

    member_rate: float
    nonmember_rate: float
    difference: float
    low: float
    high: float
    newcombe_low: float
    newcombe_high: float
    n_members: int
    n_nonmembers: int
    resamples: int
    seed: int


def _matches(values: Sequence[bool], what: str) -> np.ndarray:
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"no {what} results: the exact-suffix rate is undefined")
    return data


def rate_difference(member_matches: Sequence[bool], nonmember_matches: Sequence[bool],
                    resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> RateDifference:
    """Exact-suffix rate on members − rate on non-members (per-record match flags in, e.g.
    from `exact_suffix_match`), with a seeded stratified percentile bootstrap interval and the
    Newcombe interval."""
    if resamples < 2000:
        raise ValueError("the bootstrap of a rate difference needs at least 2,000 resamples")
    members = _matches(member_matches, "member")
    nonmembers = _matches(nonmember_matches, "non-member")
    n1, n0 = members.size, nonmembers.size
    p1, p0 = float(members.mean()), float(nonmembers.mean())
    rng = np.random.default_rng(seed)
    m = members[rng.integers(0, n1, size=(resamples, n1))].mean(axis=1)
    nm = nonmembers[rng.integers(0, n0, size=(resamples, n0))].mean(axis=1)
    low, high = np.percentile(m - nm, [2.5, 97.5])
    l1, u1 = wilson_interval(members.sum(), n1)
    l0, u0 = wilson_interval(nonmembers.sum(), n0)
    d = p1 - p0
    newcombe_low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    newcombe_high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return RateDifference(p1, p0, d, float(low), float(high), newcombe_low, newcombe_high,
                          n1, n0, resamples, seed)
