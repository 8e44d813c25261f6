"""Leakage: has the fine-tune memorised its training records? Pure computations (numpy only);
the engine supplies token log-probs and greedy continuations, the gate applies the bounds.

    attacks.py     membership inference: per-example scores (LOSS, reference, zlib, Min-K%,
                   Min-K%++; higher = more likely a member), ROC AUC, TPR at a fixed FPR,
                   stratified bootstrap intervals, the worst case across attacks
    canaries.py    planted random secrets: generation, candidate secrets, exposure in bits,
                   extraction by greedy decoding
    extraction.py  verbatim extraction: prefix / suffix split of token ids, exact-suffix rates,
                   members' rate minus non-members' with intervals
"""

from evalgate.leakage.attacks import (
    ATTACKS,
    AttackResult,
    ExampleTokens,
    TprAtFpr,
    bootstrap_attack,
    bootstrap_attacks,
    loss_score,
    membership_scores,
    min_k_plus_plus_score,
    min_k_score,
    nonmembers_needed,
    reference_score,
    roc_auc,
    tpr_at_fpr,
    worst_case,
    zlib_entropy,
    zlib_score,
)
from evalgate.leakage.canaries import (
    Canary,
    candidate_secrets,
    exposure,
    extracted,
    make_canaries,
)
from evalgate.leakage.extraction import (
    RateDifference,
    exact_suffix_match,
    exact_suffix_rate,
    rate_difference,
    split_prefix,
)

__all__ = [
    "ATTACKS", "AttackResult", "Canary", "ExampleTokens", "RateDifference", "TprAtFpr",
    "bootstrap_attack", "bootstrap_attacks", "candidate_secrets", "exact_suffix_match",
    "exact_suffix_rate", "exposure", "extracted", "loss_score", "make_canaries",
    "membership_scores", "min_k_plus_plus_score", "min_k_score", "nonmembers_needed",
    "rate_difference", "reference_score", "roc_auc", "split_prefix", "tpr_at_fpr",
    "worst_case", "zlib_entropy", "zlib_score",
]
