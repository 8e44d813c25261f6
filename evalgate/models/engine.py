"""The batched local engine: greedy generation, log-likelihoods and per-token log-probs.

Why not `model.generate`: for a small model on CPU the per-step overhead of the generic loop
(logits processors, stopping criteria, full-vocab bookkeeping, a KV cache that is re-allocated by
`torch.cat` every step) dominates, so batching buys little. This loop calls the model's forward
directly with a KV cache whose buffers are allocated once, asks only for last-position logits,
drops finished rows at once and admits waiting prompts into the running batch (continuous
batching), and computes a prompt prefix shared by a batch (system prompt, few-shot examples)
once. Its greedy output is the same token sequence as `generate(do_sample=False)` (tested in
float32, batch against one at a time against `generate`).

Everything runs on the model's own device, so the same code works on CUDA. torch and
transformers are imported when an Engine is built, not when this module is imported, so code that
only needs `ENGINE_VERSION` or the dataclasses (e.g. a fully cached re-run) stays fast to start.
"""

from __future__ import annotations

import collections
import functools
import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalgate.errors import ConfigError

# transformers 5.2x renames the forward's `past_key_values` to `cache` and warns on every call;
# the old name works across the whole supported range (>= 5.0) and in PEFT wrappers, so keep it
# and keep the users' terminal clean.
warnings.filterwarnings("ignore", message=r"`past_key_values` is deprecated",
                        category=FutureWarning)

if TYPE_CHECKING:  # imported on first use at run time: reading a cached run needs neither
    import torch

    from evalgate.models.loading import LoadedModel

OnDone = Callable[[int], None] | None

# Part of every cached output's key: bump when a change could alter generated text or scores.
ENGINE_VERSION = "1"

# Largest number of (row, position) logits materialised at once when scoring: bounds the
# memory of the [rows, positions, vocab] float tensor (1,024 × 49k vocab × 4 B ≈ 200 MB).
_LOGIT_POSITIONS = 1024


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


@dataclass
class _Row:
    index: int
    prompt: list[int]
    tokens: list[int]


@dataclass
class _Running:
    """The batch being decoded: its rows, KV cache and per-row mask and positions.

    All rows share the cache's column layout: `length` columns are filled, and row b's real
    tokens start at column `starts[b]` (columns before are padding, masked out).
    """

    rows: list[_Row]
    cache: Any
    mask: Any  # [rows, capacity] long, 1 where a column holds one of the row's tokens
    positions: Any  # [rows, 1] position of each row's last fed token
    next_ids: Any  # [rows] token each row feeds next
    length: int
    starts: list[int]

    @property
    def width(self) -> int:
        """Columns still in use by some row: what a merge has to carry over."""
        return self.length - min(self.starts)


