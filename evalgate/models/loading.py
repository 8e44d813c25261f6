"""Load a resolved model and its tokenizer for inference: dtype, device, NF4, adapter.

The result, `LoadedModel`, carries the hashes a run record needs (weights identity, adapter hash)
next to the objects, so that nothing downstream has to re-derive what was loaded.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalgate.errors import ConfigError, EvalgateWarning, RunError
from evalgate.models.adapter_fit import check_adapter_fits
from evalgate.models.resolve import ResolvedModel, quiet_transformers
from evalgate.util.files import sha256_file, sha256_json
from evalgate.util.quiet import quiet_libraries

DTypeName = Literal["auto", "float32", "bfloat16", "float16"]
QuantName = Literal["none", "nf4"]
_DTYPES = ("auto", "float32", "bfloat16", "float16")
_QUANTS = ("none", "nf4")


@dataclass(frozen=True)
class ModelSettings:
    """How to load: `dtype` of weights/compute, `quantization` of the base, and the `device`."""

    dtype: DTypeName = "auto"
    quantization: QuantName = "none"
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ConfigError(
                f"unknown dtype {self.dtype!r}", key="dtype", fix=f"use one of {', '.join(_DTYPES)}"
            )
        if self.quantization not in _QUANTS:
            raise ConfigError(
                f"unknown quantization {self.quantization!r}",
                key="quantization",
                fix=f"use one of {', '.join(_QUANTS)}",
            )
        if not isinstance(self.device, str) or not self.device:
            raise ConfigError(
                "device must be a non-empty string", key="device", fix="use auto, cpu or cuda[:N]"
            )

    def resolved_dtype(self) -> str:
        """The dtype name `load_model` will use on this machine (what run records should name)."""
        return resolve_dtype(self.dtype, resolve_device(self.device))


def model_settings(model_config: Any) -> ModelSettings:
    """The settings a project's `model:` section (dtype, quantization, device) serves with: the
    same for evaluation and for generating on-policy preference pairs."""
    return ModelSettings(
        dtype=model_config.dtype, quantization=model_config.quantization, device=model_config.device
    )


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode with its tokenizer and the hashes that name it in run records."""

    model: Any
    tokenizer: Any
    identity: str
    adapter_hash: str | None
    dtype: str
    device: str
    quantization: str
    resolved: ResolvedModel
    adapter: Path | None = None
    adapter_merged: bool = False  # folded into the weights (merges_adapter)


def resolve_device(device: str) -> str:
    """`auto` → `cuda` when a GPU is visible, else `cpu`; asking for absent CUDA: ConfigError."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r} was asked for but torch sees no CUDA GPU",
            key="device",
            fix="use device: auto or cpu, or install a CUDA build of torch",
        )
    return device


def resolve_dtype(name: str, device: str) -> str:
    """The dtype to load in. `auto` picks bfloat16 only where it measured faster, else float32.

    Measured on the embedded SmolLM2-135M with this package's engine (AMD Zen 4, 2 cores,
    avx512_bf16, torch 2.13 CPU; prompts of ~40 tokens; single runs on a shared machine, ±20%):

    - decode step, batch 16 / 32 / 64: float32 120 / 194 / 304 tok/s, bfloat16 204-252 / 362 /
      446-602 tok/s;
    - prefill, 640-2,560 tokens a pass: float32 505-591 tok/s, bfloat16 1,070-1,280 tok/s;
    - 64 chat prompts × ≤48 new tokens, end to end: float32 152 tok/s, bfloat16 267 tok/s.

    Decoding a small model on CPU is bound by reading the weights every step, so halving their
    size nearly doubles throughput; prefill gains as much from native bf16 dot products. Hence
    bfloat16 on CUDA GPUs that support it and on CPUs whose flags show native bf16 arithmetic
    (`avx512_bf16`, `amx_bf16`); float32 everywhere else (older GPUs, CPUs that would emulate
    bf16, MPS): there bf16 is not known to be faster, and float32 is the exact choice.

    The price: bf16 logits are coarse (steps of 0.125 near 25), so greedy near-ties can resolve
    differently than in float32, and differently with the amount of padding in a batch.
    PERFORMANCE.md measured bf16 MMLU answers agreeing with fp32 on 567/570; a gate must compare
    base and candidate in the same dtype, which is why run records name it.
    """
    if name != "auto":
        if name not in _DTYPES:
            raise ConfigError(
                f"unknown dtype {name!r}", key="dtype", fix=f"use one of {', '.join(_DTYPES)}"
            )
        return name
    import torch

    if device.startswith("cuda"):
        return (
            "bfloat16"
            if torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            else "float32"
        )
    if device == "cpu" and cpu_has_native_bf16():
        return "bfloat16"
    return "float32"


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when the CPU advertises bf16 dot-product instructions (x86 avx512_bf16 / AMX)."""
    import torch

    capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    if "AMX" in capability:
        return True
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def load_model(
    resolved: ResolvedModel, settings: ModelSettings | None = None, adapter: Path | None = None
) -> LoadedModel:
    """Tokenizer and model (eval mode) on the chosen device, optionally NF4 and an adapter."""
    quiet_libraries()  # before transformers/peft import: bitsandbytes logs while importing
    import torch
    from transformers import AutoModelForCausalLM

    settings = settings or ModelSettings()
    device = resolve_device(settings.device)
    dtype_name = resolve_dtype(settings.dtype, device)
    dtype = getattr(torch, dtype_name)
    tokenizer = load_tokenizer(resolved.path)

    kwargs: dict[str, Any] = {"dtype": dtype, "device_map": {"": device}}
    if settings.quantization == "nf4":
        kwargs["quantization_config"] = _nf4_config(dtype)
    try:
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs)
    except (OSError, ValueError, RuntimeError, ImportError) as error:
        raise RunError(
            f"loading the model from {resolved.path} failed: {type(error).__name__}: {error}"
        ) from error

    adapter_hash, merged = None, False
    if adapter is not None:
        adapter = Path(adapter).expanduser()
        adapter_hash = adapter_sha256(adapter)
        # Before peft copies anything: an adapter made for another base is bad input (exit 2,
        # what differs and the fix), not a failed run with peft's list of size mismatches.
        note = check_adapter_fits(adapter, model, resolved)
        if note is not None:
            warnings.warn(note, EvalgateWarning, stacklevel=2)
        model = _attach_adapter(model, adapter)
        merged = merges_adapter(adapter, settings)
        if merged:
            model = model.merge_and_unload()
    model.eval()
    if getattr(model.generation_config, "pad_token_id", None) is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        identity=resolved.identity,
        adapter_hash=adapter_hash,
        dtype=dtype_name,
        device=device,
        quantization=settings.quantization,
        resolved=resolved,
        adapter=adapter,
        adapter_merged=merged,
    )


