"""Membership inference: per-example attack scores and how well they separate members.

Every attack returns a *membership score*: HIGHER means "more likely a training member". So an
attack whose ROC AUC (members against non-members) is above 0.5 finds the training records, and
0.5 is what an adapter that memorised nothing gives. Token log-probabilities are natural logs
(nats) of each actual token given the tokens before it; NLL = −log p.

    loss             mean token log p = −(mean NLL)                     (Yeom et al. 2018)
    reference        mean NLL (base model) − mean NLL (candidate), same tokens
                                                    (reference-model calibration, Carlini et
                                                    al. 2021; Mireshghallah et al. 2022)
    zlib             −(mean NLL) / len(zlib.compress(UTF-8 bytes))      (Carlini et al. 2021)
    min_k            mean of the lowest ⌊k·T⌋ of the T token log p      (Shi et al. 2024)
    min_k_plus_plus  mean of the lowest ⌊k·T⌋ of (log p − μ) / σ        (Zhang et al. 2024)

(⌊k·T⌋ is at least one token; k = 0.2 by default.)

The separation figures are ROC AUC (the Mann–Whitney U statistic, ties counting half) and the
TPR at a low FPR, with seeded percentile-bootstrap intervals that resample members and
non-members independently (`evalgate.stats` conventions: 2,000 resamples, 95%).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from evalgate.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

ATTACKS = ("loss", "reference", "zlib", "min_k", "min_k_plus_plus")
MIN_K = 0.2
# Slack for ⌊k·T⌋ and ⌊fpr·n⌋ so that float products such as 0.29 · 100 = 28.999… still floor
# to the integer they stand for.
_FLOOR_SLACK = 1e-9


# --- per-example scores --------------------------------------------------------------------


def _logprobs(values: Sequence[float], what: str = "token_logprobs") -> np.ndarray:
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"{what} must be a non-empty list of floats (one per scored token)")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{what} contains a non-finite value (NaN or infinity)")
    return data


def _same_length(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.size != b.size:
        raise ValueError(f"{what} has {b.size} values for {a.size} tokens; they must be the "
                         "same tokens, position by position")


def _lowest_k_mean(values: np.ndarray, k: float) -> float:
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    count = max(1, math.floor(k * values.size + _FLOOR_SLACK))
    return float(np.sort(values)[:count].mean())


def loss_score(token_logprobs: Sequence[float]) -> float:
    """LOSS attack: the mean token log-prob, i.e. minus the mean token NLL. Members were
    trained on, so their loss is lower and this score higher."""
    return float(_logprobs(token_logprobs).mean())


def reference_score(token_logprobs: Sequence[float],
                    reference_logprobs: Sequence[float]) -> float:
    """Reference-calibrated LOSS: NLL under the base model − NLL under the candidate (both mean
    token NLL over the same tokens). Text that is merely easy is easy for the base model too; what
    the adapter learned shows as the candidate's loss dropping below the base model's."""
    candidate = _logprobs(token_logprobs)
    reference = _logprobs(reference_logprobs, "reference_logprobs")
    _same_length(candidate, reference, "reference_logprobs")
    return float(candidate.mean() - reference.mean())


def zlib_entropy(text: str | bytes) -> int:
    """Length in bytes of the zlib-compressed UTF-8 text (default level), Carlini et al.'s
    "zlib entropy"."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if not data:
        raise ValueError("the text is empty: its zlib entropy is undefined")
    return len(zlib.compress(data))


def zlib_score(token_logprobs: Sequence[float], text: str | bytes) -> float:
    """zlib-calibrated LOSS: −(mean token NLL) / len(zlib.compress(text as UTF-8)).

    Carlini et al. 2021 ("Extracting Training Data from Large Language Models") rank
    samples by the ratio of the model's log-perplexity (the mean token NLL) to the text's zlib
    entropy (compressed length in bytes): a low ratio is text the model finds far more predictable
    than a generic compressor does. Their reference code sorts by zlib / log-perplexity; the
    negated ratio used here orders examples identically and keeps higher = member. The mean NLL,
    not the sum, is what their log-perplexity is; for a fixed text the two differ only by the
    token count.
    """
    logprobs = _logprobs(token_logprobs)
    return float(logprobs.mean() / zlib_entropy(text))


