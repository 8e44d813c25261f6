"""Train a triage LoRA adapter the way a team without evalgate would: plain TRL + PEFT.

This script imports nothing from evalgate. It exists to show (and test by hand) that a candidate
trained by another tool can be gated: `evalgate gate adapters/outside-trl --system
systems/triage_adapter.yaml` judges it against the criteria in the committed evalgate.lock.

    python scripts/train_outside.py --model MODEL_FOLDER [--out adapters/outside-trl] [--steps 70]

MODEL_FOLDER is a transformers folder of SmolLM2-135M-Instruct (evalgate's converted copy is
printed by `python scripts/serve_model.py --print-model`). The prompt is the one
systems/triage_adapter.yaml serves the adapter with; the rows are training/data's tickets minus
the near-duplicates of held-out tickets that training/triage.yaml excludes (a tool that does not
check overlap would train on them: evalgate cannot see that in an adapter it did not train).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def conversations() -> list[dict]:
    system = yaml.safe_load((ROOT / "systems" / "triage_adapter.yaml").read_text())
    prompt = system["prompts"]["triage"]
    config = yaml.safe_load((ROOT / "training" / "triage.yaml").read_text())
    excluded = set(config["data"].get("exclude") or [])
    rows = []
    for line in (ROOT / "training" / "data" / "triage_train.jsonl").read_text().splitlines():
        example = json.loads(line)
        if example["id"] in excluded:
            continue
        rows.append({"messages": [
            {"role": "system", "content": prompt["system"].strip()},
            {"role": "user", "content": prompt["user"].replace("{input}", example["ticket"])},
            {"role": "assistant", "content": json.dumps(example["expected"],
                                                        ensure_ascii=False)}]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "adapters" / "outside-trl")
    parser.add_argument("--steps", type=int, default=70)
    args = parser.parse_args()

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(7)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16)
    rows = conversations()
    trainer = SFTTrainer(
        model=model, processing_class=tokenizer, train_dataset=Dataset.from_list(rows),
        peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05,
                               target_modules="all-linear", task_type="CAUSAL_LM"),
        args=SFTConfig(output_dir=str(args.out.parent / f".{args.out.name}-trainer"),
                       max_steps=args.steps,
                       per_device_train_batch_size=4, learning_rate=1e-3,
                       lr_scheduler_type="linear", warmup_steps=3, logging_steps=10,
                       gradient_checkpointing=False, max_length=512,
                       save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available(),
                       bf16=True, seed=7))
    trainer.train()
    trainer.model.save_pretrained(args.out)
    print(f"trained on {len(rows)} tickets for {args.steps} steps → {args.out}")


if __name__ == "__main__":
    main()