class Engine:
    """Batched greedy generation and scoring over a `LoadedModel`.

    `token_budget` caps padded tokens per forward pass (prompt plus new tokens for generation,
    context plus continuation for scoring; a prefix shared by a whole prefill group, such as a
    long system prompt, is computed once and counted once); `max_batch` caps rows. Both bound memory; larger
    batches amortise the per-step cost of reading the weights: on the 2-core reference machine
    a decode step of the embedded model costs ~80 ms at 16 rows, ~90 ms at 32 and ~110-140 ms
    at 64, so 64 rows give ~1.5× the tokens per second of 32 (bench/bench_engine.py).
    """

    # A prefix shared by a whole prefill group is computed once when it is at least this long.
    min_shared_prefix = 8
    # New prompts join a running batch once max_batch // refill_divisor slots are free and they
    # make up at least 1/refill_divisor of the batch they join: each admission costs a prefill
    # pass and a copy of the cache, so it pays to admit several rows.
    refill_divisor = 4

    def __init__(
        self, loaded: LoadedModel, *, token_budget: int = 8192, max_batch: int = 64
    ) -> None:
        if token_budget < 1 or max_batch < 1:
            raise ConfigError(
                "token_budget and max_batch must be positive",
                key="engine",
                fix="use e.g. token_budget=8192, max_batch=64",
            )
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.token_budget = token_budget
        self.max_batch = max_batch
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        self.config = base.config
        self.device = next(self.model.parameters()).device
        self.pad_id = _first_id(self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, 0)
        self.eos_ids = _eos_ids(self.tokenizer, base)
        self.prefix_id = _first_id(
            self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self.pad_id
        )
        self.max_length = int(getattr(self.config, "max_position_embeddings", 0) or 0) or None
        # Refill and shared prefixes rearrange KV columns, which needs the in-place cache layer on
        # every layer; other architectures (sliding windows, linear attention) get plain batches.
        self.refill = supports_growing_cache(self.config)

    # -- prompts ---------------------------------------------------------------------------------

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The chat template applied to `messages` with the assistant turn opened, as a string."""
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def encode(self, text: str) -> list[int]:
        """Token ids of an already-rendered string (no special tokens added: the template has
        them)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- generation ------------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[str],
        params: GenerationParams = GenerationParams(),
        on_done: OnDone = None,
        on_result: Callable[[int, Generation], None] | None = None,
    ) -> list[Generation]:
        """Greedy completions of `prompts`, in input order; `on_done(n)` as n more finish, and
        `on_result(i, generation)` as prompt i finishes (so a caller can keep results as they
        come: an interrupted run loses only the rows still running).

        Prompts are admitted longest first into a running batch of at most `max_batch` rows.
        Finished rows leave the batch at once, and when a quarter of the slots are free the next
        prompts are prefilled and merged into the running KV cache (continuous batching), so
        the batch stays full while the weights are read once per step for all of it.
        """
        import torch

        encoded = [self.encode(p) or [self.prefix_id] for p in prompts]
        results: list[Generation | None] = [None] * len(prompts)
        if params.max_new_tokens == 0:
            for i, ids in enumerate(encoded):
                results[i] = Generation("", len(ids), 0, "length")
            _notify(on_done, len(prompts))
            return list(results)  # type: ignore[arg-type]
        for i, ids in enumerate(encoded):
            self._check_length(i, len(ids) + params.max_new_tokens, "prompt plus max_new_tokens")
        order = sorted(range(len(encoded)), key=lambda i: (-len(encoded[i]), i))
        pending = collections.deque(_Row(i, encoded[i], []) for i in order)

        def finish(row: _Row, generation: Generation) -> None:
            results[row.index] = generation
            if on_result is not None:
                on_result(row.index, generation)

        with torch.inference_mode():
            running: _Running | None = None
            while pending or running is not None:
                group = self._admit(pending, running, params.max_new_tokens)
                if group:
                    fresh = self._prefill(group, params, finish, on_done)
                    running = (
                        self._merge(running, fresh, params.max_new_tokens) if fresh else running
                    )
                if running is not None:
                    running = self._step(running, params, finish, on_done)
        return list(results)  # type: ignore[arg-type]

    def _admit(
        self, pending: collections.deque[_Row], running: _Running | None, max_new: int
    ) -> list[_Row]:
        """Rows to prefill now: as many as slots and the token budget allow, but none while the
        batch is more than 3/4 full or the newcomers would be under a quarter of it (a merge
        copies the whole cache, so it is worth doing for several rows at once). An idle engine
        always takes at least one row."""
        size = len(running.rows) if running is not None else 0
        if running is not None and (
            not self.refill or self.max_batch - size < max(1, self.max_batch // self.refill_divisor)
        ):
            return []
        width = running.width if running is not None else 0
        group: list[_Row] = []
        shared = 0  # prefix common to the group so far: computed once, so counted once
        while pending and size + len(group) < self.max_batch:
            candidate = pending[0]
            # `pending` is sorted longest first: the group is as wide as its first prompt.
            longest = max(width, len((group[0] if group else candidate).prompt))
            if self.refill:
                first = group[0].prompt if group else candidate.prompt
                common = _common_prefix([first, candidate.prompt])
                shared = common if not group else min(shared, common)
                if shared < self.min_shared_prefix:
                    shared = 0
            rows = size + len(group) + 1
            over = shared + rows * (longest - shared + max_new) > self.token_budget
            if over and (group or running is not None):
                break
            group.append(pending.popleft())
        # When the token budget, not max_batch, bounds the batch, a single finished row would
        # otherwise let one prompt in at a time: a prefill pass and a copy of the whole cache per
        # row. Wait until the newcomers are at least a quarter of the batch they join.
        if running is not None and len(group) < max(1, (size + len(group)) // self.refill_divisor):
            pending.extendleft(reversed(group))
            return []
        return group

    def _prefill(
        self,
        rows: list[_Row],
        params: GenerationParams,
        finish: Callable[[_Row, Generation], None],
        on_done: OnDone,
    ) -> _Running | None:
        """Run the prompts of `rows` through the model and take their first token.

        A prefix shared by all rows (a system prompt, few-shot examples) is computed once and its
        KV copied to every row; each row's own suffix follows it after padding, with positions
        that continue from the prefix, so the result is the same as prefilling each prompt alone.
        """
        prompts = [r.prompt for r in rows]
        shared = self._shareable(prompts, [1] * len(rows))
        width = max(len(p) for p in prompts) - shared
        capacity = shared + width + params.max_new_tokens
        ids, mask, positions, starts = self._block([p[shared:] for p in prompts], shared, capacity)
        cache = (
            self._prefix_cache(prompts[0][:shared], len(rows), capacity)
            if shared
            else make_cache(self.config, capacity)
        )
        logits = self.model(
            input_ids=ids,
            attention_mask=mask[:, : shared + width],
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits
        state = _Running(
            rows=list(rows),
            cache=cache,
            mask=mask,
            positions=positions[:, -1:],
            next_ids=ids[:, -1],
            length=shared + width,
            starts=starts,
        )
        return self._take_tokens(state, logits, params, finish, on_done)

    def _step(
        self,
        state: _Running,
        params: GenerationParams,
        finish: Callable[[_Row, Generation], None],
        on_done: OnDone,
    ) -> _Running | None:
        """Feed every running row its last token and take the next one."""
        state.positions = state.positions + 1
        state.length += 1
        logits = self.model(
            input_ids=state.next_ids[:, None],
            attention_mask=state.mask[:, : state.length],
            position_ids=state.positions,
            past_key_values=state.cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits
        return self._take_tokens(state, logits, params, finish, on_done)

    def _take_tokens(
        self,
        state: _Running,
        logits: Any,
        params: GenerationParams,
        finish: Callable[[_Row, Generation], None],
        on_done: OnDone,
    ) -> _Running | None:
        """Append each row's greedy token; retire finished rows and drop them from the batch."""
        import torch

        next_ids = logits[:, -1].float().argmax(-1)
        keep: list[int] = []
        for b, (row, token) in enumerate(zip(state.rows, next_ids.tolist())):
            row.tokens.append(token)
            generation = self._finish(row, token, params)
            if generation is None:
                keep.append(b)
            else:
                finish(row, generation)
        _notify(on_done, len(state.rows) - len(keep))
        if not keep:
            return None
        state.next_ids = next_ids
        if len(keep) < len(state.rows):
            index = torch.tensor(keep, device=self.device)
            state.cache.batch_select_indices(index)
            state.mask, state.positions, state.next_ids = (
                state.mask[index],
                state.positions[index],
                next_ids[index],
            )
            state.rows = [state.rows[k] for k in keep]
            state.starts = [state.starts[k] for k in keep]
        return state

    def _merge(self, running: _Running | None, fresh: _Running, max_new: int) -> _Running:
        """One batch from two: both KV caches right-aligned in new buffers, leading columns that no
        row uses any more dropped. Attention only sees columns through the mask, and positions are
        per row, so moving a row's columns does not change what it computes."""
        import torch

        if running is None:
            return fresh
        parts = [(running, min(running.starts)), (fresh, min(fresh.starts))]
        width = max(state.length - first for state, first in parts)
        capacity = width + max_new
        cache = make_cache(self.config, capacity)
        for k, layer in enumerate(cache.layers):
            layer.merge(
                [
                    (state.cache.layers[k], first, width - (state.length - first))
                    for state, first in parts
                ]
            )
        mask = torch.zeros(
            (len(running.rows) + len(fresh.rows), capacity), dtype=torch.long, device=self.device
        )
        mask[:, width:] = 1
        starts: list[int] = []
        row = 0
        for state, first in parts:
            offset = width - (state.length - first)
            mask[row : row + len(state.rows), offset:width] = state.mask[:, first : state.length]
            starts += [s - first + offset for s in state.starts]
            row += len(state.rows)
        return _Running(
            rows=running.rows + fresh.rows,
            cache=cache,
            mask=mask,
            positions=torch.cat([running.positions, fresh.positions]),
            next_ids=torch.cat([running.next_ids, fresh.next_ids]),
            length=width,
            starts=starts,
        )

    def _finish(self, row: _Row, token: int, params: GenerationParams) -> Generation | None:
        """The row's result if `token` ends it (EOS, stop string, length limit), else None."""
        if token in self.eos_ids:
            text = self._decode(row.tokens[:-1])
            return Generation(text, len(row.prompt), len(row.tokens), "eos")
        if params.stop:
            text = self._decode(row.tokens)
            cut = min((i for i in (text.find(s) for s in params.stop) if i >= 0), default=-1)
            if cut >= 0:
                return Generation(text[:cut], len(row.prompt), len(row.tokens), "stop")
        if len(row.tokens) >= params.max_new_tokens:
            return Generation(self._decode(row.tokens), len(row.prompt), len(row.tokens), "length")
        return None

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # -- scoring ---------------------------------------------------------------------------------

    def loglikelihood(
        self, requests: Sequence[tuple[str, str]], on_done: OnDone = None
    ) -> list[tuple[float, bool]]:
        """For each (context, continuation): sum log p(continuation | context), and whether the
        continuation is exactly the greedy decode. Context and continuation are tokenized apart and
        concatenated, so the boundary is where the caller put it.

        Requests whose continuation is a single token are grouped by context: one forward pass
        of each distinct context (last-position logits only) answers all of them, as for MMLU's
        " A"/" B"/" C"/" D".
        """
        import torch

        results: list[tuple[float, bool] | None] = [None] * len(requests)
        single: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        general: list[tuple[int, list[int], int]] = []  # (index, ids, continuation length)
        for i, (context, continuation) in enumerate(requests):
            cont = self.encode(continuation)
            if not cont:
                results[i] = (0.0, True)
                continue
            ctx = self.encode(context) or [self.prefix_id]
            ids = self._fit(i, ctx + cont, len(cont))
            if len(cont) == 1:
                single.setdefault(tuple(ids[:-1]), []).append((i, cont[0]))
            else:
                general.append((i, ids, len(cont)))
        _notify(on_done, sum(r is not None for r in results))
        with torch.inference_mode():
            self._score_single(single, results, on_done)
            self._score_general(general, results, on_done)
        return list(results)  # type: ignore[arg-type]

    def _score_single(
        self,
        groups: dict[tuple[int, ...], list[tuple[int, int]]],
        results: list[Any],
        on_done: OnDone,
    ) -> None:
        import torch

        contexts = [list(c) for c in groups]
        for batch in self._scoring_batches(contexts):
            rows = [contexts[k] for k in batch]
            logits = self._forward(rows, logits_to_keep=1, needs=[1] * len(rows))[:, -1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            best = logprobs.argmax(-1).tolist()
            done = 0
            for b, k in enumerate(batch):
                for index, token in groups[tuple(contexts[k])]:
                    results[index] = (float(logprobs[b, token]), best[b] == token)
                    done += 1
            _notify(on_done, done)

    def _score_general(
        self, items: list[tuple[int, list[int], int]], results: list[Any], on_done: OnDone
    ) -> None:
        import torch

        for batch in self._scoring_batches(
            [ids for _, ids, _ in items], logit_rows=[c + 1 for _, _, c in items]
        ):
            chosen = [items[k] for k in batch]
            keep = max(c for _, _, c in chosen)
            # Left padding aligns every row's end, so the continuation logits of all rows sit in
            # the last `keep + 1` positions; the very last one predicts past the end and is unused.
            logits = self._forward(
                [ids for _, ids, _ in chosen],
                logits_to_keep=keep + 1,
                needs=[c + 1 for _, _, c in chosen],
            )[:, :-1]
            for b, (index, ids, c) in enumerate(chosen):
                targets = torch.tensor(ids[-c:], device=logits.device)
                row = logits[b, keep - c :]
                greedy = bool((row.argmax(-1) == targets).all())
                results[index] = (float(_target_logprobs(row, targets).sum()), greedy)
            _notify(on_done, len(batch))

    def token_logprobs(self, texts: Sequence[str], on_done: OnDone = None) -> list[list[float]]:
        """log p(token | prefix) for every token of each text but the first (for membership
        inference)."""
        import torch

        encoded = [self.encode(t) for t in texts]
        for i, ids in enumerate(encoded):
            self._check_length(i, len(ids), "text")
        results: list[list[float]] = [[] for _ in texts]
        order = sorted(
            (i for i, e in enumerate(encoded) if len(e) > 1), key=lambda i: (-len(encoded[i]), i)
        )
        _notify(on_done, len(texts) - len(order))
        lengths = [len(encoded[i]) for i in order]
        with torch.inference_mode():
            for batch in self._batches(lengths, logit_rows=lengths):
                indices = [order[k] for k in batch]
                rows = [encoded[i] for i in indices]
                width = max(len(r) for r in rows)
                logits = self._forward(rows, logits_to_keep=0)
                for b, (index, ids) in enumerate(zip(indices, rows)):
                    row = logits[b, width - len(ids) : -1]
                    targets = torch.tensor(ids[1:], device=row.device)
                    results[index] = _target_logprobs(row, targets).tolist()
                _notify(on_done, len(batch))
        return results

    def _forward(
        self, rows: list[list[int]], *, logits_to_keep: int, needs: list[int] | None = None
    ) -> torch.Tensor:
        """One left-padded forward pass; logits for the last `logits_to_keep` positions (0 = all).

        With `needs` (per row: how many final positions must have their logits computed in this
        pass), a long prefix common to all rows is run once and shared through the KV cache.
        """
        shared = self._shareable(rows, needs) if needs is not None else 0
        width = max(len(r) for r in rows) - shared
        ids, mask, positions, _ = self._block([r[shared:] for r in rows], shared, shared + width)
        cache = self._prefix_cache(rows[0][:shared], len(rows), shared + width) if shared else None
        return self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=cache is not None,
            logits_to_keep=logits_to_keep,
        ).logits

    def _shareable(self, rows: list[list[int]], needs: list[int]) -> int:
        """Length of the prefix worth computing once for `rows` (0 when too short to bother):
        common to all rows, and leaving each row's last `needs[i]` positions to the batch pass."""
        if not self.refill or len(rows) < 2:
            return 0
        shared = min(_common_prefix(rows), min(len(r) - n for r, n in zip(rows, needs)))
        return shared if shared >= self.min_shared_prefix else 0

    def _prefix_cache(self, prefix: list[int], batch: int, capacity: int) -> Any:
        """A cache for `batch` rows whose first columns hold `prefix`'s KV, computed once."""
        import torch

        single = make_cache(self.config, len(prefix))
        self.model(
            input_ids=torch.tensor([prefix], device=self.device),
            position_ids=torch.arange(len(prefix), device=self.device)[None],
            past_key_values=single,
            use_cache=True,
            logits_to_keep=1,
        )
        cache = make_cache(self.config, capacity)
        for layer, source in zip(cache.layers, single.layers):
            layer.seed(source.keys, source.values, batch)
        return cache

    def _block(
        self, suffixes: list[list[int]], shared: int, capacity: int
    ) -> tuple[Any, Any, Any, list[int]]:
        """Token ids [rows, width] of `suffixes`, left-padded, placed after `shared` prefix columns.

        Returns ids, the attention mask over `capacity` columns (prefix and columns after the block
        are 1: they hold the prefix and the tokens to come), position ids that continue from the
        prefix (as if there were no padding), and each row's first real column.
        """
        import torch

        width = max(len(s) for s in suffixes)
        ids = torch.full((len(suffixes), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(suffixes), capacity), dtype=torch.long)
        mask[:, :shared] = 1
        mask[:, shared + width :] = 1
        positions = torch.full((len(suffixes), width), shared, dtype=torch.long)
        starts = []
        for b, suffix in enumerate(suffixes):
            pad = width - len(suffix)
            ids[b, pad:] = torch.tensor(suffix)
            mask[b, shared + pad : shared + width] = 1
            positions[b, pad:] = torch.arange(shared, shared + len(suffix))
            starts.append(0 if shared else pad)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device), starts

    # -- batching --------------------------------------------------------------------------------

    def _scoring_batches(
        self, seqs: list[list[int]], logit_rows: list[int] | None = None
    ) -> Iterator[list[int]]:
        """Batches of indices into `seqs`: runs of sequences that share a long prefix (few-shot
        examples, a subject header) are batched together so the prefix is computed once per batch;
        within a run, and among the rest, longest first to keep padding low."""
        for group in self._prefix_runs(seqs):
            group.sort(key=lambda i: (-len(seqs[i]), i))
            needs = [logit_rows[i] for i in group] if logit_rows is not None else None
            for chunk in self._batches([len(seqs[i]) for i in group], needs):
                yield [group[k] for k in chunk]

    def _prefix_runs(self, seqs: list[list[int]]) -> list[list[int]]:
        """Split indices into runs of sequences (in sorted order) that share a prefix of at least
        `min_shared_prefix` tokens; a run ends where the shared part would fall below half of what
        the run shares so far (so a 500-token few-shot prefix is not diluted to a 10-token header).
        Sequences sharing nothing worth it form the last run."""
        if not self.refill or len(seqs) < 2:
            return [list(range(len(seqs)))]
        order = sorted(range(len(seqs)), key=lambda i: seqs[i])
        runs: list[list[int]] = [[order[0]]]
        shared = len(seqs[order[0]])
        for previous, index in itertools.pairwise(order):
            adjacent = _common_prefix([seqs[previous], seqs[index]])
            if adjacent >= self.min_shared_prefix and (
                len(runs[-1]) == 1 or 2 * adjacent >= shared
            ):
                runs[-1].append(index)
                shared = min(shared, adjacent)
            else:
                runs.append([index])
                shared = len(seqs[index])
        rest = [i for run in runs if len(run) == 1 for i in run]
        return [run for run in runs if len(run) > 1] + ([rest] if rest else [])

    def _batches(
        self, lengths: Sequence[int], logit_rows: Sequence[int] | None = None
    ) -> Iterator[list[int]]:
        """Split positions 0..n-1 (items already sorted longest first) into consecutive batches.

        A batch holds at most `max_batch` rows and `rows × longest` ≤ `token_budget` padded
        tokens;
        with `logit_rows`, also `rows × most logit positions` ≤ _LOGIT_POSITIONS. A single item
        over budget still forms its own batch.
        """
        batch: list[int] = []
        width = logit_width = 0
        for k, length in enumerate(lengths):
            need = logit_rows[k] if logit_rows is not None else 0
            rows = len(batch) + 1
            new_width, new_logit_width = max(width, length), max(logit_width, need)
            if batch and (
                rows > self.max_batch
                or rows * new_width > self.token_budget
                or rows * new_logit_width > _LOGIT_POSITIONS
            ):
                yield batch
                batch, new_width, new_logit_width = [], length, need
            batch.append(k)
            width, logit_width = new_width, new_logit_width
        if batch:
            yield batch

    def _fit(self, index: int, ids: list[int], continuation: int) -> list[int]:
        """Left-truncate context+continuation to the model's window (the continuation must fit)."""
        if self.max_length is None or len(ids) <= self.max_length:
            return ids
        if continuation >= self.max_length:
            raise ConfigError(
                f"request {index}: the continuation has {continuation} tokens, more than the "
                f"model's window of {self.max_length}",
                key="continuation",
                fix="shorten the continuation",
            )
        return ids[-self.max_length :]

    def _check_length(self, index: int, length: int, what: str) -> None:
        if self.max_length is not None and length > self.max_length:
            raise ConfigError(
                f"item {index}: {what} needs {length} tokens, more than the model's window of "
                f"{self.max_length}",
                key="max_new_tokens",
                fix="shorten it or lower max_new_tokens",
            )


@functools.lru_cache(maxsize=1)
def _growing_layer_class() -> type:
    """Defined on first use so that importing this module does not import transformers."""
    from transformers import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A full-attention KV layer whose buffers are allocated once, at the batch's final length.

        `DynamicLayer` grows by `torch.cat`, which re-allocates and copies the whole cache every
        step; on CPU the fresh allocations alone (page faults) cost as much as the model's
        matmuls at batch 16. Here each step writes one slot in place and returns views of the
        filled part.
        """

        def __init__(self, capacity: int) -> None:
            super().__init__()
            self.capacity = capacity
            self.length = 0
            self.key_buffer: torch.Tensor | None = None
            self.value_buffer: torch.Tensor | None = None

        def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
            self.dtype, self.device = key_states.dtype, key_states.device
            batch, heads, _, dim = key_states.shape
            self.key_buffer = key_states.new_empty((batch, heads, self.capacity, dim))
            self.value_buffer = value_states.new_empty(
                (batch, heads, self.capacity, value_states.shape[-1])
            )
            self.is_initialized = True

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self.length + key_states.shape[-2]
            if end > self.capacity:
                raise RuntimeError(f"KV cache overflow: {end} > capacity {self.capacity}")
            self.key_buffer[:, :, self.length : end].copy_(key_states)
            self.value_buffer[:, :, self.length : end].copy_(value_states)
            self.length = end
            self.keys = self.key_buffer[:, :, :end]
            self.values = self.value_buffer[:, :, :end]
            return self.keys, self.values

        def get_seq_length(self) -> int:
            return self.length

        def seed(self, keys: torch.Tensor, values: torch.Tensor, batch: int) -> None:
            """Start `batch` rows from one row's KV (a shared prompt prefix)."""
            self.lazy_initialization(
                keys.expand(batch, -1, -1, -1), values.expand(batch, -1, -1, -1)
            )
            self.length = keys.shape[-2]
            self.key_buffer[:, :, : self.length].copy_(keys.expand(batch, -1, -1, -1))
            self.value_buffer[:, :, : self.length].copy_(values.expand(batch, -1, -1, -1))
            self.keys = self.key_buffer[:, :, : self.length]
            self.values = self.value_buffer[:, :, : self.length]

        def merge(self, parts: list[tuple[Any, int, int]]) -> None:
            """Stack the rows of several layers: from each (layer, first column, offset), columns
            `first:layer.length` go to `offset:`. Uncovered columns are zeros (masked, but finite:
            a masked column still enters the attention product with weight 0, and 0 × NaN is
            NaN)."""
            width = max(offset + layer.length - first for layer, first, offset in parts)
            reference = parts[0][0].key_buffer
            batch = sum(layer.key_buffer.shape[0] for layer, _, _ in parts)
            shape = (batch, reference.shape[1], self.capacity, reference.shape[3])
            self.key_buffer = reference.new_zeros(shape)
            self.value_buffer = parts[0][0].value_buffer.new_zeros(
                shape[:3] + parts[0][0].value_buffer.shape[3:]
            )
            self.dtype, self.device = reference.dtype, reference.device
            row = 0
            for layer, first, offset in parts:
                rows = layer.key_buffer.shape[0]
                end = offset + layer.length - first
                self.key_buffer[row : row + rows, :, offset:end].copy_(
                    layer.key_buffer[:, :, first : layer.length]
                )
                self.value_buffer[row : row + rows, :, offset:end].copy_(
                    layer.value_buffer[:, :, first : layer.length]
                )
                row += rows
            self.length = width
            self.keys = self.key_buffer[:, :, :width]
            self.values = self.value_buffer[:, :, :width]
            self.is_initialized = True

        def batch_select_indices(self, indices: torch.Tensor) -> None:
            if self.is_initialized:
                self.key_buffer = self.key_buffer[indices]
                self.value_buffer = self.value_buffer[indices]
                self.keys = self.key_buffer[:, :, : self.length]
                self.values = self.value_buffer[:, :, : self.length]

        def crop(self, tokens_to_remove: int) -> None:
            if tokens_to_remove < 0 and self.is_initialized:
                self.length = max(0, self.length + tokens_to_remove)
                self.keys = self.key_buffer[:, :, : self.length]
                self.values = self.value_buffer[:, :, : self.length]

        def reset(self) -> None:
            self.length = 0
            self.keys = self.values = self.key_buffer = self.value_buffer = None
            self.is_initialized = False

    return GrowingLayer


def supports_growing_cache(config: Any) -> bool:
    """True when every layer of the model's DynamicCache is a plain full-attention layer."""
    from transformers import DynamicCache, DynamicLayer

    layers = DynamicCache(config=config).layers
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def make_cache(config: Any, capacity: int) -> Any:
    """The model's own DynamicCache with its plain full-attention layers swapped for `GrowingLayer`.

    Other layer kinds (sliding window, linear attention) are left as the model defined them, so
    any architecture still works; only the common case gets the fast path.
    """
    from transformers import DynamicCache, DynamicLayer

    growing = _growing_layer_class()
    cache = DynamicCache(config=config)
    cache.layers = [
        growing(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers
    ]
    if cache.layer_class_to_replicate is DynamicLayer:  # layers created lazily on first use
        cache.layer_class_to_replicate = functools.partial(growing, capacity)
    return cache


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


def _common_prefix(sequences: Iterable[list[int]]) -> int:
    """Length of the longest token prefix shared by all sequences."""
    iterator = iter(sequences)
    first = next(iterator, [])
    length = len(first)
    for seq in iterator:
        limit = min(length, len(seq))
        k = 0
        while k < limit and seq[k] == first[k]:
            k += 1
        length = k
    return length


def _notify(on_done: OnDone, n: int) -> None:
    if on_done is not None and n:
        on_done(n)


def _first_id(*candidates: Any) -> int:
    for candidate in candidates:
        if isinstance(candidate, int):
            return candidate
    return 0


def _eos_ids(tokenizer: Any, model: Any) -> frozenset[int]:
    """EOS ids of the tokenizer and the generation config (chat turns end with e.g. <|im_end|>)."""
    ids: set[int] = set()
    for value in (
        tokenizer.eos_token_id,
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    ):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)
