"""Models: resolve a reference to a local folder and identity, load it, and run the batched engine.

resolve_model(ref, cache_dir) -> ResolvedModel      alias | local folder or .gguf | hub id
load_model(resolved, ModelSettings(...), adapter)   -> LoadedModel (dtype, NF4, PEFT adapter)
Engine(loaded).generate / loglikelihood / token_logprobs
"""

from evalgate.models.engine import ENGINE_VERSION, Engine, Generation, GenerationParams
from evalgate.models.loading import (
    LoadedModel,
    ModelSettings,
    adapter_sha256,
    load_model,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
)
from evalgate.models.resolve import EMBEDDED_ALIAS, ResolvedModel, default_cache_dir, resolve_model

__all__ = [
    "EMBEDDED_ALIAS",
    "ENGINE_VERSION",
    "Engine",
    "Generation",
    "GenerationParams",
    "LoadedModel",
    "ModelSettings",
    "ResolvedModel",
    "adapter_sha256",
    "default_cache_dir",
    "load_model",
    "load_tokenizer",
    "resolve_device",
    "resolve_dtype",
    "resolve_model",
]
