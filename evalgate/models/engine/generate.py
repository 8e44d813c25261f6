"""Greedy generation with continuous batching: the decode loop, stop strings, finish reasons.

Why not `model.generate`: for a small model on CPU the per-step overhead of the generic loop
(logits processors, stopping criteria, full-vocab bookkeeping, a KV cache that is re-allocated by
`torch.cat` every step) dominates, so batching buys little. This loop calls the model's forward
directly with a KV cache whose buffers are allocated once (kv_cache.py), asks only for
last-position logits, drops finished rows at once and admits waiting prompts into the running
batch (batching.py), and computes a prompt prefix shared by a batch (system prompt, few-shot
examples) once. Its greedy output is the same token sequence as `generate(do_sample=False)`
(tested in float32, batch against one at a time against `generate`).

A row ends at an EOS token (of the tokenizer or the generation config), where a stop string
first appears in its decoded text (cut before it), or at `max_new_tokens`; its `Generation`
names which, and goes to the caller's `on_result` hook as soon as it is known.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalgate.errors import ConfigError
from evalgate.models.engine import kv_cache
from evalgate.models.engine.batching import Row, Running

if TYPE_CHECKING:
    from evalgate.models.engine.core import Engine

Done = Callable[[int], None]  # told how many more rows finished


@dataclass(frozen=True)
class GenerationParams:
    """Greedy decoding limits. The output is cut before the first occurrence of any stop string."""

    max_new_tokens: int = 128
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            raise ConfigError(
                f"max_new_tokens must be a non-negative integer, got {self.max_new_tokens!r}",
                key="max_new_tokens",
                fix="use e.g. max_new_tokens: 128",
            )
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        if any(not isinstance(s, str) or not s for s in stop):
            raise ConfigError(
                f"stop strings must be non-empty strings, got {self.stop!r}",
                key="stop",
                fix='use e.g. stop: ["\\n\\n"]',
            )
        object.__setattr__(self, "stop", stop)


@dataclass(frozen=True)
class Generation:
    """One completion; `new_tokens` counts generated tokens, the EOS or stop-completing one too."""

    text: str
    prompt_tokens: int
    new_tokens: int
    finish_reason: str  # "eos" | "stop" | "length"


OnResult = Callable[[int, Generation], None] | None
_Finish = Callable[[Row, Generation], None]


def generate_greedy(
    engine: Engine,
    prompts: Sequence[str | Sequence[int]],
    params: GenerationParams,
    done: Done,
    on_result: OnResult,
) -> list[Generation]:
    """Greedy completions of `prompts`, in input order (the loop behind `Engine.generate`).

    Prompts are admitted longest first into a running batch of at most `max_batch` rows.
    Finished rows leave the batch at once, and when a quarter of the slots are free the next
    prompts are prefilled and merged into the running KV cache, so the batch stays full while
    the weights are read once per step for all of it.
    """
    import torch

    # A prompt is text, or token ids already (a training record's prefix, cut where it was
    # trained: re-encoding its decoded text could tokenize the boundary differently).
    encoded = [(engine.encode(p) if isinstance(p, str) else [int(t) for t in p])
               or [engine.prefix_id] for p in prompts]
    results: list[Generation | None] = [None] * len(prompts)
    if params.max_new_tokens == 0:
        for i, ids in enumerate(encoded):
            results[i] = Generation("", len(ids), 0, "length")
        done(len(prompts))
        return list(results)  # type: ignore[arg-type]
    for i, ids in enumerate(encoded):
        engine.check_length(i, len(ids) + params.max_new_tokens, "prompt plus max_new_tokens")
    order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
    pending = collections.deque(Row(i, encoded[i], []) for i in order)

    def finish(row: Row, generation: Generation) -> None:
        results[row.index] = generation
        if on_result is not None:
            on_result(row.index, generation)

    policy = engine.batching
    with torch.inference_mode():
        running: Running | None = None
        while pending or running is not None:
            group = policy.admit(pending, running, params.max_new_tokens)
            if group:
                fresh = _prefill(engine, group, params, finish, done)
                running = (
                    engine._merge(running, fresh, params.max_new_tokens) if fresh else running
                )
            if running is not None:
                running = _step(engine, running, params, finish, done)
    return list(results)  # type: ignore[arg-type]


def _prefill(
    engine: Engine, rows: list[Row], params: GenerationParams, finish: _Finish, done: Done
) -> Running | None:
    """Run the prompts of `rows` through the model and take their first token.

    A prefix shared by all rows (a system prompt, few-shot examples) is computed once and its
    KV copied to every row; each row's own suffix follows it after padding, with positions
    that continue from the prefix, so the result is the same as prefilling each prompt alone.
    """
    prompts = [r.prompt for r in rows]
    shared = engine.batching.shareable(prompts, [1] * len(rows))
    width = max(len(p) for p in prompts) - shared
    capacity = shared + width + params.max_new_tokens
    ids, mask, positions, starts = kv_cache.block(
        [p[shared:] for p in prompts], shared, capacity, engine.pad_id, engine.device
    )
    cache = (
        kv_cache.prefix_cache(
            engine.model, engine.config, engine.device, prompts[0][:shared], len(rows), capacity
        )
        if shared
        else kv_cache.make_cache(engine.config, capacity)
    )
    logits = engine.model(
        input_ids=ids,
        attention_mask=mask[:, : shared + width],
        position_ids=positions,
        **kv_cache.cache_argument(engine.model, cache),
        use_cache=True,
        logits_to_keep=1,
    ).logits
    state = Running(
        rows=list(rows),
        cache=cache,
        mask=mask,
        positions=positions[:, -1:],
        next_ids=ids[:, -1],
        length=shared + width,
        starts=starts,
    )
    return _take_tokens(engine, state, logits, params, finish, done)


def _step(
    engine: Engine, state: Running, params: GenerationParams, finish: _Finish, done: Done
) -> Running | None:
    """Feed every running row its last token and take the next one."""
    state.positions = state.positions + 1
    state.length += 1
    logits = engine.model(
        input_ids=state.next_ids[:, None],
        attention_mask=state.mask[:, : state.length],
        position_ids=state.positions,
        **kv_cache.cache_argument(engine.model, state.cache),
        use_cache=True,
        logits_to_keep=1,
    ).logits
    return _take_tokens(engine, state, logits, params, finish, done)


def _take_tokens(
    engine: Engine,
    state: Running,
    logits: Any,
    params: GenerationParams,
    finish: _Finish,
    done: Done,
) -> Running | None:
    """Append each row's greedy token; retire finished rows and drop them from the batch."""
    next_ids = logits[:, -1].float().argmax(-1)
    keep: list[int] = []
    for b, (row, token) in enumerate(zip(state.rows, next_ids.tolist())):
        row.tokens.append(token)
        generation = _finished(engine, row, token, params)
        if generation is None:
            keep.append(b)
        else:
            finish(row, generation)
    done(len(state.rows) - len(keep))
    if not keep:
        return None
    state.next_ids = next_ids
    if len(keep) < len(state.rows):
        kv_cache.keep_rows(state, keep, engine.device)
    return state


def _finished(engine: Engine, row: Row, token: int, params: GenerationParams) -> Generation | None:
    """The row's result if `token` ends it (EOS, stop string, length limit), else None."""
    if token in engine.eos_ids:
        text = engine.decode(row.tokens[:-1])
        return Generation(text, len(row.prompt), len(row.tokens), "eos")
    if params.stop:
        text = engine.decode(row.tokens)
        cut = min((i for i in (text.find(s) for s in params.stop) if i >= 0), default=-1)
        if cut >= 0:
            return Generation(text[:cut], len(row.prompt), len(row.tokens), "stop")
    if len(row.tokens) >= params.max_new_tokens:
        return Generation(engine.decode(row.tokens), len(row.prompt), len(row.tokens), "length")
    return None