def min_k_score(token_logprobs: Sequence[float], k: float = MIN_K) -> float:
    """Min-K% Prob (Shi et al. 2024): the mean of the lowest ⌊k·T⌋ token log-probs of T tokens
    (at least one). A non-member has a few very surprising tokens; a member has few outliers,
    so the score is higher for members."""
    return _lowest_k_mean(_logprobs(token_logprobs), k)


def min_k_plus_plus_score(token_logprobs: Sequence[float], mu: Sequence[float],
                          sigma: Sequence[float], k: float = MIN_K) -> float:
    """Min-K%++ (Zhang et al. 2024): each token's log-prob standardised against the model's own
    next-token distribution at that position, z_t = (log p(x_t) − μ_t) / σ_t with
    μ_t = E_{z∼p(·|x<t)}[log p(z)] and σ_t its standard deviation; the mean of the lowest
    ⌊k·T⌋ z_t (at least one). Training pushes a member's tokens towards a local maximum of the
    likelihood, where they stand above the distribution's mean, so the score is higher.

    A position whose distribution is degenerate (σ_t = 0: every token in its support equally
    likely) has z_t = 0: the actual token is neither more nor less likely than typical there.
    """
    logprobs = _logprobs(token_logprobs)
    means = _logprobs(mu, "mu")
    stds = _logprobs(sigma, "sigma")
    _same_length(logprobs, means, "mu")
    _same_length(logprobs, stds, "sigma")
    if np.any(stds < 0):
        raise ValueError("sigma is a standard deviation and cannot be negative")
    centred = logprobs - means
    safe = np.where(stds > 0, stds, 1.0)
    z = np.where(stds > 0, centred / safe, 0.0)
    return _lowest_k_mean(z, k)


@dataclass(frozen=True)
class ExampleTokens:
    """What the engine measures for one example: the candidate's log-prob of each actual token,
    optionally the mean and standard deviation of log p under the candidate's own next-token
    distribution at each position (for Min-K%++), the base model's log-probs of the same tokens,
    and the scored text (for zlib)."""

    token_logprobs: tuple[float, ...]
    text: str | bytes | None = None
    mu: tuple[float, ...] | None = None
    sigma: tuple[float, ...] | None = None
    reference_logprobs: tuple[float, ...] | None = None


def membership_scores(example: ExampleTokens, k: float = MIN_K) -> dict[str, float]:
    """Every attack whose inputs the example has, by name (in `ATTACKS` order); higher = more
    likely a member for each."""
    scores = {"loss": loss_score(example.token_logprobs)}
    if example.reference_logprobs is not None:
        scores["reference"] = reference_score(example.token_logprobs,
                                              example.reference_logprobs)
    if example.text is not None:
        scores["zlib"] = zlib_score(example.token_logprobs, example.text)
    scores["min_k"] = min_k_score(example.token_logprobs, k)
    if example.mu is not None and example.sigma is not None:
        scores["min_k_plus_plus"] = min_k_plus_plus_score(example.token_logprobs, example.mu,
                                                          example.sigma, k)
    return scores


# --- separation: AUC and TPR at a fixed FPR --------------------------------------------------


def _scores(values: Sequence[float], what: str) -> np.ndarray:
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or data.size == 0:
        raise ValueError(f"the {what} scores are empty: an attack needs members and non-members")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"the {what} scores contain a non-finite value (NaN or infinity)")
    return data


def _auc(members: np.ndarray, sorted_nonmembers: np.ndarray) -> float:
    # U = Σ over members of (#non-members below it + ½ · #non-members equal to it).
    below = np.searchsorted(sorted_nonmembers, members, side="left")
    at_or_below = np.searchsorted(sorted_nonmembers, members, side="right")
    u = below.sum() + 0.5 * (at_or_below - below).sum()
    return float(u / (members.size * sorted_nonmembers.size))


