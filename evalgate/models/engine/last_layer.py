"""The last decoder layer, computed for the last position only, where only the last position's
logits are read (a question's answer letter).

In the final layer, every position but the last feeds nothing that is read: its attention
output, o_proj and MLP only produce hidden states the caller throws away. The keys and values of
every position are still needed (the last position attends to them, and a KV cache keeps them),
so this layer computes K and V for all positions and Q, attention, o_proj and the MLP for the
last one: about 1/L of the forward pass saved for an L-layer model (3% for SmolLM2-135M's 30),
with the same result up to floating-point reassociation.

Only for the exact architectures whose layer this reproduces (Llama: SmolLM2, Llama 2/3,
TinyLlama) and the attention implementations whose mask it slices (sdpa, eager); anything else
runs unchanged. The attention itself is the library's own function, with the mask row of the
last position.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SUPPORTED = {"LlamaAttention"}
IMPLEMENTATIONS = {"sdpa", "eager"}


def _last_layer(model: Any) -> Any | None:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(getattr(base, "model", None), "layers", None)
    if layers is None or not len(layers):
        return None
    layer = layers[-1]
    attention = getattr(layer, "self_attn", None)
    if type(attention).__name__ not in SUPPORTED:
        return None
    if getattr(attention.config, "_attn_implementation", None) not in IMPLEMENTATIONS:
        return None
    return layer


@contextmanager
def last_position_only(model: Any) -> Iterator[bool]:
    """Within the block, the model's last layer computes the last position only (yields whether
    it applies to this model). Only for calls that read the last position's logits alone."""
    layer = _last_layer(model)
    if layer is None:
        yield False
        return
    layer.forward = _forward_for(layer)
    try:
        yield True
    finally:
        del layer.forward  # the class's forward again


def _forward_for(layer: Any):
    import torch
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    attention = layer.self_attn
    module = sys.modules[type(attention).__module__]
    rotary, eager = module.apply_rotary_pos_emb, module.eager_attention_forward

    def forward(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None,
                position_ids: Any = None, cache: Any = None, use_cache: bool | None = False,
                position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
                past_key_values: Any = None, **kwargs: Any) -> torch.Tensor:
        cache = cache if cache is not None else past_key_values
        batch, length, _ = hidden_states.shape
        head_dim = attention.head_dim
        residual = hidden_states[:, -1:]
        normed = layer.input_layernorm(hidden_states)
        query = attention.q_proj(normed[:, -1:]).view(batch, 1, -1, head_dim).transpose(1, 2)
        key = attention.k_proj(normed).view(batch, length, -1, head_dim).transpose(1, 2)
        value = attention.v_proj(normed).view(batch, length, -1, head_dim).transpose(1, 2)
        cos, sin = position_embeddings
        _, key = rotary(key, key, cos, sin)
        query, _ = rotary(query, query, cos[:, -1:], sin[:, -1:])
        if cache is not None:
            key, value = cache.update(key, value, attention.layer_idx, kwargs=kwargs)
        mask = attention_mask
        if isinstance(mask, torch.Tensor) and mask.dim() == 4:
            mask = mask[:, :, -1:, :]
        interface = ALL_ATTENTION_FUNCTIONS.get_interface(
            attention.config._attn_implementation, eager)
        output, _ = interface(attention, query, key, value, mask, dropout=0.0,
                              scaling=attention.scaling, **kwargs)
        hidden = residual + attention.o_proj(output.reshape(batch, 1, -1).contiguous())
        return hidden + layer.mlp(layer.post_attention_layernorm(hidden))

    return forward
