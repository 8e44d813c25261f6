"""The SFT stage: a fresh LoRA adapter on the (optionally NF4) base, loss on answer tokens only.

Straight-line on purpose (TRL's own advice): dataset, SFTConfig, SFTTrainer; runtime.train_stage
trains and saves. The dataset arrives tokenized with labels (see tokens.py), which SFTTrainer
uses as they are, so the loss mask is ours and tested, not inferred from a template's
generation markers.
TRL seeds before it wraps the model in the adapter, so the LoRA initialisation is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalgate.models.resolve import ResolvedModel
from evalgate.train.config import TrainConfig
from evalgate.train.runtime import (
    Hardware,
    load_base,
    lora_config,
    quiet_trainer,
    trainer_arguments,
)


def build_sft_trainer(config: TrainConfig, resolved: ResolvedModel, hw: Hardware, tokenizer: Any,
                      rows: Sequence[tuple[list[int], list[int]]], checkpoints: Path,
                      callbacks: Sequence[Any] = ()) -> Any:
    """An SFTTrainer on pre-tokenized rows of (input_ids, labels)."""
    from datasets import Dataset
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(config.seed)
    dataset = Dataset.from_list([{"input_ids": ids, "labels": labels} for ids, labels in rows])
    args = SFTConfig(**trainer_arguments(config, config.settings("sft"), hw, checkpoints))
    trainer = SFTTrainer(model=load_base(resolved, config, hw), args=args, train_dataset=dataset,
                         processing_class=tokenizer, peft_config=lora_config(config),
                         callbacks=list(callbacks))
    return quiet_trainer(trainer)