def roc_auc(member_scores: Sequence[float], nonmember_scores: Sequence[float]) -> float:
    """ROC AUC of membership scores: U / (n_members · n_nonmembers), with U the Mann–Whitney
    statistic — the probability that a random member scores above a random non-member, ties
    counting half. 1.0: perfect separation; 0.5: none; below 0.5: members look *less* familiar."""
    members = _scores(member_scores, "member")
    nonmembers = np.sort(_scores(nonmember_scores, "non-member"))
    return _auc(members, nonmembers)


def _allowed_false_positives(fpr: float, n_nonmembers: int) -> int:
    if not 0.0 < fpr <= 1.0:
        raise ValueError(f"fpr must be a fraction in (0, 1], got {fpr}")
    return math.floor(fpr * n_nonmembers + _FLOOR_SLACK)


def _threshold(sorted_nonmembers: np.ndarray, allowed: int) -> float:
    # Predicting "member" when score > threshold: with the (allowed + 1)-th highest non-member
    # score as threshold, at most `allowed` non-members lie strictly above it (fewer with ties).
    if allowed >= sorted_nonmembers.size:
        return -math.inf
    return float(sorted_nonmembers[sorted_nonmembers.size - 1 - allowed])


@dataclass(frozen=True)
class TprAtFpr:
    """The true-positive rate at a false-positive rate fixed on the non-members.

    The threshold is set so that at most ⌊fpr·n⌋ of the n non-members score above it; a member
    counts as found when its score is strictly above. With fpr·n < 1 not even one false positive
    is allowed, so the FPR cannot be told apart from 0 and the figure is not resolvable: `value`
    is None and `reason` says how many non-members it would take."""

    fpr: float
    value: float | None
    threshold: float | None
    achieved_fpr: float | None
    n_members: int
    n_nonmembers: int
    resolvable: bool
    reason: str


def nonmembers_needed(fpr: float) -> int:
    """The fewest non-members at which a TPR at `fpr` is resolvable (fpr · n ≥ 1)."""
    return math.ceil(1.0 / fpr - _FLOOR_SLACK)


def tpr_at_fpr(member_scores: Sequence[float], nonmember_scores: Sequence[float],
               fpr: float) -> TprAtFpr:
    members = _scores(member_scores, "member")
    nonmembers = np.sort(_scores(nonmember_scores, "non-member"))
    allowed = _allowed_false_positives(fpr, nonmembers.size)
    if allowed < 1:
        return TprAtFpr(fpr, None, None, None, members.size, nonmembers.size, False,
                        f"{nonmembers.size} non-members cannot resolve an FPR of {fpr:g} "
                        f"({fpr:g} × {nonmembers.size} < 1 false positive); it takes at least "
                        f"{nonmembers_needed(fpr)}")
    threshold = _threshold(nonmembers, allowed)
    value = float(np.mean(members > threshold))
    achieved = float(np.mean(nonmembers > threshold))
    return TprAtFpr(fpr, value, threshold, achieved, members.size, nonmembers.size, True, "")


# --- bootstrap over members and non-members ------------------------------------------------