def merges_adapter(adapter: Path, settings: ModelSettings) -> bool:
    """Whether inference folds `adapter` into the base weights (W + s·BA, computed in float32
    and stored in the model's dtype) instead of running it beside them.

    An unmerged LoRA runs two extra matmuls per linear layer in float32 (peft keeps adapter
    weights in float32) and converts every layer's input to float32 for them: scoring and
    generating with a candidate took 1.7× the base model's time on the reference machine, and
    merged it takes the base model's time, with the same MMLU answers (171/171) and gold
    log-probs within 0.002 nats. Decided from the settings and adapter_config.json alone, so
    cache keys can name it before a model loads (`adapter_identity`). Not for NF4 (folding
    into 4-bit weights would requantise them) nor for adapter types peft cannot fold."""
    if settings.quantization != "none":
        return False
    try:
        config = json.loads((Path(adapter) / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        return False
    if config.get("modules_to_save") or config.get("trainable_token_indices"):
        return False
    targets = config.get("target_modules")
    if targets == "all-linear":  # peft leaves the output layer out of all-linear
        return True
    # A LoRA on the output layer or the embeddings would, merged, change both when the two are
    # tied (SmolLM2's are); a regex names modules we cannot check here. Such adapters run as is.
    return isinstance(targets, list) and bool(targets) and not any(
        "embed" in str(name) or "lm_head" in str(name) or "wte" in str(name) for name in targets)


def adapter_identity(adapter: Path | None, settings: ModelSettings) -> dict[str, Any]:
    """What names an adapter in cache keys: its hash, and `adapter_merged` when inference folds
    it into the weights (outputs then differ from the unmerged sum at the dtype's rounding, so
    they are cached apart). Without an adapter: `{"adapter": None}`, as before merging existed."""
    if adapter is None:
        return {"adapter": None}
    identity: dict[str, Any] = {"adapter": adapter_sha256(Path(adapter))}
    if merges_adapter(Path(adapter), settings):
        identity["adapter_merged"] = True
    return identity


def adapter_sha256(adapter: Path) -> str:
    """sha256 over adapter_config.json and the adapter's weight files (sorted by name)."""
    fix = (
        "point at the folder PeftModel.save_pretrained wrote "
        "(adapter_config.json + adapter_model.safetensors)"
    )
    if not adapter.is_dir():
        raise ConfigError("adapter folder not found", path=adapter, key="adapter", fix=fix)
    config = adapter / "adapter_config.json"
    if not config.is_file():
        raise ConfigError(
            "not an adapter folder: adapter_config.json is missing",
            path=adapter,
            key="adapter",
            fix=fix,
        )
    weights = sorted(adapter.glob("*.safetensors")) or sorted(adapter.glob("adapter_model*.bin"))
    if not weights:
        raise ConfigError(
            "the adapter folder has no weights: adapter_model.safetensors is missing",
            path=adapter,
            key="adapter",
            fix=fix,
        )
    return sha256_json(sorted((p.name, sha256_file(p)) for p in [config, *weights]))


def _attach_adapter(model: Any, adapter: Path) -> Any:
    from peft import PeftModel

    try:
        with quiet_transformers():
            return PeftModel.from_pretrained(model, adapter, is_trainable=False)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise RunError(
            f"loading the adapter {adapter} failed: {type(error).__name__}: {error} "
            "(was it trained on this base model?)"
        ) from error


def load_tokenizer(path: Path) -> Any:
    """Tokenizer with left padding and a pad token; without a chat template it is unusable here."""
    quiet_libraries()
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot load a tokenizer: {error}",
            path=path,
            key="model",
            fix="the folder needs tokenizer.json / tokenizer_config.json",
        ) from error
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            "the tokenizer has no chat template, so chat prompts cannot be rendered",
            path=path,
            key="model",
            fix="use an instruct/chat model, or add chat_template.jinja to the folder",
        )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _nf4_config(dtype: Any) -> Any:
    try:
        from transformers import BitsAndBytesConfig
    except ImportError as error:  # pragma: no cover - transformers always has it
        raise RunError(f"NF4 loading needs BitsAndBytesConfig: {error}") from error
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )
