"""Per-token statistics of token sequences: what membership-inference attacks read.

For each token of a sequence after the first: log p(token | prefix), and the mean μ and standard
deviation σ of log p under the model's own next-token distribution at that position (Min-K%++
normalises each token's log-prob by them). The sequences are token ids, not text, so a training
record is scored on exactly the ids it was trained on (its chat template included).

Batches are sorted longest first and cut by the engine's token budget; the full-vocabulary
logits are upcast to float32 a chunk of positions at a time, never stored for a whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalgate.models.engine.core import Engine

CHUNK = 256  # positions upcast to float32 at once


@dataclass(frozen=True)
class TokenStats:
    """One sequence: per scored token (all but the first) its log-prob, μ and σ."""

    logprobs: tuple[float, ...]
    mu: tuple[float, ...]
    sigma: tuple[float, ...]


def token_stats(engine: Engine, sequences: Sequence[Sequence[int]], last: Sequence[int],
                done: Callable[[int], None] | None = None) -> list[TokenStats]:
    """TokenStats of the final `last[i]` tokens of each sequence (each given all the tokens
    before it). Only those positions' logits are computed, and a prefix common to a batch (a
    shared system prompt) runs once through the KV cache."""
    import torch

    from evalgate.models.engine.score import _forward

    for index, ids in enumerate(sequences):
        engine.check_length(index, len(ids), "token sequence")
    results: list[TokenStats] = [TokenStats((), (), ()) for _ in sequences]
    wanted = [max(0, min(int(n), len(ids) - 1)) for ids, n in zip(sequences, last)]
    todo = [i for i, n in enumerate(wanted) if n > 0]
    if done is not None:
        done(len(sequences) - len(todo))
    seqs = [list(sequences[i]) for i in todo]
    with torch.inference_mode():
        for batch in engine.batching.scoring_batches(seqs, logit_rows=[wanted[i] + 1
                                                                       for i in todo]):
            chosen = [todo[k] for k in batch]
            keep = max(wanted[i] for i in chosen)
            # Left padding aligns the rows' ends: the last `keep + 1` positions hold every
            # row's scored tokens; the very last one predicts past the end and is unused.
            logits = _forward(engine, [list(sequences[i]) for i in chosen],
                              logits_to_keep=keep + 1,
                              needs=[wanted[i] + 1 for i in chosen])[:, :-1]
            for b, index in enumerate(chosen):
                n = wanted[index]
                targets = torch.tensor(list(sequences[index][-n:]), device=logits.device)
                results[index] = _stats(logits[b, keep - n:], targets)
            if done is not None:
                done(len(batch))
    return results


def _stats(logits, targets) -> TokenStats:
    import torch

    picked, means, stds = [], [], []
    for start in range(0, logits.shape[0], CHUNK):
        part = torch.log_softmax(logits[start:start + CHUNK].float(), dim=-1)
        probs = part.exp()
        mu = (probs * part).sum(-1)
        variance = (probs * part.square()).sum(-1) - mu.square()
        picked.append(part.gather(-1, targets[start:start + CHUNK, None])[:, 0])
        means.append(mu)
        stds.append(variance.clamp_min(0.0).sqrt())
    return TokenStats(tuple(torch.cat(picked).tolist()), tuple(torch.cat(means).tolist()),
                      tuple(torch.cat(stds).tolist()))