@dataclass(frozen=True)
class AttackResult:
    """One attack's separation of members from non-members, with 95% percentile-bootstrap
    intervals (members and non-members resampled independently, `resamples` times from `seed`).

    TPR@1%FPR is None (with its interval) when the non-members cannot resolve 1% (fewer than
    100); TPR@0.1%FPR is computed only from 1,000 non-members. `note` says what was left out."""

    name: str
    auc: float
    auc_low: float
    auc_high: float
    tpr_at_1: float | None
    tpr_at_1_low: float | None
    tpr_at_1_high: float | None
    tpr_at_01: float | None
    tpr_at_01_low: float | None
    tpr_at_01_high: float | None
    n_members: int
    n_nonmembers: int
    resamples: int
    seed: int
    note: str


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_attack(name: str, member_scores: Sequence[float],
                     nonmember_scores: Sequence[float],
                     resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> AttackResult:
    """AUC and TPR at 1% (and 0.1%) FPR with 95% percentile intervals.

    Each resample draws n_members members and n_nonmembers non-members with replacement, each
    from its own group (stratified: the class sizes stay fixed), and recomputes every figure —
    including the TPR's threshold, which is part of the attack. Seeded, so a verdict recomputes
    to the same interval."""
    if resamples < 2000:
        raise ValueError("an attack's bootstrap needs at least 2,000 resamples")
    members = _scores(member_scores, "member")
    nonmembers = _scores(nonmember_scores, "non-member")
    sorted_nonmembers = np.sort(nonmembers)
    n1, n0 = members.size, nonmembers.size
    levels = [0.01] + ([0.001] if n0 >= nonmembers_needed(0.001) else [])
    allowed = {fpr: _allowed_false_positives(fpr, n0) for fpr in levels}
    resolved = [fpr for fpr in levels if allowed[fpr] >= 1]

    rng = np.random.default_rng(seed)
    aucs = np.empty(resamples)
    tprs = {fpr: np.empty(resamples) for fpr in resolved}
    for r in range(resamples):
        m = members[rng.integers(0, n1, size=n1)]
        nm = np.sort(nonmembers[rng.integers(0, n0, size=n0)])
        aucs[r] = _auc(m, nm)
        for fpr in resolved:
            tprs[fpr][r] = np.mean(m > _threshold(nm, allowed[fpr]))

    figures: dict[float, tuple[float | None, float | None, float | None]] = {
        0.01: (None, None, None), 0.001: (None, None, None)}
    for fpr in resolved:
        point = float(np.mean(members > _threshold(sorted_nonmembers, allowed[fpr])))
        figures[fpr] = (point, *_interval(tprs[fpr]))
    notes = []
    if 0.01 not in resolved:
        notes.append(tpr_at_fpr(members, nonmembers, 0.01).reason)
    if 0.001 not in resolved:
        notes.append(f"TPR at 0.1% FPR needs at least {nonmembers_needed(0.001)} non-members "
                     f"(have {n0})")
    auc_low, auc_high = _interval(aucs)
    return AttackResult(name, _auc(members, sorted_nonmembers), auc_low, auc_high,
                        *figures[0.01], *figures[0.001], n1, n0, resamples, seed,
                        "; ".join(notes))


def bootstrap_attacks(member_scores: Sequence[Mapping[str, float]],
                      nonmember_scores: Sequence[Mapping[str, float]],
                      resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> list[AttackResult]:
    """`bootstrap_attack` for every attack that every example has a score for (as returned by
    `membership_scores`), in `ATTACKS` order. Every attack uses the same seed, so all are
    resampled on the same draws of examples."""
    everyone = list(member_scores) + list(nonmember_scores)
    names = [name for name in ATTACKS if everyone and all(name in s for s in everyone)]
    return [bootstrap_attack(name, [s[name] for s in member_scores],
                             [s[name] for s in nonmember_scores], resamples, seed)
            for name in names]


def worst_case(results: Sequence[AttackResult],
               by: Literal["auc", "tpr_at_1"] = "auc") -> AttackResult:
    """The attack that leaks most, judged as the gate judges: by the upper bound of the AUC's
    interval (ties broken by the point AUC), or with `by="tpr_at_1"` by the upper bound of
    TPR@1%FPR among the attacks where it is resolvable."""
    if not results:
        raise ValueError("no attack results to choose the worst case from")
    if by == "auc":
        return max(results, key=lambda r: (r.auc_high, r.auc))
    if by == "tpr_at_1":
        resolvable = [r for r in results if r.tpr_at_1_high is not None]
        if not resolvable:
            raise ValueError("no attack has a resolvable TPR at 1% FPR (fewer than 100 "
                             "non-members)")
        return max(resolvable, key=lambda r: (r.tpr_at_1_high, r.tpr_at_1))
    raise ValueError(f'by must be "auc" or "tpr_at_1", got {by!r}')
