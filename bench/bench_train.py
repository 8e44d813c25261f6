"""Benchmark: training throughput and peak memory, QLoRA (NF4 base) vs plain LoRA.

Prints figures, never passes or fails on time. Run: `python bench/bench_train.py [--steps N]`.

Each variant trains the SFT stage of a training config (default training/triage.yaml: its real
prompts, batch size, LoRA settings) for a fixed number of steps in a fresh process, so that peak
memory (`ru_maxrss` on CPU, `torch.cuda.max_memory_allocated` on CUDA) belongs to that variant
alone. The first step is left out of the throughput (allocator and thread-pool warm-up).
Machines are noisy, and this one may be shared: compare the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "qlora": {"quantization": "nf4"},
    "lora": {"quantization": "none"},
}


def run_variant(name: str, config_path: Path, steps: int, checkpointing: bool | None) -> dict:
    """Train `steps` SFT steps of the variant in this process; return its figures."""
    import torch
    from transformers import TrainerCallback

    from evalgate.project.config import load_project
    from evalgate.train import plan_run
    from evalgate.train.runtime import quiet_libraries
    from evalgate.train.sft import build_sft_trainer

    quiet_libraries()
    plan = plan_run(config_path, load_project(ROOT / "evalgate.yaml"))
    settings = plan.config.settings("sft").model_copy(update={"max_steps": steps,
                                                               "save_steps": 10 ** 6})
    update = {**VARIANTS[name], "sft": settings}
    if checkpointing is not None:
        update["gradient_checkpointing"] = checkpointing
    config = plan.config.model_copy(update=update)

    class Clock(TrainerCallback):
        def __init__(self):
            self.marks: list[tuple[float, int]] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        rss_loaded = None
        trainer = build_sft_trainer(config, plan.resolved, plan.hw, plan.tokens.tokenizer,
                                    plan.sft_rows, Path(folder), [clock])
        rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        trainer.train()
        total = time.perf_counter() - started
    (t0, n0), (t1, n1) = clock.marks[0], clock.marks[-1]
    cuda = torch.cuda.is_available()
    return {
        "variant": name, "quantization": config.quantization, "compute_dtype": plan.hw.dtype,
        "device": plan.hw.device, "checkpointing": config.gradient_checkpointing,
        "batch": settings.batch_size * settings.grad_accum, "steps": steps,
        "tokens": n1, "seconds": round(total, 2),
        "seconds_per_step": round((t1 - t0) / max(len(clock.marks) - 1, 1), 2),
        "tokens_per_second": round((n1 - n0) / (t1 - t0), 1) if t1 > t0 else None,
        "peak_mb": round(torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else
                         resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "loaded_mb": round(rss_loaded) if not cuda else None,
        "memory": "cuda max allocated" if cuda else "peak RSS",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "training" / "triage.yaml")
    parser.add_argument("--steps", type=int, default=4, help="SFT steps per variant (default 4)")
    parser.add_argument("--checkpointing", choices=["config", "on", "off", "both"],
                        default="config", help="gradient checkpointing (default: the config's)")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    checkpointing = {"config": [None], "on": [True], "off": [False],
                     "both": [True, False]}[args.checkpointing]

    if args.variant:  # child process: one variant, JSON on stdout
        print(json.dumps(run_variant(args.variant, args.config, args.steps, checkpointing[0])))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    load = os.getloadavg()
    console.print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
                  f"on {os.cpu_count()} CPUs")
    results = []
    for flag in checkpointing:
        for name in VARIANTS:
            command = [sys.executable, __file__, "--variant", name, "--config", str(args.config),
                       "--steps", str(args.steps), "--checkpointing",
                       {None: "config", True: "on", False: "off"}[flag]]
            console.print(f"[dim]running {name} (checkpointing: "
                          f"{'config' if flag is None else flag})…[/]")
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                console.print(done.stderr[-3000:])
                raise SystemExit(f"{name} failed with exit code {done.returncode}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = Table(title=f"SFT throughput, {args.steps} steps per variant "
                        f"({results[0]['device']}, compute {results[0]['compute_dtype']})")
    for column in ("variant", "base", "checkpointing", "batch", "s/step", "tokens/s",
                   results[0]["memory"] + " MB", "after load MB"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for r in results:
        table.add_row(r["variant"], r["quantization"], str(r["checkpointing"]), str(r["batch"]),
                      f"{r['seconds_per_step']:.2f}", f"{r['tokens_per_second']:,.0f}",
                      f"{r['peak_mb']:,}", f"{r['loaded_mb']:,}" if r["loaded_mb"] else "–")
    console.print(table)
    for flag in checkpointing:
        pair = {r["variant"]: r for r in results
                if flag is None or r["checkpointing"] == flag}
        q, p = pair["qlora"], pair["lora"]
        console.print(f"qlora / lora (checkpointing {q['checkpointing']}): throughput "
                      f"{q['tokens_per_second'] / p['tokens_per_second']:.2f}×, peak memory "
                      f"{q['peak_mb'] / p['peak_mb']:.2f}×")
    load = os.getloadavg()
    console.print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
