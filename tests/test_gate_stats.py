"""Paired statistics and gate decisions against known cases and hand-computed values."""

from __future__ import annotations

import pytest

from evalgate.gate.decide import decide_criterion, overall
from evalgate.report.wording import blocking_reasons
from evalgate.stats import examples_to_settle, mcnemar_exact, paired_bootstrap, paired_estimate
from tests.gate_helpers import make_record, spec


@pytest.mark.parametrize(("b", "c", "expected"), [
    (0, 5, 2 / 32),                     # 2 · (1/2)^5
    (1, 9, 2 * 11 / 1024),              # 2 · (C(10,0) + C(10,1)) / 2^10
    (2, 8, 2 * 56 / 1024),              # 2 · (1 + 10 + 45) / 2^10
    (8, 2, 2 * 56 / 1024),              # symmetric
    (3, 3, 1.0),                        # capped at 1
    (0, 0, 1.0),                        # no discordant pair: no evidence
    (0, 10, 2 / 1024),
])
def test_mcnemar_exact_hand_values(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, abs=1e-12)


def test_paired_bootstrap_degenerate_cases_and_seed():
    assert paired_bootstrap([1, 0, 1], [1, 0, 1]) == (0.0, 0.0, 0.0)
    assert paired_bootstrap([1, 1, 1], [0, 0, 0]) == (1.0, 1.0, 1.0)
    a, b = [1, 0, 1, 1, 0, 1, 1, 1] * 5, [1, 0, 0, 1, 0, 0, 1, 0] * 5
    first = paired_bootstrap(a, b)
    assert first == paired_bootstrap(a, b)                      # seeded
    assert first[1] < first[0] < first[2] and first[0] == pytest.approx(0.375)
    with pytest.raises(ValueError):
        paired_bootstrap(a, b, resamples=500)


def test_paired_estimate_counts_discordant_pairs():
    est = paired_estimate([1, 1, 0, 1, 0], [0, 1, 1, 0, 0], binary=True)
    assert (est.b, est.c) == (2, 1) and est.p_value == pytest.approx(1.0)
    assert est.n == 5 and est.delta == pytest.approx(0.2)


def test_examples_to_settle_formula():
    # (1.95996 + 0.84162)² · 0.5² / 0.05² = 784.9 → 785
    assert examples_to_settle(100, 0.5, 0.05) == 785
    assert examples_to_settle(100, 0.5, 0.0) is None
    assert examples_to_settle(100, 0.0, 0.1) is None
    assert examples_to_settle(1000, 0.5, 0.5) == 1001       # always at least one more


def _decide(cand, base, **bounds):
    s = spec(**bounds)
    checks = decide_criterion(s, make_record("cand", {"acc": cand}),
                              ("prompt", make_record("prompt", {"acc": base})))
    reasons = blocking_reasons(checks, has_beat_baseline=bounds.get("beat") is not None)
    return checks, (overall(checks), reasons)


def test_identical_candidate_is_never_promoted():
    scores = [1, 0, 1, 1, 0, 1, 1, 0, 1, 1] * 10
    checks, (decision, reasons) = _decide(scores, scores, min=0.5, beat=0.0, max_drop=0.05)
    by_kind = {c.kind: c for c in checks}
    # Identical on 100 examples: Δ 0 [−0.037, +0.037]. Not better (never PASS), sure not to
    # drop by 0.05, and the interval cannot exclude a small gain either.
    assert by_kind["beat_baseline"].status == "INCONCLUSIVE"
    assert by_kind["max_drop"].status == "PASS" and by_kind["min"].status == "PASS"
    assert decision != "PROMOTE" and any("beat" in r for r in reasons)


def test_identical_candidate_without_beat_criterion_is_not_promoted():
    scores = [1, 1, 0, 1] * 25
    _, (decision, reasons) = _decide(scores, scores, min=0.5, max_drop=0.05)
    assert decision == "REJECT" and any("beat_baseline" in r for r in reasons)


def test_clearly_better_candidate_is_promoted():
    base = [1, 0, 0] * 20            # 33%
    cand = [1, 1, 1] * 18 + [1, 0, 0] * 2
    checks, (decision, reasons) = _decide(cand, base, min=0.6, beat=0.1)
    assert decision == "PROMOTE", reasons
    beat = next(c for c in checks if c.kind == "beat_baseline")
    assert beat.delta.low > 0.1 and beat.p_value < 1e-6 and beat.discordant == (36, 0)
    assert beat.baseline_system == "prompt" and beat.more_examples is None


def test_tiny_difference_on_few_examples_is_inconclusive():
    base = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    cand = [1, 1, 1, 0, 1, 0, 1, 0, 1, 0]
    checks, (decision, reasons) = _decide(cand, base, beat=0.0)
    beat = checks[0]
    assert beat.status == "INCONCLUSIVE" and decision == "INCONCLUSIVE"
    assert beat.more_examples is not None and beat.more_examples > 10
    assert f"≈{beat.more_examples:,} more examples would likely settle it" in reasons[0]


def test_mcnemar_must_agree_for_binary_beat_at_margin_zero():
    # 3 discordant pairs all favour the candidate among 300: the bootstrap interval excludes 0
    # often enough to clear it, but McNemar's p = 0.25: inconclusive, not a pass.
    base = [0, 0, 0] + [1, 0] * 150
    cand = [1, 1, 1] + [1, 0] * 150
    checks, _ = _decide(cand, base, beat=0.0)
    assert checks[0].p_value == pytest.approx(0.25)
    assert checks[0].status == "INCONCLUSIVE"


def test_max_drop_non_inferiority_and_lower_is_better():
    base = [1] * 80 + [0] * 20
    worse = [1] * 40 + [0] * 60
    checks, (decision, _) = _decide(worse, base, max_drop=0.05, beat=0.0)
    assert {c.kind: c.status for c in checks} == {"beat_baseline": "FAIL", "max_drop": "FAIL"}
    # A max-only criterion (e.g. leak rate): lower is better, so fewer 1s beats the baseline.
    leaks_base = [1] * 50 + [0] * 50
    leaks_cand = [0] * 100
    checks, (decision, _) = _decide(leaks_cand, leaks_base, max=0.2, beat=0.0)
    assert {c.kind: c.status for c in checks} == {"max": "PASS", "beat_baseline": "PASS"}
    assert decision == "PROMOTE"


def test_absolute_inconclusive_estimates_more_examples():
    checks, (decision, _) = _decide([1, 1, 1, 0, 1], [1, 1, 1, 0, 1], min=0.7)
    assert checks[0].status == "INCONCLUSIVE" and checks[0].more_examples > 0
