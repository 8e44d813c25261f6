"""Overlap between texts (exact after normalisation, or near-duplicate by word n-grams) and the
seeded member / non-member split: the guards that keep training data away from what a model
is judged on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evalgate.util.text import normalize_text


def exact_overlap(left: Iterable[tuple[str, str]],
                  right: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs of (left id, right id) whose texts are equal after `normalize_text`."""
    index: dict[str, list[str]] = {}
    for example_id, text in right:
        index.setdefault(normalize_text(text), []).append(example_id)
    return [(left_id, right_id) for left_id, text in left
            for right_id in index.get(normalize_text(text), [])]


# Word n-grams for near-duplicate checks. Eight words is long enough that two independently
# written texts rarely share one by chance (stock phrases such as "please let me know as soon as
# possible" are shorter), yet short enough that a held-out text reused with a changed greeting,
# order number or a sentence added still shares most of its 8-grams with the copy.
NEAR_DUPLICATE_NGRAM = 8
NEAR_DUPLICATE_CONTAINMENT = 0.5


def word_ngrams(text: str, n: int = NEAR_DUPLICATE_NGRAM) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the `normalize_text` form; empty for texts shorter than n words."""
    words = normalize_text(text).split()
    return frozenset(zip(*(words[i:] for i in range(n))))


@dataclass(frozen=True)
class NearDuplicate:
    """A left text and a right text sharing `containment` of the smaller one's word n-grams."""

    left_id: str
    right_id: str
    containment: float


def near_duplicates(left: Iterable[tuple[str, str]], right: Iterable[tuple[str, str]], *,
                    n: int = NEAR_DUPLICATE_NGRAM,
                    threshold: float = NEAR_DUPLICATE_CONTAINMENT) -> list[NearDuplicate]:
    """Pairs whose word n-gram containment reaches `threshold`.

    Containment is |A ∩ B| / min(|A|, |B|): it flags a held-out text copied into a longer training
    text (and the reverse) where Jaccard similarity would be diluted by the extra words. Texts
    shorter than n words have no n-grams and are left to `exact_overlap`. An inverted index keeps
    this linear in the number of shared n-grams rather than quadratic in the number of texts.
    """
    index: dict[tuple[str, ...], list[int]] = {}
    right_items: list[tuple[str, int]] = []
    for example_id, text in right:
        grams = word_ngrams(text, n)
        for gram in grams:
            index.setdefault(gram, []).append(len(right_items))
        right_items.append((example_id, len(grams)))
    found: list[NearDuplicate] = []
    for left_id, text in left:
        grams = word_ngrams(text, n)
        if not grams:
            continue
        shared: dict[int, int] = {}
        for gram in grams:
            for position in index.get(gram, ()):
                shared[position] = shared.get(position, 0) + 1
        for position, count in shared.items():
            right_id, size = right_items[position]
            containment = count / min(len(grams), size)
            if containment >= threshold:
                found.append(NearDuplicate(left_id, right_id, round(containment, 3)))
    return found


def holdout_split(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(members, non-members): a seeded shuffle puts round(fraction × n) ids aside, each list in
    input order. The same ids, fraction and seed always give the same split."""
    import random

    if not 0 <= fraction < 1:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    order = list(ids)
    random.Random(f"evalgate-holdout:{seed}").shuffle(order)
    held = set(order[:round(fraction * len(order))])
    return [i for i in ids if i not in held], [i for i in ids if i in held]
