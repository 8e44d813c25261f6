"""Calibrate the capability suite's default bounds on the embedded model.

The continuous signals (gold log-prob, agreement, answer KL, general-text perplexity) must
FAIL an adapter that wrecked the model even when MMLU accuracy sits at chance, and must not
fail an adapter that left it alone. This script measures three candidates through the gate's
own machinery (`evalgate.gate.run.judge` on the example project's capability suite):

1. untrained: a fresh LoRA (B = 0), exactly the base model;
2. destructive: a LoRA trained at a destructive learning rate (default 1e-2, AdamW) on random
   word sequences (no task, no language), the way a broken fine-tune forgets;
3. the example project's adapter (`--adapter adapters/<run-id>/dpo`, or the newest one found).

Printed per candidate and signal: base, candidate, the Δ or own value with its 95% interval,
the bound and the status. Written to reports/bench/capability_calibration.json. Run:
`python bench/calibrate_capability.py [--adapter DIR] [--steps 30] [--lr 1e-2]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUITE = ROOT / "suites" / "general_knowledge.yaml"
SYSTEM = ROOT / "systems" / "triage_adapter.yaml"
OUT = ROOT / "reports" / "bench" / "capability_calibration.json"
WORK = ROOT / ".evalgate" / "calibration"


def lora_config(targets: Any = "all-linear") -> Any:
    from peft import LoraConfig

    return LoraConfig(r=16, lora_alpha=32, target_modules=targets, lora_dropout=0.0,
                      task_type="CAUSAL_LM")


def untrained_adapter(model_path: Path, folder: Path) -> Path:
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    if (folder / "adapter_config.json").is_file():
        return folder
    model = AutoModelForCausalLM.from_pretrained(model_path)
    get_peft_model(model, lora_config()).save_pretrained(folder)
    return folder


def destructive_adapter(model_path: Path, folder: Path, steps: int, lr: float) -> Path:
    """LoRA trained on random word sequences at a learning rate that wrecks the model."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if (folder / "adapter_config.json").is_file():
        return folder
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_path), lora_config())
    rng = random.Random(0)
    words = [w for w in tokenizer.get_vocab() if w.isalpha() and 3 <= len(w) <= 8][:5000]
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        texts = [" ".join(rng.choice(words) for _ in range(48)) for _ in range(4)]
        batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                          max_length=64)
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        if step % 10 == 0 or step == steps - 1:
            print(f"  destructive step {step + 1}/{steps}: loss {loss.item():.3f}", flush=True)
    print(f"  trained in {time.perf_counter() - started:.0f} s", flush=True)
    model.save_pretrained(folder)
    return folder


def newest_example_adapter() -> Path | None:
    found = sorted((ROOT / "adapters").glob("*/manifest.json"),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        return None
    manifest = json.loads(found[-1].read_text(encoding="utf-8"))
    stage = manifest.get("final_stage") or "sft"
    folder = found[-1].parent / stage
    return folder if folder.is_dir() else found[-1].parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, help="the example project's adapter folder")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--per-subject", type=int, default=None,
                        help="evaluate only the first N questions per subject")
    args = parser.parse_args()

    from evalgate.eval.run import ModelPool
    from evalgate.gate.run import judge
    from evalgate.project import load_project
    from evalgate.suite import load_suite
    from evalgate.systems import load_system
    from evalgate.util.progress import make_progress

    project = load_project(ROOT)
    suite = load_suite(SUITE)
    if args.per_subject:
        suite = suite.head(args.per_subject * len(suite.subset.subjects))
    resolved = ModelPool(project).resolved(project.config.model.base)
    WORK.mkdir(parents=True, exist_ok=True)
    candidates = {
        "untrained": untrained_adapter(resolved.path, WORK / "untrained"),
        "destructive": destructive_adapter(resolved.path, WORK / f"destructive-lr{args.lr:g}"
                                           f"-{args.steps}", args.steps, args.lr),
    }
    example = args.adapter or newest_example_adapter()
    if example is not None:
        candidates["example"] = example.resolve()
    else:
        print("no example adapter found (run `make demo` first, or pass --adapter)")
    base_system = load_system(SYSTEM)
    results: dict[str, Any] = {}
    with make_progress() as progress:
        pool = ModelPool(project, progress)
        for name, folder in candidates.items():
            system = type(base_system)(path=base_system.path, config=base_system.config
                                       .model_copy(update={"adapter": str(folder),
                                                           "name": f"calibration-{name}"}))
            started = time.perf_counter()
            judged = judge(project, system, [suite], pool=pool, progress=progress,
                           say=lambda _: None)
            rows = []
            for check in judged.checks:
                shown = check.delta if check.relative else check.candidate
                rows.append({"criterion": check.criterion, "kind": check.kind,
                             "status": check.status.value, "bound": check.bound_text,
                             "base": check.baseline.value if check.baseline else None,
                             "candidate": check.candidate.value if check.candidate else None,
                             "value": shown.value, "low": shown.low, "high": shown.high,
                             "detail": check.detail})
            results[name] = {"adapter": str(folder), "seconds": time.perf_counter() - started,
                             "checks": rows}
    print()
    for name, result in results.items():
        print(f"{name}: {result['adapter']} ({result['seconds']:.0f} s)")
        for row in result["checks"]:
            print(f"  {row['criterion']:<13} {row['kind']:<22} {row['bound']:<14} "
                  f"value {row['value']:+.4f} [{row['low']:+.4f}, {row['high']:+.4f}]  "
                  f"{row['status']}{' (' + row['detail'] + ')' if row['detail'] else ''}")
    verdicts = {name: {r["criterion"]: r["status"] for r in result["checks"]}
                for name, result in results.items()}
    wrecked_fails = any(s == "FAIL" for s in verdicts.get("destructive", {}).values())
    others_clean = all(s != "FAIL" for name, v in verdicts.items() if name != "destructive"
                       for s in v.values())
    print(f"\ndestructive adapter fails a signal: {wrecked_fails}; "
          f"untrained and example adapters fail none: {others_clean}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"suite": str(SUITE.relative_to(ROOT)), "lr": args.lr,
                               "steps": args.steps, "results": results,
                               "destructive_fails": wrecked_fails,
                               "others_pass": others_clean}, indent=2) + "\n")
    print(f"written {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
