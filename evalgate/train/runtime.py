"""What every training stage shares: hardware choices, the base model, the TRL arguments both
trainers take, and saving a finished stage.

The hardware decides, not the config file: CUDA when torch sees a GPU (`use_cpu` only when it
does not), bf16 autocast where the device computes bf16 natively (see
`models.loading.resolve_dtype`), fp32 elsewhere. So one config runs unchanged on a laptop CPU and
a CUDA box. Library noise (TRL and transformers warnings about defaults we set on purpose,
dataset-map progress bars, telemetry) is silenced by `evalgate.util.quiet`; errors still surface.

Under `accelerate launch` (see `evalgate.train.distributed`) each process trains on its own GPU
and the main process alone saves a finished stage; the others read it back.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.models.loading import ModelSettings, adapter_sha256, load_model, resolve_device
from evalgate.models.loading import resolve_dtype as _resolve_dtype
from evalgate.models.resolve import ResolvedModel
from evalgate.train import distributed
from evalgate.train.config import StageSettings, TrainConfig
from evalgate.util.files import atomic_write_json
from evalgate.util.quiet import quiet_libraries  # noqa: F401  (train.run calls it from here)

STAGE_FILE = "evalgate-stage.json"


@dataclass(frozen=True)
class Hardware:
    device: str
    dtype: str  # compute dtype name: bfloat16 | float32

    @property
    def bf16(self) -> bool:
        return self.dtype == "bfloat16"

    @property
    def use_cpu(self) -> bool:
        return not self.device.startswith("cuda")


def hardware(config: TrainConfig) -> Hardware:
    device = distributed.local_device(resolve_device(config.device))
    hw = Hardware(device=device, dtype=_resolve_dtype(config.dtype, device))
    _check_launcher_precision(hw)
    return hw


def _check_launcher_precision(hw: Hardware) -> None:
    """`accelerate launch --mixed_precision` (or `accelerate config`) exports
    ACCELERATE_MIXED_PRECISION, which TrainingArguments adopts when neither bf16 nor fp16 is set:
    a float32 run would silently train in fp16 or bf16 while the manifest says float32. Under
    bf16 our flag wins, so only a float32 run is refused."""
    asked = os.environ.get("ACCELERATE_MIXED_PRECISION", "no").strip().lower()
    if hw.bf16 or asked in ("", "no"):
        return
    raise ConfigError(
        f"the launcher asks for mixed precision {asked} (ACCELERATE_MIXED_PRECISION, from "
        f"`accelerate launch --mixed_precision` or `accelerate config`), but this run computes "
        f"in {hw.dtype} on {hw.device}; evalgate chooses the precision from the hardware and "
        "the training YAML's `dtype:`",
        key="dtype", fix="launch with `--mixed_precision no`, or set `dtype: bfloat16` in the "
                         "training YAML where the device computes bf16")


def load_base(resolved: ResolvedModel, config: TrainConfig, hw: Hardware) -> Any:
    """The base model in training precision: NF4 (double quantisation, compute in `hw.dtype`)
    for QLoRA, else the plain weights in `hw.dtype` (LoRA weights stay fp32, autocast does bf16)."""
    settings = ModelSettings(dtype=hw.dtype, quantization=config.quantization, device=hw.device)
    model = load_model(resolved, settings).model
    model.config.use_cache = False  # a KV cache is useless (and warned about) while training
    return model


def lora_config(config: TrainConfig) -> Any:
    from peft import LoraConfig

    lora = config.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.targets if isinstance(lora.targets, str)
                      else list(lora.targets),
                      bias="none", task_type="CAUSAL_LM")


def trainer_arguments(config: TrainConfig, settings: StageSettings, hw: Hardware,
                      checkpoints: Path) -> dict[str, Any]:
    """Keyword arguments both SFTConfig and DPOConfig/KTOConfig take (all TrainingArguments)."""
    return dict(
        output_dir=str(checkpoints),
        max_steps=settings.max_steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        max_length=settings.max_length,
        seed=config.seed,
        data_seed=config.seed,
        bf16=hw.bf16,
        fp16=False,
        use_cpu=hw.use_cpu,
        # transformers 5.23 name; TRL reads the deprecated alias, which mirrors it
        activation_checkpointing=config.gradient_checkpointing,
        logging_steps=1,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=1,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=not hw.use_cpu,
        include_num_input_tokens_seen="non_padding",
        # Under several processes (DDP): every LoRA weight takes part in every forward pass, so
        # the per-step search for unused parameters (the default for a PeftModel) is pure cost.
        ddp_find_unused_parameters=False,
    )


def quiet_trainer(trainer: Any) -> Any:
    """Drop the callback that prints every log dict (our progress bar shows the loss)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete `checkpoint-N` folder (one with trainer_state.json), if any."""
    if not checkpoints.is_dir():
        return None
    found = [p for p in checkpoints.glob("checkpoint-*")
             if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


@dataclass(frozen=True)
class StageResult:
    """What a finished stage reports: figures for the summary table and the manifest."""

    stage: str
    adapter: str
    adapter_sha256: str
    files: dict[str, str]
    steps: int
    tokens: int
    session_tokens: int
    seconds: float
    final_loss: float | None
    resumed_from_step: int | None
    examples: int  # the stage's training set: SFT rows or preference pairs
    seen: int = 0  # examples (or pairs) gone through: steps × batch × accumulation
    metrics: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_second(self) -> float:
        return self.session_tokens / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "tokens_per_second": round(self.tokens_per_second, 1)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageResult:
        data = {k: v for k, v in data.items() if k != "tokens_per_second"}
        return cls(**data)


def train_stage(trainer: Any, tokenizer: Any, stage: str, stage_dir: Path,
                resume_from: Path | None, stop: Any, examples: int) -> StageResult:
    """Train (from `resume_from` if given), then save; a stop request raises Interrupted after
    the trainer wrote its checkpoint, so the stage is never mistaken for finished."""
    from evalgate.train.callbacks import Interrupted

    start_step = start_tokens = 0
    if resume_from is not None:  # read now: save_total_limit deletes it once a newer one exists
        state = json.loads((resume_from / "trainer_state.json").read_text(encoding="utf-8"))
        start_step = int(state.get("global_step") or 0)
        start_tokens = int(state.get("num_input_tokens_seen") or 0)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    seconds = time.perf_counter() - started
    if stop is not None and stop.stopped_at is not None:
        raise Interrupted(stage, stop.stopped_at)
    return finish_stage(trainer, tokenizer, stage, stage_dir, seconds, examples,
                        start_step or None, start_tokens)


def finish_stage(trainer: Any, tokenizer: Any, stage: str, stage_dir: Path, seconds: float,
                 examples: int, start_step: int | None, start_tokens: int) -> StageResult:
    """Save the trained adapter (safetensors, the `default` adapter only: DPO's frozen `ref`
    copy is not part of the result) with the tokenizer, then move it into place whole.

    Under several processes the replicas hold the same weights: the main process saves, the
    others wait until the stage folder is in place and read its result from there."""
    result = None
    if distributed.is_main():
        result = _save_stage(trainer, tokenizer, stage, stage_dir, seconds, examples,
                             start_step, start_tokens)
    distributed.wait_for_everyone()
    return result if result is not None else load_stage(stage_dir)


def _save_stage(trainer: Any, tokenizer: Any, stage: str, stage_dir: Path, seconds: float,
                examples: int, start_step: int | None, start_tokens: int) -> StageResult:
    from evalgate.util.files import sha256_file

    partial = stage_dir.with_name(stage_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    trainer.model.save_pretrained(partial, selected_adapters=["default"], safe_serialization=True)
    (partial / "README.md").unlink(missing_ok=True)  # PEFT's model card names local paths only
    tokenizer.save_pretrained(partial)
    history = trainer.state.log_history
    metrics = [entry for entry in history if "loss" in entry]
    summary = next((entry for entry in reversed(history) if "train_loss" in entry), {})
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    result = StageResult(
        stage=stage, adapter=stage_dir.name, adapter_sha256=adapter_sha256(partial),
        files={p.name: sha256_file(p) for p in sorted(partial.iterdir()) if p.is_file()},
        steps=int(trainer.state.global_step), tokens=tokens, session_tokens=tokens - start_tokens,
        seconds=round(seconds, 2), final_loss=metrics[-1]["loss"] if metrics else None,
        resumed_from_step=start_step, examples=examples,
        seen=trainer.state.global_step * trainer.args.per_device_train_batch_size
        * trainer.args.gradient_accumulation_steps * trainer.args.world_size, metrics=metrics,
        summary={k: v for k, v in summary.items() if k != "step"})
    atomic_write_json(partial / STAGE_FILE, result.to_json())
    shutil.rmtree(stage_dir, ignore_errors=True)
    os.replace(partial, stage_dir)
    return result


def load_stage(stage_dir: Path) -> StageResult | None:
    """A finished stage's result, or None when the stage has not finished."""
    marker = stage_dir / STAGE_FILE
    if not marker.is_file():
        return None
    return StageResult.from_json(json.loads(marker.read_text(encoding="utf-8")))
