"""Intervals against known values."""

from __future__ import annotations

import math

import pytest

from evalgate.stats import bootstrap_mean_interval, estimate_mean, wilson_interval


def test_wilson_matches_textbook_values():
    # 8 successes of 10: Wilson 95% interval is [0.4902, 0.9433] (Newcombe 1998, method 3).
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_is_honest_at_the_edges():
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.15 < high < 0.17
    low, high = wilson_interval(20, 20)
    assert high == 1.0 and 0.83 < low < 0.85


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [0.1, 0.5, 0.9, 0.3, 0.7] * 8
    first = bootstrap_mean_interval(values)
    assert first == bootstrap_mean_interval(values)
    assert first[0] < 0.5 < first[1]


def test_estimate_picks_method_and_empty_sample_is_uninformative():
    assert estimate_mean([1, 0, 1, 1], binary=True).method == "wilson"
    assert estimate_mean([0.2, 0.4], binary=False).method == "bootstrap"
    empty = estimate_mean([], binary=True)
    assert math.isnan(empty.value) and (empty.low, empty.high) == (0.0, 1.0)
