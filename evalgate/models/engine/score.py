"""Scoring: the log-likelihood of a continuation, and the log-prob of every token of a text.

Log-likelihoods are what capability suites (MMLU-style multiple choice) compare between the base
model and a candidate; per-token log-probs are what membership-inference checks read. Both run
left-padded batches with only the logits they need (the last positions, upcast to float32 a
chunk at a time), and a long prefix common to a batch (few-shot examples, a subject header) is
run once per call and shared through the KV cache. Requests whose continuation is one token are
grouped by context: one pass over " A"/" B"/" C"/" D"'s context answers all four. Log-likelihood
batches are cut where the contexts' lengths drop (batching.BatchPolicy.partition), so that a
few long prompts do not pad many short ones.

These are the bodies of `Engine.loglikelihood` and `Engine.token_logprobs`; they read the
engine's model, tokenizer and limits and take `done(n)` for progress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from evalgate.errors import ConfigError
from evalgate.models.engine import kv_cache
from evalgate.models.engine.last_layer import last_position_only

if TYPE_CHECKING:
    import torch

    from evalgate.models.engine.core import Engine

Done = Callable[[int], None]  # told how many more requests are answered


def loglikelihood(
    engine: Engine, requests: Sequence[tuple[str, str]], done: Done
) -> list[tuple[float, bool]]:
    """For each (context, continuation): sum log p(continuation | context), and whether the
    continuation is exactly the greedy decode (see `Engine.loglikelihood`)."""
    import torch

    results: list[tuple[float, bool] | None] = [None] * len(requests)
    single: dict[tuple[int, ...], list[tuple[int, int]]] = {}
    general: list[tuple[int, list[int], int]] = []  # (index, ids, continuation length)
    # Each distinct text is tokenized once (MMLU sends every context four times).
    texts = list(dict.fromkeys(text for request in requests for text in request))
    encoded = dict(zip(texts, engine.encode_many(texts)))
    for i, (context, continuation) in enumerate(requests):
        cont = encoded[continuation]
        if not cont:
            results[i] = (0.0, True)
            continue
        ctx = encoded[context] or [engine.prefix_id]
        ids = _fit(engine, i, ctx + cont, len(cont))
        if len(cont) == 1:
            single.setdefault(tuple(ids[:-1]), []).append((i, cont[0]))
        else:
            general.append((i, ids, len(cont)))
    done(sum(r is not None for r in results))
    prefixes = PrefixKV()
    with torch.inference_mode():
        score_single(engine, single, results, done, prefixes)
        score_general(engine, general, results, done, prefixes)
    return list(results)  # type: ignore[arg-type]


def score_single(
    engine: Engine,
    groups: dict[tuple[int, ...], list[tuple[int, int]]],
    results: list[Any],
    done: Done,
    prefixes: PrefixKV | None = None,
) -> None:
    """Single-token continuations, grouped by context: one last-position pass per context."""
    import torch

    contexts = [list(c) for c in groups]
    for batch in engine.batching.scoring_batches(contexts):
        rows = [contexts[k] for k in batch]
        # Only the last position's logits are read: the last layer computes that one alone.
        with last_position_only(engine.model):
            logits = _forward(
                engine, rows, logits_to_keep=1, needs=[1] * len(rows), prefixes=prefixes
            )[:, -1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        best = logprobs.argmax(-1).tolist()
        wanted = [(b, index, token) for b, k in enumerate(batch)
                  for index, token in groups[tuple(contexts[k])]]
        picked = logprobs[[b for b, _, _ in wanted], [t for _, _, t in wanted]].tolist()
        for (b, index, token), value in zip(wanted, picked):
            results[index] = (value, best[b] == token)
        done(len(wanted))


def score_general(
    engine: Engine,
    items: list[tuple[int, list[int], int]],
    results: list[Any],
    done: Done,
    prefixes: PrefixKV | None = None,
) -> None:
    """Continuations of any length: (index, context + continuation ids, continuation length)."""
    import torch

    for batch in engine.batching.scoring_batches(
        [ids for _, ids, _ in items], logit_rows=[c + 1 for _, _, c in items]
    ):
        chosen = [items[k] for k in batch]
        keep = max(c for _, _, c in chosen)
        # Left padding aligns every row's end, so the continuation logits of all rows sit in
        # the last `keep + 1` positions; the very last one predicts past the end and is unused.
        logits = _forward(
            engine,
            [ids for _, ids, _ in chosen],
            logits_to_keep=keep + 1,
            needs=[c + 1 for _, _, c in chosen],
            prefixes=prefixes,
        )[:, :-1]
        for b, (index, ids, c) in enumerate(chosen):
            targets = torch.tensor(ids[-c:], device=logits.device)
            row = logits[b, keep - c :]
            greedy = bool((row.argmax(-1) == targets).all())
            results[index] = (float(_target_logprobs(row, targets).sum()), greedy)
        done(len(batch))


def token_logprobs(engine: Engine, texts: Sequence[str], done: Done) -> list[list[float]]:
    """log p(token | prefix) for every token of each text but the first."""
    import torch

    encoded = [engine.encode(t) for t in texts]
    for i, ids in enumerate(encoded):
        engine.check_length(i, len(ids), "text")
    results: list[list[float]] = [[] for _ in texts]
    order = sorted(
        (i for i, e in enumerate(encoded) if len(e) > 1), key=lambda i: (-len(encoded[i]), i)
    )
    done(len(texts) - len(order))
    lengths = [len(encoded[i]) for i in order]
    with torch.inference_mode():
        for batch in engine.batching.batches(lengths, logit_rows=lengths):
            indices = [order[k] for k in batch]
            rows = [encoded[i] for i in indices]
            width = max(len(r) for r in rows)
            logits = _forward(engine, rows, logits_to_keep=0)
            for b, (index, ids) in enumerate(zip(indices, rows)):
                row = logits[b, width - len(ids) : -1]
                targets = torch.tensor(ids[1:], device=row.device)
                results[index] = _target_logprobs(row, targets).tolist()
            done(len(batch))
    return results


class PrefixKV:
    """The KV of the last few shared prefixes, each computed once per scoring call.

    Scoring batches come run by run (batching.prefix_runs), so consecutive batches share the
    same prefix: a zero-shot MMLU header of 11 tokens shared by all 570 questions was run again
    for each of the 24 batches, ~45 ms of per-layer overhead each on the reference machine.
    One row's KV is small (SmolLM2-135M: 23 KB a token in bf16), and at most `keep` are held.
    """

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self.entries: dict[tuple[int, ...], Any] = {}

    def get(self, engine: Engine, prefix: list[int]) -> Any:
        key = tuple(prefix)
        single = self.entries.pop(key, None)
        if single is None:
            single = kv_cache.prefix_kv(engine.model, engine.config, engine.device, prefix)
        self.entries[key] = single  # most recently used last
        while len(self.entries) > self.keep:
            del self.entries[next(iter(self.entries))]
        return single


def _forward(
    engine: Engine,
    rows: list[list[int]],
    *,
    logits_to_keep: int,
    needs: list[int] | None = None,
    prefixes: PrefixKV | None = None,
) -> torch.Tensor:
    """One left-padded forward pass; logits for the last `logits_to_keep` positions (0 = all).

    With `needs` (per row: how many final positions must have their logits computed in this
    pass), a long prefix common to all rows is run once and shared through the KV cache (once
    per scoring call with `prefixes`).
    """
    shared = engine.batching.shareable(rows, needs) if needs is not None else 0
    width = max(len(r) for r in rows) - shared
    ids, mask, positions, _ = kv_cache.block(
        [r[shared:] for r in rows], shared, shared + width, engine.pad_id, engine.device
    )
    cache = None
    if shared:
        prefix = rows[0][:shared]
        single = (
            prefixes.get(engine, prefix)
            if prefixes is not None
            else kv_cache.prefix_kv(engine.model, engine.config, engine.device, prefix)
        )
        cache = kv_cache.seeded_cache(engine.config, single, len(rows), shared + width)
    return engine.model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        **kv_cache.cache_argument(engine.model, cache),
        use_cache=cache is not None,
        logits_to_keep=logits_to_keep,
    ).logits


def _fit(engine: Engine, index: int, ids: list[int], continuation: int) -> list[int]:
    """Left-truncate context+continuation to the model's window (the continuation must fit)."""
    if engine.max_length is None or len(ids) <= engine.max_length:
        return ids
    if continuation >= engine.max_length:
        raise ConfigError(
            f"request {index}: the continuation has {continuation} tokens, more than the "
            f"model's window of {engine.max_length}",
            key="continuation",
            fix="shorten the continuation",
        )
    return ids[-engine.max_length :]


def _target_logprobs(logits: torch.Tensor, targets: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """log_softmax(logits)[i, targets[i]] in float32, a chunk of positions at a time.

    Computed as target logit minus logsumexp, so the full-vocab log-softmax is never stored and
    at most `chunk` positions are upcast at once.
    """
    import torch

    out = []
    for start in range(0, logits.shape[0], chunk):
        part = logits[start : start + chunk].float()
        picked = part.gather(-1, targets[start : start + chunk, None])[:, 0]
        out.append(picked - torch.logsumexp(part, dim=-1))
    return torch.cat(out) if out else logits.new_zeros(0, dtype=torch.float32)
