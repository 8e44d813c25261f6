"""The KV cache: buffers allocated once, a shared prompt prefix computed once, rows dropped and
batches merged by copying columns instead of computing them again.

transformers' `DynamicLayer` grows by `torch.cat`, which re-allocates and copies the whole cache
every decode step; on CPU the fresh allocations alone cost as much as the model's matmuls at
batch 16. `GrowingLayer` allocates its buffers once, at the batch's final length, and writes one
slot per step in place. On top of it: `prefix_cache` runs a prefix shared by every row of a batch
(a system prompt, few-shot examples) once and copies its KV to every row; `block` lays the rows'
own tokens out after it, left-padded, with positions that continue from the prefix; `keep_rows`
drops finished rows; `merge` joins a freshly prefilled batch to the running one.

Attention sees columns only through the mask and positions are per row, so moving a row's
columns (right-aligning two caches, dropping leading columns no row uses) changes nothing it
computes. Only full-attention layers take this path; other layer kinds (sliding window, linear
attention) stay as the model defined them, and their engines run plain batches.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from evalgate.models.engine.batching import Running

if TYPE_CHECKING:
    import torch


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


def cache_argument(model: Any, cache: Any) -> dict[str, Any]:
    """The forward keyword that takes the KV cache: `cache` where the model's forward names it
    (transformers >= 5.2x, which warns on the old name and drops it in 5.40), else the older
    `past_key_values`. Read from the underlying model's signature (a PEFT wrapper passes
    keywords through), once per model class."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return {_cache_keyword(type(base)): cache}


@functools.cache
def _cache_keyword(model_class: type) -> str:
    import inspect

    parameters = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


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


def prefix_cache(model: Any, config: Any, device: Any, prefix: list[int], batch: int,
                 capacity: int) -> Any:
    """A cache for `batch` rows whose first columns hold `prefix`'s KV, computed once."""
    return seeded_cache(config, prefix_kv(model, config, device, prefix), batch, capacity)


def prefix_kv(model: Any, config: Any, device: Any, prefix: list[int]) -> Any:
    """`prefix` run through the model as one row: its KV, to seed caches from (`seeded_cache`)."""
    import torch

    single = make_cache(config, len(prefix))
    model(
        input_ids=torch.tensor([prefix], device=device),
        position_ids=torch.arange(len(prefix), device=device)[None],
        **cache_argument(model, single),
        use_cache=True,
        logits_to_keep=1,
    )
    return single


def seeded_cache(config: Any, single: Any, batch: int, capacity: int) -> Any:
    """A cache for `batch` rows whose first columns hold the one-row cache `single`'s KV."""
    cache = make_cache(config, capacity)
    for layer, source in zip(cache.layers, single.layers):
        layer.seed(source.keys, source.values, batch)
    return cache


def block(
    suffixes: list[list[int]], shared: int, capacity: int, pad_id: int, device: Any
) -> tuple[Any, Any, Any, list[int]]:
    """Token ids [rows, width] of `suffixes`, left-padded, placed after `shared` prefix columns.

    Returns ids, the attention mask over `capacity` columns (prefix and columns after the block
    are 1: they hold the prefix and the tokens to come), position ids that continue from the
    prefix (as if there were no padding), and each row's first real column.
    """
    import torch

    width = max(len(s) for s in suffixes)
    ids = torch.full((len(suffixes), width), pad_id, dtype=torch.long)
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
    return ids.to(device), mask.to(device), positions.to(device), starts


def keep_rows(state: Running, keep: list[int], device: Any) -> None:
    """Drop every row of `state` but those at `keep` (ascending) from its cache, mask, positions
    and next tokens: finished rows stop costing compute at once."""
    import torch

    index = torch.tensor(keep, device=device)
    state.cache.batch_select_indices(index)
    state.mask, state.positions, state.next_ids = (
        state.mask[index],
        state.positions[index],
        state.next_ids[index],
    )
    state.rows = [state.rows[k] for k in keep]
    state.starts = [state.starts[k] for k in keep]


def merge(running: Running | None, fresh: Running, max_new: int, config: Any,
          device: Any) -> Running:
    """One batch from two: both KV caches right-aligned in new buffers, leading columns that no
    row uses any more dropped. Attention only sees columns through the mask, and positions are
    per row, so moving a row's columns does not change what it computes."""
    import torch

    if running is None:
        return fresh
    parts = [(running, min(running.starts)), (fresh, min(fresh.starts))]
    width = max(state.length - first for state, first in parts)
    capacity = width + max_new
    cache = make_cache(config, capacity)
    for k, layer in enumerate(cache.layers):
        layer.merge(
            [
                (state.cache.layers[k], first, width - (state.length - first))
                for state, first in parts
            ]
        )
    mask = torch.zeros(
        (len(running.rows) + len(fresh.rows), capacity), dtype=torch.long, device=device
    )
    mask[:, width:] = 1
    starts: list[int] = []
    row = 0
    for state, first in parts:
        offset = width - (state.length - first)
        mask[row : row + len(state.rows), offset:width] = state.mask[:, first : state.length]
        starts += [s - first + offset for s in state.starts]
        row += len(state.rows)
    return Running(
        rows=running.rows + fresh.rows,
        cache=cache,
        mask=mask,
        positions=torch.cat([running.positions, fresh.positions]),
        next_ids=torch.cat([running.next_ids, fresh.next_ids]),
        length=width,
        starts=starts,
    )
