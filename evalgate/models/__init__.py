"""Models: resolve a reference to a local folder and identity, load it, render chats, and run the
batched engine.

resolve_model(ref, cache_dir) -> ResolvedModel      alias | local folder or .gguf | hub id
load_model(resolved, ModelSettings(...), adapter)   -> LoadedModel (dtype, NF4, PEFT adapter)
model_settings(project.config.model)                -> the ModelSettings a project serves with
render_chat(tokenizer, messages)                    -> prompt text through the chat template
Engine(loaded).generate / loglikelihood / token_logprobs; engine_for(loaded, project.config.engine)
"""

from evalgate.models.chat import render_chat
from evalgate.models.engine import ENGINE_VERSION, Engine, Generation, GenerationParams, engine_for
from evalgate.models.loading import (
    LoadedModel,
    ModelSettings,
    adapter_sha256,
    load_model,
    load_tokenizer,
    model_settings,
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
    "engine_for",
    "load_model",
    "load_tokenizer",
    "model_settings",
    "render_chat",
    "resolve_device",
    "resolve_dtype",
    "resolve_model",
]
