"""Leakage arithmetic against hand-computed values: attack scores, AUC, TPR at a fixed FPR,
bootstrap intervals, canaries and exposure, verbatim-extraction rates. No model."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from evalgate.leakage import (
    ATTACKS,
    AttackResult,
    Canary,
    ExampleTokens,
    bootstrap_attack,
    bootstrap_attacks,
    candidate_secrets,
    exact_suffix_match,
    exact_suffix_rate,
    exposure,
    extracted,
    loss_score,
    make_canaries,
    membership_scores,
    min_k_plus_plus_score,
    min_k_score,
    rate_difference,
    reference_score,
    roc_auc,
    split_prefix,
    tpr_at_fpr,
    worst_case,
    zlib_entropy,
    zlib_score,
)

# --- per-example scores: higher = more likely a member ----------------------------------------

LOGPROBS = [-0.1, -2.0, -0.5, -3.0, -0.2, -1.0, -0.3, -0.4, -0.6, -0.7]


def test_loss_and_reference_scores():
    assert loss_score([-1.0, -2.0, -3.0]) == pytest.approx(-2.0)  # −(mean NLL)
    # base NLL 2.5 − candidate NLL 1.0: the adapter made these tokens more likely.
    assert reference_score([-1.0, -1.0], [-2.0, -3.0]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="same tokens"):
        reference_score([-1.0, -1.0], [-2.0])


def test_zlib_score_on_a_known_string():
    assert zlib_entropy("hello world") == 19 == zlib_entropy(b"hello world")
    assert zlib_score([-1.0, -2.0, -3.0], b"hello world") == pytest.approx(-2.0 / 19)
    text = "My account verification code is 123456789."
    assert zlib_score([-0.5] * 4, text) == pytest.approx(
        -0.5 / len(zlib.compress(text.encode("utf-8"))))


def test_min_k_takes_the_lowest_fraction_of_tokens():
    assert min_k_score(LOGPROBS) == pytest.approx((-3.0 - 2.0) / 2)  # ⌊0.2·10⌋ = 2 tokens
    assert min_k_score(LOGPROBS, k=0.5) == pytest.approx((-3.0 - 2.0 - 1.0 - 0.7 - 0.6) / 5)
    assert min_k_score([-1.0, -4.0, -2.0]) == pytest.approx(-4.0)  # ⌊0.6⌋ = 0 → one token
    assert min_k_score(LOGPROBS, k=1.0) == pytest.approx(np.mean(LOGPROBS))
    with pytest.raises(ValueError, match="k must be"):
        min_k_score(LOGPROBS, k=0.0)


def test_min_k_plus_plus_standardises_each_token():
    logprobs = [-1.0, -2.0, -0.5, -3.0, -1.0]
    mu = [-2.0, -2.0, -1.0, -2.0, -1.5]
    sigma = [0.5, 1.0, 0.25, 2.0, 1.0]
    # z = [2, 0, 2, −0.5, 0.5]
    assert min_k_plus_plus_score(logprobs, mu, sigma) == pytest.approx(-0.5)
    assert min_k_plus_plus_score(logprobs, mu, sigma, k=0.4) == pytest.approx(-0.25)
    # A degenerate position (σ = 0) contributes z = 0, not a division by zero.
    assert min_k_plus_plus_score([-1.0, -1.0], [-1.0, -2.0], [0.0, 2.0], k=1.0) == \
        pytest.approx(0.25)
    with pytest.raises(ValueError, match="cannot be negative"):
        min_k_plus_plus_score([-1.0], [-1.0], [-0.1])


def test_membership_scores_uses_what_the_example_has():
    bare = membership_scores(ExampleTokens(tuple(LOGPROBS)))
    assert list(bare) == ["loss", "min_k"]
    full = membership_scores(ExampleTokens(tuple(LOGPROBS), text="hi there",
                                           mu=tuple(LOGPROBS), sigma=(1.0,) * 10,
                                           reference_logprobs=tuple(LOGPROBS)))
    assert list(full) == list(ATTACKS)
    assert full["reference"] == 0.0 and full["min_k_plus_plus"] == 0.0
    with pytest.raises(ValueError, match="non-finite"):
        loss_score([-1.0, float("nan")])


# --- AUC ------------------------------------------------------------------------------------


def test_auc_hand_cases():
    assert roc_auc([3.0, 4.0, 5.0], [0.0, 1.0, 2.0]) == 1.0
    assert roc_auc([0.0, 1.0, 2.0], [3.0, 4.0, 5.0]) == 0.0
    assert roc_auc([1.0, 1.0, 1.0], [1.0, 1.0]) == 0.5  # all ties count half
    # pairs (1,2)=0, (1,3)=0, (3,2)=1, (3,3)=½ → 1.5 / 4
    assert roc_auc([1.0, 3.0], [2.0, 3.0]) == pytest.approx(0.375)


def test_auc_is_the_mann_whitney_probability():
    rng = np.random.default_rng(0)
    members = rng.integers(0, 20, size=60).astype(float)  # many ties
    nonmembers = rng.integers(0, 18, size=45).astype(float)
    pairwise = ((members[:, None] > nonmembers[None, :])
                + 0.5 * (members[:, None] == nonmembers[None, :])).mean()
    assert roc_auc(members, nonmembers) == pytest.approx(pairwise)


def test_auc_of_identical_distributions_is_near_half():
    rng = np.random.default_rng(1)
    assert roc_auc(rng.normal(size=2000), rng.normal(size=2000)) == pytest.approx(0.5, abs=0.03)
    same = list(rng.normal(size=50))
    assert roc_auc(same, same) == 0.5


# --- TPR at a fixed FPR -----------------------------------------------------------------------

NONMEMBERS_100 = [float(v) for v in range(100)]


def test_tpr_at_fpr_threshold_is_set_on_the_nonmembers():
    result = tpr_at_fpr([98.5, 99.5, 50.0, 10.0], NONMEMBERS_100, 0.01)
    assert result.resolvable and result.reason == ""
    assert result.threshold == 98.0  # only the non-member at 99 lies above it
    assert result.achieved_fpr == 0.01
    assert result.value == 0.5
    wider = tpr_at_fpr([98.5, 99.5, 94.5, 10.0], NONMEMBERS_100, 0.05)
    assert (wider.threshold, wider.achieved_fpr, wider.value) == (94.0, 0.05, 0.75)


def test_tpr_at_fpr_with_tied_nonmembers_never_exceeds_the_fpr():
    result = tpr_at_fpr([0.0, 1.0], [0.0] * 100, 0.01)
    assert result.achieved_fpr == 0.0 and result.value == 0.5


def test_tpr_at_fpr_is_unresolvable_with_too_few_nonmembers():
    result = tpr_at_fpr([5.0] * 10, [float(v) for v in range(50)], 0.01)  # 50 × 0.01 = 0.5 < 1
    assert not result.resolvable
    assert result.value is None and result.threshold is None
    assert "50 non-members" in result.reason and "at least 100" in result.reason
    assert tpr_at_fpr([5.0], NONMEMBERS_100, 0.01).resolvable  # 100 × 0.01 = 1


# --- bootstrap ------------------------------------------------------------------------------


def _shifted(n_members: int, n_nonmembers: int, shift: float = 1.0):
    rng = np.random.default_rng(7)
    return rng.normal(shift, 1.0, n_members), rng.normal(0.0, 1.0, n_nonmembers)


def test_bootstrap_brackets_the_estimates_and_is_seeded():
    members, nonmembers = _shifted(200, 200)
    result = bootstrap_attack("loss", members, nonmembers, seed=3)
    assert result.auc == roc_auc(members, nonmembers)
    assert result.auc_low <= result.auc <= result.auc_high
    assert 0.65 < result.auc < 0.85
    assert result.tpr_at_1 == tpr_at_fpr(members, nonmembers, 0.01).value
    assert result.tpr_at_1_low <= result.tpr_at_1 <= result.tpr_at_1_high
    assert result.tpr_at_01 is None and result.tpr_at_01_high is None
    assert "1000 non-members" in result.note
    assert (result.n_members, result.n_nonmembers, result.resamples) == (200, 200, 2000)
    assert bootstrap_attack("loss", members, nonmembers, seed=3) == result
    assert bootstrap_attack("loss", members, nonmembers, seed=4) != result


def test_bootstrap_reports_low_fpr_only_when_resolvable():
    members, nonmembers = _shifted(100, 1000, shift=2.0)
    big = bootstrap_attack("min_k", members, nonmembers)
    assert big.tpr_at_01 is not None and big.note == ""
    assert big.tpr_at_01_low <= big.tpr_at_01 <= big.tpr_at_01_high
    small = bootstrap_attack("min_k", members[:20], nonmembers[:50])
    assert small.tpr_at_1 is None and small.tpr_at_1_low is None
    assert "cannot resolve an FPR of 0.01" in small.note
    with pytest.raises(ValueError, match="2,000 resamples"):
        bootstrap_attack("loss", members, nonmembers, resamples=500)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_attack("loss", members, [])


def test_bootstrap_attacks_and_worst_case():
    members, nonmembers = _shifted(120, 120)
    member_scores = [{"loss": m, "min_k": 0.2 * m, "zlib": -m} for m in members]
    nonmember_scores = [{"loss": n, "min_k": n, "zlib": -n} for n in nonmembers]
    results = bootstrap_attacks(member_scores, nonmember_scores)
    assert [r.name for r in results] == ["loss", "zlib", "min_k"]
    by_name = {r.name: r for r in results}
    assert by_name["zlib"].auc == pytest.approx(1 - by_name["loss"].auc)
    assert worst_case(results).name == "loss"
    assert worst_case(results, by="tpr_at_1").name == "loss"
    with pytest.raises(ValueError, match="no attack"):
        worst_case([])


def test_worst_case_is_the_highest_upper_bound_not_the_highest_point():
    def result(name: str, auc: float, high: float) -> AttackResult:
        return AttackResult(name, auc, auc - 0.02, high, None, None, None, None, None, None,
                            30, 30, 2000, 1, "")

    narrow, wide = result("loss", 0.58, 0.60), result("zlib", 0.55, 0.66)
    assert worst_case([narrow, wide]) is wide
    with pytest.raises(ValueError, match="resolvable"):
        worst_case([narrow, wide], by="tpr_at_1")


# --- canaries -------------------------------------------------------------------------------


def test_canaries_are_deterministic_distinct_and_well_formed():
    canaries = make_canaries(50, seed=11)
    assert canaries == make_canaries(50, seed=11)
    assert [c.secret for c in canaries] != [c.secret for c in make_canaries(50, seed=12)]
    assert len({c.secret for c in canaries}) == 50 and len({c.id for c in canaries}) == 50
    first = canaries[0]
    assert first.id == "canary-000"
    assert len(first.secret) == 9 and first.secret.isdigit()
    assert first.text == f"My account verification code is {first.secret}."
    assert first.prefix == "My account verification code is "
    assert first.render("000000000") == "My account verification code is 000000000."


def test_canaries_exhaust_a_small_space_without_collisions():
    every = make_canaries(100, seed=0, template="PIN {secret}", digits=2)
    assert sorted(c.secret for c in every) == [f"{i:02d}" for i in range(100)]
    with pytest.raises(ValueError, match="only 100 distinct"):
        make_canaries(101, seed=0, digits=2)
    with pytest.raises(ValueError, match="exactly once"):
        make_canaries(1, seed=0, template="no secret here")
    long = make_canaries(30, seed=5, digits=20)  # beyond int64: drawn digit by digit
    assert len({c.secret for c in long}) == 30 and all(len(c.secret) == 20 for c in long)


def test_candidate_secrets_exclude_the_true_one():
    canary = Canary("canary-000", "42", "PIN 42", "PIN {secret}")
    others = candidate_secrets(canary, 99, seed=3)
    assert sorted(others) == sorted(f"{i:02d}" for i in range(100) if i != 42)
    assert candidate_secrets(canary, 10, seed=3) == candidate_secrets(canary, 10, seed=3)
    nine = make_canaries(1, seed=2)[0]
    many = candidate_secrets(nine, 500, seed=1)
    assert len(set(many)) == 500 and nine.secret not in many
    assert all(len(s) == 9 and s.isdigit() for s in many)
    with pytest.raises(ValueError, match="only 99 distinct"):
        candidate_secrets(canary, 100, seed=3)


def test_exposure_in_bits():
    k = 5
    others = [-10.0 - i for i in range(2 ** k - 1)]
    assert exposure(-1.0, others) == pytest.approx(k)  # first among 2^k: k bits
    assert exposure(-100.0, others) == pytest.approx(0.0)  # last: nothing learned
    assert exposure(-10.5, others) == pytest.approx(k - 1)  # rank 2: one bit less
    # indifferent model: mid-rank 1 + 31/2 among 32
    assert exposure(-1.0, [-1.0] * 31) == pytest.approx(5 - math.log2(16.5))
    with pytest.raises(ValueError, match="at least one candidate"):
        exposure(-1.0, [])


def test_extracted_finds_the_digits_in_the_continuation():
    assert extracted("My account verification code is 394018275.", "394018275")
    assert extracted("394 018 275", "394018275")
    assert extracted("code: 394-018-275", "394018275")
    assert not extracted("394018276", "394018275")
    assert not extracted("39401827", "394018275")
    assert not extracted("3 9  4018275", "394018275")


# --- verbatim extraction --------------------------------------------------------------------


def test_split_prefix():
    ids = list(range(10))
    assert split_prefix(ids, prefix_tokens=4, suffix_tokens=3) == ([0, 1, 2, 3], [4, 5, 6])
    assert split_prefix(ids, prefix_fraction=0.5) == ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
    assert split_prefix(ids, prefix_fraction=0.01, suffix_tokens=2) == ([0], [1, 2])
    assert split_prefix(ids, prefix_tokens=8, suffix_tokens=3) is None  # too short
    assert split_prefix(ids, prefix_tokens=10) is None
    with pytest.raises(ValueError, match="exactly one"):
        split_prefix(ids, prefix_tokens=4, prefix_fraction=0.5)
    with pytest.raises(ValueError, match="exactly one"):
        split_prefix(ids)


def test_exact_suffix_rate():
    assert exact_suffix_match([5, 6, 7, 99], [5, 6, 7])  # longer continuation is fine
    assert not exact_suffix_match([5, 6], [5, 6, 7])  # stopped early
    pairs = [([1, 2], [1, 2]), ([1, 3], [1, 2]), ([4], [4]), ([0, 0], [9, 9])]
    assert exact_suffix_rate(pairs) == 0.5
    with pytest.raises(ValueError, match="undefined"):
        exact_suffix_rate([])


def test_rate_difference_members_minus_nonmembers():
    members = [True] * 5 + [False] * 5
    nonmembers = [False] * 10
    result = rate_difference(members, nonmembers, seed=9)
    assert (result.member_rate, result.nonmember_rate, result.difference) == (0.5, 0.0, 0.5)
    assert 0.0 < result.low <= 0.5 <= result.high
    assert result.newcombe_low < 0.5 < result.newcombe_high
    assert rate_difference(members, nonmembers, seed=9) == result
    # No match anywhere: the bootstrap collapses to [0, 0]; Newcombe's interval does not.
    none = rate_difference([False] * 20, [False] * 20)
    assert (none.low, none.high) == (0.0, 0.0)
    assert none.newcombe_low < 0.0 < none.newcombe_high
