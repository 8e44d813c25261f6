"""The batched local engine: greedy generation, log-likelihoods and per-token log-probs.

A loop over the model's own forward rather than `model.generate`: for a small model on CPU the
generic loop's per-step overhead dominates and batching buys little there (generate.py says why,
bench/bench_engine.py measures it); the greedy tokens are the same. One module per idea:

    core.py      Engine (the model, its limits, the public calls) and engine_for(project settings)
    generate.py  the greedy decode loop: continuous batching, stop strings, finish reasons
    score.py     log-likelihood of continuations, per-token log-probs
    batching.py  which rows share a forward pass (token budget, max_batch, admission, prefixes)
    kv_cache.py  KV buffers allocated once, shared prefixes, dropping finished rows, merging

Importing this package imports neither torch nor transformers (a fully cached re-run needs only
`ENGINE_VERSION` and the dataclasses).
"""

from evalgate.models.engine.core import ENGINE_VERSION, Engine, OnDone, engine_for
from evalgate.models.engine.generate import Generation, GenerationParams
from evalgate.models.engine.kv_cache import make_cache, supports_growing_cache

__all__ = [
    "ENGINE_VERSION",
    "Engine",
    "Generation",
    "GenerationParams",
    "OnDone",
    "engine_for",
    "make_cache",
    "supports_growing_cache",
]
