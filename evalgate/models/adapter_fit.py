"""Does a PEFT adapter fit the base model it is about to be loaded on? Decided from the
adapter's own files (adapter_config.json and the tensor shapes in its safetensors header, no
weights read) and the base model's modules, before peft copies anything.

Without this, an adapter trained on another base (another hidden size or vocabulary) reaches
`PeftModel.from_pretrained`, whose `load_state_dict` lists every tensor that does not fit: a
hundred lines of "size mismatch for base_model.model...." for a 30-layer model, and a failed
run (exit 3) for what is bad input. Here it is a `ConfigError` (exit 2) of two lines: what does
not fit, with both sizes, and what to change.

What is compared, tensor by tensor, against the module of the loaded base model it belongs to:

- a LoRA's A side (`lora_A.weight`, `lora_embedding_A`) reads the module's input features,
  its B side (`lora_B.weight`, `lora_B.bias`, `lora_embedding_B`, DoRA's magnitude) writes its
  output features: nn.Linear (and bitsandbytes' 4-bit Linear, whose `in_features` are those of
  the unpacked weight), nn.Embedding, transformers' Conv1D, nn.Conv*;
- a whole tensor saved beside the LoRA (`modules_to_save`, embeddings saved with a LoRA on
  them) must have the shape of the base parameter it replaces;
- trainable tokens (`trainable_token_indices`) are rows of the embedding's width.

The rank in the file must be the `r` adapter_config.json names (peft builds the layers from the
config and then copies the file into them). Tensors that name no module of the base, and LoRA
variants that reshape A or B (QA-LoRA, block-diagonal LoRA, LoRA on expert parameters) or pick
ranks per module (`rank_pattern`), are left to peft: this check refuses only what certainly
cannot load.

`base_model_name_or_path` alone decides nothing. The same model goes by many names: a hub id
where it was trained, a local folder or evalgate's alias here, a models folder that moved;
refusing on the name would refuse adapters that load and run exactly as trained. So when every
shape fits, a name that differs in its last part (`HuggingFaceTB/SmolLM2-135M-Instruct` and
`smollm2-135m-instruct` agree) is a warning, not an error: it may be a sibling of the same shape
(a base model's LoRA served on its instruct version, another tokenizer of the same width), and
the gate then measures the adapter on the model it will actually be served with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from evalgate.errors import ConfigError
from evalgate.models.resolve import ResolvedModel
from evalgate.util.paths import display_path

CONFIG_FILE = "adapter_config.json"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")  # what peft loads, in order
_PEFT_PREFIX = "base_model.model."
_FOLDER_FIX = ("point at the folder PeftModel.save_pretrained wrote "
               "(adapter_config.json + adapter_model.safetensors)")
# The side of its module each LoRA tensor touches, and the axis of its shape that does.
_IN_SIDE = {"lora_A.weight": 1, "lora_embedding_A": 1}
_OUT_SIDE = {"lora_B.weight": 0, "lora_embedding_B": 0, "lora_B.bias": 0,
             "lora_magnitude_vector": 0, "lora_magnitude_vector.weight": 0}
_RANK_AXIS = {"lora_A.weight": 0, "lora_embedding_A": 0, "lora_B.weight": 1,
              "lora_embedding_B": 1}
# Config switches under which peft builds A or B in another shape than (r, in) / (out, r).
_RESHAPING = ("use_qalora", "use_bdlora", "target_parameters")
# Base-config sizes a mismatching dimension is named by, the most telling first.
_SIZES = (("hidden_size", "hidden size"), ("vocab_size", "vocabulary size"),
          ("intermediate_size", "intermediate size"))


@dataclass(frozen=True)
class AdapterFiles:
    """An adapter folder as peft would load it: its config and every tensor's shape."""

    folder: Path
    config: dict[str, Any]
    weights: Path
    shapes: dict[str, tuple[int, ...]]

    @property
    def base_name(self) -> str | None:
        name = self.config.get("base_model_name_or_path")
        return name.strip() if isinstance(name, str) and name.strip() else None


@dataclass(frozen=True)
class Misfit:
    """One tensor of the adapter that cannot be copied into the base model."""

    key: str
    found: tuple[int, ...]
    needed: tuple[int, ...]
    size: str | None  # "hidden size", ... when the differing dimension is one of those


