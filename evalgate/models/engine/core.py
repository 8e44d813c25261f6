"""The Engine: one loaded model, the limits on a forward pass, and the calls the rest of evalgate
makes (`generate`, `loglikelihood`, `token_logprobs`).

The class holds what every pass needs (model, tokenizer, device, pad/EOS ids, the model's window)
and hands the work to one module per job: generate.py runs the decode loop, score.py the scoring
passes; both batch by the rules of batching.py over the cache of kv_cache.py. `engine_for` builds
an engine from a project's `engine:` settings, so every caller batches the same way.

Everything runs on the model's own device, so the same code works on CUDA. torch and
transformers are imported when an Engine is built, not when this module is imported, so code that
only needs `ENGINE_VERSION` or the dataclasses (e.g. a fully cached re-run) stays fast to start.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from evalgate.errors import ConfigError
from evalgate.models.chat import eos_ids, render_chat
from evalgate.models.engine import kv_cache, score
from evalgate.models.engine.batching import BatchPolicy, Running
from evalgate.models.engine.generate import (
    Generation,
    GenerationParams,
    OnResult,
    generate_greedy,
)

if TYPE_CHECKING:  # imported on first use at run time: reading a cached run needs neither
    from evalgate.models.loading import LoadedModel

OnDone = Callable[[int], None] | None

# Part of every cached output's key: bump when a change could alter generated text or scores.
ENGINE_VERSION = "1"

_DEFAULT_PARAMS = GenerationParams()  # frozen: one shared default is safe


class Engine:
    """Batched greedy generation and scoring over a `LoadedModel`.

    `token_budget` caps padded tokens per forward pass (prompt plus new tokens for generation,
    context plus continuation for scoring; a prefix shared by a whole prefill group, such as a
    long system prompt, is computed once and counted once); `max_batch` caps rows. Both bound
    memory; larger batches amortise the per-step cost of reading the weights: on the 2-core
    reference machine a decode step of the embedded model costs ~80 ms at 16 rows, ~90 ms at 32
    and ~110-140 ms at 64, so 64 rows give ~1.5× the tokens per second of 32
    (bench/bench_engine.py).
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
        self.eos_ids = eos_ids(self.tokenizer, base)
        self.prefix_id = _first_id(
            self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self.pad_id
        )
        self.max_length = int(getattr(self.config, "max_position_embeddings", 0) or 0) or None
        # Refill and shared prefixes rearrange KV columns, which needs the in-place cache layer on
        # every layer; other architectures (sliding windows, linear attention) get plain batches.
        self.refill = kv_cache.supports_growing_cache(self.config)

    @property
    def batching(self) -> BatchPolicy:
        """This engine's limits and rules for filling a forward pass (read at each use)."""
        return BatchPolicy(
            token_budget=self.token_budget,
            max_batch=self.max_batch,
            refill=self.refill,
            min_shared_prefix=self.min_shared_prefix,
            refill_divisor=self.refill_divisor,
        )

    # -- text ------------------------------------------------------------------------------------

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The chat template applied to `messages` with the assistant turn opened, as a string."""
        return render_chat(self.tokenizer, messages)

    def encode(self, text: str) -> list[int]:
        """Token ids of an already-rendered string (no special tokens added: the template has
        them)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """`encode` of each text, in one tokenizer call (the fast tokenizers batch in Rust)."""
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [list(ids) for ids in encoded]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # -- the calls -------------------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[str | Sequence[int]],
        params: GenerationParams = _DEFAULT_PARAMS,
        on_done: OnDone = None,
        on_result: OnResult = None,
    ) -> list[Generation]:
        """Greedy completions of `prompts` (texts, or token ids as they are), in input order;
        `on_done(n)` as n more finish, and
        `on_result(i, generation)` as prompt i finishes (so a caller can keep results as they
        come: an interrupted run loses only the rows still running).

        Prompts are admitted longest first into a running batch of at most `max_batch` rows.
        Finished rows leave the batch at once, and when a quarter of the slots are free the next
        prompts are prefilled and merged into the running KV cache (continuous batching), so
        the batch stays full while the weights are read once per step for all of it.
        """
        return generate_greedy(self, prompts, params, _counter(on_done), on_result)

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
        return score.loglikelihood(self, requests, _counter(on_done))

    def token_logprobs(self, texts: Sequence[str], on_done: OnDone = None) -> list[list[float]]:
        """log p(token | prefix) for every token of each text but the first (for membership
        inference)."""
        return score.token_logprobs(self, texts, _counter(on_done))

    def check_length(self, index: int, length: int, what: str) -> None:
        """Refuse item `index` when `length` tokens would not fit the model's window."""
        if self.max_length is not None and length > self.max_length:
            raise ConfigError(
                f"item {index}: {what} needs {length} tokens, more than the model's window of "
                f"{self.max_length}",
                key="max_new_tokens",
                fix="shorten it or lower max_new_tokens",
            )

    # -- seams: steps of the loops that tests watch or call on their own -------------------------

    def _merge(self, running: Running | None, fresh: Running, max_new: int) -> Running:
        """Join freshly prefilled rows to the running batch (kv_cache.merge)."""
        return kv_cache.merge(running, fresh, max_new, self.config, self.device)

    def _score_general(
        self, items: list[tuple[int, list[int], int]], results: list[Any], on_done: OnDone
    ) -> None:
        score.score_general(self, items, results, _counter(on_done))

    def _prefix_runs(self, seqs: list[list[int]]) -> list[list[int]]:
        return self.batching.prefix_runs(seqs)


def engine_for(loaded: LoadedModel, engine_config: Any, *, max_batch: int | None = None) -> Engine:
    """The engine a project runs `loaded` with: its `engine:` settings (`token_budget`,
    `max_batch`), optionally with another `max_batch` (one row at a time, for a comparison)."""
    return Engine(
        loaded,
        token_budget=engine_config.token_budget,
        max_batch=engine_config.max_batch if max_batch is None else max_batch,
    )


def _counter(on_done: OnDone) -> Callable[[int], None]:
    """`on_done`, told only of a positive count (and a no-op when there is none)."""

    def done(n: int) -> None:
        if on_done is not None and n:
            on_done(n)

    return done


def _first_id(*candidates: Any) -> int:
    for candidate in candidates:
        if isinstance(candidate, int):
            return candidate
    return 0
