"""Pairwise verdicts in both orders, and what they add up to (no model here: pure accounting).

Every comparison of X with Y is judged twice: X shown first, then X shown second. A judge that
prefers a position rather than an answer flips its verdict with the order; such a pair counts
as a tie. So:

    forward (X first)   backward (X second)   result for X
    first               second                win      (X preferred in both orders)
    second              first                 loss
    first               first                 tie      (position bias: the first one won twice)
    tie / unparseable   anything              tie

A tie counts one half. Position consistency is the share of pairs whose two verdicts name the
same answer (or both say tie); unparseable verdicts are counted and reported, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FIRST, SECOND, TIE = "first", "second", "tie"
WIN, LOSS, DRAW = "win", "loss", "tie"
SCORES = {WIN: 1.0, DRAW: 0.5, LOSS: 0.0}


@dataclass(frozen=True)
class PairVerdicts:
    """The judge's verdicts on one pair: with X first (`forward`) and with X second
    (`backward`); each FIRST, SECOND, TIE or None (unparseable)."""

    forward: str | None
    backward: str | None

    @property
    def result(self) -> str:
        """win, loss or tie, for X."""
        forward = {FIRST: WIN, SECOND: LOSS, TIE: DRAW}.get(self.forward or "")
        backward = {FIRST: LOSS, SECOND: WIN, TIE: DRAW}.get(self.backward or "")
        if forward is None or backward is None or forward != backward:
            return DRAW
        return forward

    @property
    def score(self) -> float:
        return SCORES[self.result]

    @property
    def consistent(self) -> bool:
        """Both orders name the same answer (or both say tie)."""
        if self.forward is None or self.backward is None:
            return False
        flipped = {FIRST: SECOND, SECOND: FIRST, TIE: TIE}[self.backward]
        return self.forward == flipped

    @property
    def unparsed(self) -> int:
        return (self.forward is None) + (self.backward is None)


@dataclass(frozen=True)
class Tally:
    wins: int
    ties: int
    losses: int
    consistent: int
    unparsed: int  # verdicts (of 2 per pair) that could not be read
    n: int

    @property
    def win_rate(self) -> float:
        return (self.wins + 0.5 * self.ties) / self.n if self.n else float("nan")

    @property
    def consistency(self) -> float:
        return self.consistent / self.n if self.n else float("nan")

    def to_json(self) -> dict[str, float | int]:
        return {"wins": self.wins, "ties": self.ties, "losses": self.losses,
                "consistent": self.consistent, "unparsed": self.unparsed, "n": self.n,
                "win_rate": self.win_rate, "consistency": self.consistency}


def tally(pairs: Sequence[PairVerdicts]) -> Tally:
    results = [p.result for p in pairs]
    return Tally(wins=results.count(WIN), ties=results.count(DRAW), losses=results.count(LOSS),
                 consistent=sum(p.consistent for p in pairs),
                 unparsed=sum(p.unparsed for p in pairs), n=len(pairs))


def gold_agreement(pairs: Sequence[PairVerdicts], preferred: Sequence[str]) -> tuple[int, int]:
    """(pairs decided as the gold label says, pairs): each pair judged with its answer `a` as X,
    so gold `a` agrees with a win and gold `b` with a loss; a tie agrees with neither."""
    agree = sum((p.result == WIN) if gold == "a" else (p.result == LOSS)
                for p, gold in zip(pairs, preferred, strict=True))
    return agree, len(pairs)


def longer_won(pairs: Sequence[PairVerdicts], x_lengths: Sequence[int],
               y_lengths: Sequence[int]) -> tuple[int, int]:
    """(decided pairs the longer answer won, decided pairs of unequal length): length bias in
    plain sight — a judge that prefers longer answers wins for verbosity, not quality."""
    won = decided = 0
    for pair, x, y in zip(pairs, x_lengths, y_lengths, strict=True):
        if pair.result == DRAW or x == y:
            continue
        decided += 1
        won += (pair.result == WIN) == (x > y)
    return won, decided