def read_adapter(folder: Path) -> AdapterFiles:
    """adapter_config.json and the weight file's tensor shapes (from its header only)."""
    folder = Path(folder)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError("not a PEFT adapter: adapter_config.json is missing",
                          path=config_path, fix=_FOLDER_FIX)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the adapter's config: {error}", path=config_path,
                          fix="restore the adapter_config.json save_pretrained wrote") from error
    if not isinstance(config, dict):
        raise ConfigError("the adapter's config is not a JSON object", path=config_path,
                          fix="restore the adapter_config.json save_pretrained wrote")
    weights = next((folder / name for name in WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        raise ConfigError("the adapter's weights are missing (no adapter_model.safetensors "
                          "or adapter_model.bin)", path=folder / WEIGHT_FILES[0],
                          fix=_FOLDER_FIX)
    try:
        shapes = _tensor_shapes(weights)
    except Exception as error:  # a truncated or foreign file, whatever the reader raises
        raise ConfigError(f"cannot read the adapter's weights: {type(error).__name__}: {error}",
                          path=weights, fix="restore the file save_pretrained wrote") from error
    return AdapterFiles(folder=folder, config=config, weights=weights, shapes=shapes)


def _tensor_shapes(weights: Path) -> dict[str, tuple[int, ...]]:
    if weights.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as handle:
            keys = handle.keys()  # safe_open is not iterable itself
            return {key: tuple(handle.get_slice(key).get_shape()) for key in keys}
    import torch

    state = torch.load(weights, map_location="meta", weights_only=True)  # shapes, no data
    return {key: tuple(value.shape) for key, value in state.items()}


def check_adapter_fits(adapter: Path, model: Any, base: ResolvedModel) -> str | None:
    """Raise ConfigError when `adapter` cannot load on `model` (the loaded `base`); return a
    note to show when only the base model's name in adapter_config.json differs."""
    files = read_adapter(adapter)
    shown = display_path(adapter)
    claimed = files.base_name
    misfits, checked = find_misfits(files, model)
    if misfits:
        raise ConfigError(_misfit_message(misfits, checked, claimed, base), path=shown,
                          fix=_misfit_fix(claimed, base))
    rank = _rank_misfit(files)
    if rank is not None:
        raise ConfigError(rank, path=shown, fix="put the adapter_config.json and "
                          f"{files.weights.name} of one save_pretrained folder together")
    if claimed is not None and not _same_model(claimed, base):
        return (f"{shown}: adapter_config.json says it was trained on {claimed}, and it is "
                f"served on {display_path(base.ref)}. Every weight fits, so it loads and is "
                "measured on the served model; if the two are different models (a base model "
                "and its instruct version, another tokenizer), train it on the served one")
    return None


def find_misfits(files: AdapterFiles, model: Any) -> tuple[list[Misfit], int]:
    """The adapter's tensors that do not fit `model`'s modules, and how many were compared."""
    modules = dict(model.named_modules())
    # remove_duplicate=False: a tied output layer keeps its own name (`lm_head.weight`).
    parameters = dict(model.named_parameters(remove_duplicate=False))
    sizes = _config_sizes(model)
    lora = files.config.get("peft_type") == "LORA" and not any(
        files.config.get(name) for name in _RESHAPING)
    misfits: list[Misfit] = []
    checked = 0
    for key, found in sorted(files.shapes.items()):
        name = key.removeprefix(_PEFT_PREFIX)
        whole = name.replace(".base_layer.", ".")
        if whole in parameters:
            parameter = parameters[whole]
            if not parameter.is_floating_point():
                continue  # a packed 4-bit weight: its stored shape is not the module's
            needed = tuple(parameter.shape)
        else:
            module_name, side = _split_lora_key(name)
            module = modules.get(module_name) if module_name else None
            features = _features(module) if module is not None else None
            if features is None:
                continue
            if side in _IN_SIDE and lora:
                axis, value = _IN_SIDE[side], features[0]
            elif side in _OUT_SIDE and lora:
                axis, value = _OUT_SIDE[side], features[1]
            elif side == "token_adapter.trainable_tokens_delta" and _is_embedding(module):
                axis, value = len(found) - 1, features[1]
            else:
                continue
            if len(found) <= axis:
                continue
            needed = found[:axis] + (value,) + found[axis + 1:]
        checked += 1
        if found != needed:
            misfits.append(Misfit(key=name, found=found, needed=needed,
                                  size=_size_name(found, needed, sizes)))
    return misfits, checked


def _split_lora_key(name: str) -> tuple[str | None, str]:
    """`model.layers.0.q_proj.lora_A.weight` -> (`model.layers.0.q_proj`, `lora_A.weight`)."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.startswith("lora_") or part == "token_adapter":
            return ".".join(parts[:index]), ".".join(parts[index:])
    return None, ""


def _features(module: Any) -> tuple[int, int] | None:
    """(input features, output features) of a layer peft can put a LoRA on."""
    if _is_embedding(module):
        return module.num_embeddings, module.embedding_dim
    for inputs, outputs in (("in_features", "out_features"), ("nx", "nf"),
                            ("in_channels", "out_channels")):
        first, second = getattr(module, inputs, None), getattr(module, outputs, None)
        if isinstance(first, int) and isinstance(second, int):
            return first, second
    return None


def _is_embedding(module: Any) -> bool:
    import torch

    return isinstance(module, torch.nn.Embedding)


def _config_sizes(model: Any) -> dict[int, str]:
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config()
    sizes: dict[int, str] = {}
    for attribute, label in reversed(_SIZES):  # the most telling name wins a tie
        value = getattr(config, attribute, None)
        if isinstance(value, int):
            sizes[value] = label
    return sizes


def _size_name(found: tuple[int, ...], needed: tuple[int, ...], sizes: dict[int, str]
               ) -> str | None:
    if len(found) != len(needed):
        return None
    differing = [n for f, n in zip(found, needed) if f != n]
    return sizes.get(differing[0]) if len(differing) == 1 else None


def _misfit_message(misfits: list[Misfit], checked: int, claimed: str | None,
                    base: ResolvedModel) -> str:
    served = display_path(base.ref)
    count = (f"none of its {checked} weights fit" if len(misfits) == checked
             else f"{len(misfits)} of its {checked} weights do not fit")
    for _, label in _SIZES:
        named = next((m for m in misfits if m.size == label), None)
        if named is not None:
            theirs, ours = _differing(named)
            source = claimed or "another model"
            return (f"trained on {source} ({label} {theirs}), but served on {served} ({label} "
                    f"{ours}): {count}")
    first = misfits[0]
    others = f", and {len(misfits) - 1} more do not fit" if len(misfits) > 1 else ""
    source = f" (trained on {claimed})" if claimed else ""
    return (f"this adapter{source} does not fit {served}: its weight {first.key} has shape "
            f"{_shape(first.found)} where {served} needs {_shape(first.needed)}{others}")


def _misfit_fix(claimed: str | None, base: ResolvedModel) -> str:
    target, value = (claimed, claimed) if claimed else ("the model it was trained on",
                                                          "that model")
    return (f"train the adapter on {display_path(base.ref)}, or serve it on {target}: set "
            f"`model.base` in evalgate.yaml (or `model:` in the system YAML) to {value}")


def _differing(misfit: Misfit) -> tuple[int, int]:
    return next((f, n) for f, n in zip(misfit.found, misfit.needed) if f != n)


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _rank_misfit(files: AdapterFiles) -> str | None:
    """The file's rank against the config's `r`, where peft gives every layer that rank."""
    config = files.config
    r = config.get("r")
    if config.get("peft_type") != "LORA" or config.get("rank_pattern") or not isinstance(r, int) \
            or any(config.get(name) for name in _RESHAPING):
        return None
    for key, shape in sorted(files.shapes.items()):
        _, side = _split_lora_key(key.removeprefix(_PEFT_PREFIX))
        axis = _RANK_AXIS.get(side)
        if axis is not None and len(shape) > axis and shape[axis] != r:
            return (f"adapter_config.json says r: {r}, but {files.weights.name} holds rank "
                    f"{shape[axis]} ({key.removeprefix(_PEFT_PREFIX)} has shape {_shape(shape)}):"
                    " the two files are from different adapters")
    return None


def _same_model(claimed: str, base: ResolvedModel) -> bool:
    """The adapter's base name against every name the served base goes by, by last part."""
    names = {base.ref, str(base.path), base.path.name}
    return _last_part(claimed) in {_last_part(name) for name in names}


def _last_part(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/").rstrip("/")).name.lower()
