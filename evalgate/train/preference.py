"""Preference stages (DPO, KTO) on top of the SFT adapter, with the SFT policy as reference.

The reference: how TRL 1.16 treats `ref_model=None` depends on the model it is given.

- A plain model plus `peft_config` (a fresh adapter): the reference forward runs with adapters
  disabled, i.e. the base model. Right for `method: dpo` straight from the base.
- A `PeftModel` that already carries a trained adapter (ours: the SFT adapter loaded with
  `is_trainable=True` under the name `default`): `DPOTrainer.__init__` adds a second adapter
  named `ref` with the same LoraConfig, copies every `default` LoRA weight into it, and computes
  reference log-probs inside `use_adapter(model, "ref")` (dpo_trainer.py, `_compute_loss` and
  `compute_ref_log_probs`). `ref` is never given to the optimizer, so the reference stays the
  SFT policy while `default` trains. KTOTrainer does the same.

So the SFT policy is the reference with no second model in memory. `check_reference` asserts
the `ref` adapter exists before training (a TRL change that silently fell back to the base model
would otherwise go unnoticed), and tests/test_train_dpo.py checks that the trainer's reference
log-probs equal the SFT model's own. Under QLoRA TRL casts the trainable adapter to bf16 after
the copy, so policy and reference differ at step 0 only by that rounding.

Pairs are passed in TRL's conversational form (prompt messages, one assistant turn each), so TRL
renders them with the same chat template; `check_prompts` verifies that the prompt tokens TRL
produced are exactly the served prompt's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalgate.errors import RunError
from evalgate.models.resolve import ResolvedModel
from evalgate.train.config import TrainConfig
from evalgate.train.data import Pair
from evalgate.train.runtime import (
    Hardware,
    load_base,
    lora_config,
    quiet_trainer,
    trainer_arguments,
)
from evalgate.train.tokens import ChatTokens


def pair_rows(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    return [{"prompt": list(p.prompt),
             "chosen": [{"role": "assistant", "content": p.chosen}],
             "rejected": [{"role": "assistant", "content": p.rejected}]} for p in pairs]


def build_preference_trainer(stage: str, config: TrainConfig, resolved: ResolvedModel,
                             hw: Hardware, tokens: ChatTokens, pairs: Sequence[Pair],
                             start_adapter: Path | None, checkpoints: Path,
                             callbacks: Sequence[Any] = ()) -> Any:
    """A DPOTrainer or KTOTrainer whose policy starts from `start_adapter` (the SFT adapter, which
    is then also the reference), or from a fresh adapter on the base when it is None."""
    from datasets import Dataset
    from peft import PeftModel
    from transformers import set_seed
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

    set_seed(config.seed)
    settings = config.settings(stage)
    model = load_base(resolved, config, hw)
    peft_config = None
    if start_adapter is not None:
        model = PeftModel.from_pretrained(model, start_adapter, is_trainable=True)
    else:
        peft_config = lora_config(config)
    arguments = trainer_arguments(config, settings, hw, checkpoints)
    if stage == "dpo":
        trainer_class, args = DPOTrainer, DPOConfig(**arguments, beta=settings.beta,
                                                     loss_type=list(settings.loss),
                                                     loss_weights=settings.loss_weights)
    else:
        trainer_class, args = KTOTrainer, KTOConfig(**arguments, beta=settings.beta)
    trainer = trainer_class(model=model, ref_model=None, args=args,
                            train_dataset=Dataset.from_list(pair_rows(pairs)),
                            processing_class=tokens.tokenizer, peft_config=peft_config,
                            callbacks=list(callbacks))
    check_reference(trainer, start_adapter)
    check_prompts(trainer, tokens, pairs, per_pair=1 if stage == "dpo" else 2)
    return quiet_trainer(trainer)


def check_reference(trainer: Any, start_adapter: Path | None) -> None:
    """Starting from the SFT adapter, the reference must be TRL's frozen `ref` copy of it."""
    if start_adapter is None or trainer.ref_model is not None:
        return
    model = trainer.accelerator.unwrap_model(trainer.model)
    if "ref" not in getattr(model, "peft_config", {}):
        raise RunError("the installed TRL did not create the frozen `ref` copy of the SFT "
                       "adapter, so its reference would be the base model, not the SFT policy; "
                       "use the TRL version evalgate was tested with (1.16)")
    trainable = [n for n, p in model.named_parameters() if ".ref." in n and p.requires_grad]
    if trainable:
        raise RunError(f"the reference adapter is trainable ({trainable[0]}); refusing to train")


def check_prompts(trainer: Any, tokens: ChatTokens, pairs: Sequence[Pair], per_pair: int) -> None:
    """TRL tokenized the pairs itself: its prompt tokens must be the served prompt's. (KTO
    unpairs each pair into two rows, hence `per_pair`.)"""
    dataset = trainer.train_dataset
    if len(dataset) != per_pair * len(pairs):
        raise RunError(f"TRL dropped {per_pair * len(pairs) - len(dataset)} example(s) whose "
                       "prompt alone fills max_length; raise the stage's max_length")
    served = {tuple(tokens.prompt_ids(pair.prompt)): pair.id for pair in pairs}
    for row in dataset:
        if tuple(row["prompt_ids"]) not in served:
            raise RunError("TRL tokenized a pair's prompt differently from the served prompt (a "
                           "template that renders the prompt differently when an answer "
                           "follows?); training on it would not match serving")
