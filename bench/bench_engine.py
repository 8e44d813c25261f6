"""Benchmark: the batched engine against Hugging Face `generate` on the embedded SmolLM2-135M.

Prints figures, never passes or fails on time (machines are noisy: read the ratios, which are
measured in the same run). Run: `python bench/bench_engine.py [--quick] [--dtypes]`.

1. Generation, 64 short chat prompts × up to 48 new tokens, greedy: HF `generate` one prompt at
   a time, our engine one at a time, our engine batched with max_batch 32 and 64. One-at-a-time
   rates are measured on a subset (they are rates; all 64 at ~20 tok/s would take minutes).
2. Log-likelihood: zero-shot MMLU-style contexts (~110 tokens) with the four single-token
   options (grouped by context), projected to PERFORMANCE.md's 570 questions; and multi-token
   continuations.
3. With `--dtypes`: the batched engine in float32 and bfloat16, the figures behind the `auto` dtype.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evalgate.models import (  # noqa: E402
    EMBEDDED_ALIAS,
    Engine,
    GenerationParams,
    LoadedModel,
    ModelSettings,
    load_model,
    resolve_model,
)

console = Console()

QUESTIONS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain photosynthesis briefly.",
    "Give me three tips for better sleep.",
    "What is 17 times 3?",
    "Translate 'good morning' into Spanish.",
    "Name a famous physicist.",
    "Why is the sky blue?",
    "What is a prime number?",
    "Suggest a name for a pet cat.",
    "How do I boil an egg?",
    "What does a CPU do?",
    "Summarise the plot of Cinderella in one sentence.",
    "List three primary colours.",
    "What is the boiling point of water?",
    "Who wrote Romeo and Juliet?",
    "What is machine learning?",
    "How many days are in a leap year?",
    "Give a synonym for 'happy'.",
    "What is the largest planet?",
    "Write a short greeting for a birthday card.",
    "What is the square root of 81?",
    "Explain what a noun is.",
    "Recommend a healthy breakfast.",
    "What causes rain?",
    "How do plants drink water?",
    "Name three fruits that are red.",
    "What is the speed of light?",
    "Describe a rainbow to a child.",
    "What language is spoken in Brazil?",
    "Why do we need sleep?",
    "What is gravity?",
    "Write one sentence about autumn.",
    "What is the opposite of 'cold'?",
    "How many legs does a spider have?",
    "What is an atom?",
    "Give me a fun fact about octopuses.",
    "What is the freezing point of water in Fahrenheit?",
    "Explain what a verb is.",
    "Name a mammal that can fly.",
    "What is the currency of Japan?",
    "How do you say 'thank you' in French?",
    "What is 12 plus 30?",
    "What is the tallest mountain?",
    "Write a two-line poem about coffee.",
    "What does DNA stand for?",
    "Why is exercise good for you?",
    "Name the four seasons.",
    "What is the chemical symbol for gold?",
    "How does a compass work?",
    "What is a black hole?",
    "Give an example of a renewable energy source.",
    "What is the main ingredient of guacamole?",
    "Who painted the Mona Lisa?",
    "What is the longest river in Africa?",
    "How many continents are there?",
    "Explain recycling in one sentence.",
    "What is a haiku?",
    "Name a musical instrument with strings.",
    "What do bees make?",
    "What is the capital of Italy?",
    "How many hours are in a day?",
    "What is the past tense of 'run'?",
    "Tell me a short joke about computers.",
]


def _rate(seconds: float, tokens: int) -> float:
    return tokens / max(seconds, 1e-9)


def hf_generate_one_at_a_time(
    loaded: LoadedModel, prompts: list[str], max_new: int
) -> tuple[float, int]:
    import torch

    model, tokenizer = loaded.model, loaded.tokenizer
    tokens = 0
    started = time.perf_counter()
    with torch.inference_mode():
        for prompt in prompts:
            enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
            out = model.generate(
                **enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
            tokens += out.shape[1] - enc["input_ids"].shape[1]
    return time.perf_counter() - started, tokens


def engine_run(engine: Engine, prompts: list[str], params: GenerationParams) -> tuple[float, int]:
    started = time.perf_counter()
    outputs = engine.generate(prompts, params)
    return time.perf_counter() - started, sum(o.new_tokens for o in outputs)


def generation_table(
    loaded: LoadedModel,
    prompts: list[str],
    single: int,
    params: GenerationParams,
    max_batches: list[int],
) -> Table:
    one = Engine(loaded, max_batch=1)
    engine_run(Engine(loaded), prompts[:4], GenerationParams(max_new_tokens=4))  # warm-up
    subset = prompts[:single]
    hf_s, hf_t = hf_generate_one_at_a_time(loaded, subset, params.max_new_tokens)
    one_s, one_t = engine_run(one, subset, params)
    hf_rate, one_rate = _rate(hf_s, hf_t), _rate(one_s, one_t)

    table = Table(
        title=f"Generation, greedy, up to {params.max_new_tokens} new tokens ({loaded.dtype})",
    )
    columns = ("run", "prompts", "tokens", "seconds", "tok/s", "÷ HF b1", "÷ ours b1")
    for column in columns:
        table.add_column(column, justify="right" if column != "run" else "left")
    table.add_row(
        "HF generate b1",
        str(len(subset)),
        str(hf_t),
        f"{hf_s:.1f}",
        f"{hf_rate:.1f}",
        "1.0×",
        "",
    )
    table.add_row(
        "engine b1",
        str(len(subset)),
        str(one_t),
        f"{one_s:.1f}",
        f"{one_rate:.1f}",
        f"{one_rate / hf_rate:.1f}×",
        "1.0×",
    )
    for max_batch in max_batches:
        b_s, b_t = engine_run(Engine(loaded, max_batch=max_batch), prompts, params)
        rate = _rate(b_s, b_t)
        table.add_row(
            f"engine max_batch {max_batch}",
            str(len(prompts)),
            str(b_t),
            f"{b_s:.1f}",
            f"{rate:.1f}",
            f"{rate / hf_rate:.1f}×",
            f"{rate / one_rate:.1f}×",
        )
    return table


SUBJECTS = [
    "astronomy",
    "world history",
    "nutrition",
    "computer security",
    "philosophy",
    "marketing",
]


def mmlu_like(k: int) -> str:
    """A zero-shot MMLU-style context of roughly 110 tokens (header, question, four options)."""
    q = QUESTIONS[k % len(QUESTIONS)]
    subject = SUBJECTS[k % len(SUBJECTS)]
    options = [
        f"{QUESTIONS[(k + j * 7) % len(QUESTIONS)].rstrip('?.')} (option {j} of item {k})"
        for j in range(4)
    ]
    return (
        f"The following are multiple choice questions (with answers) about {subject}.\n\n"
        f"{q} Consider the question carefully before choosing one of the four answers below.\n"
        + "".join(f"{letter}. {text}\n" for letter, text in zip("ABCD", options))
        + "Answer:"
    )


def loglikelihood_table(loaded: LoadedModel, questions: int) -> Table:
    engine = Engine(loaded)
    contexts = [mmlu_like(k) for k in range(questions)]
    mcq = [(context, f" {letter}") for context in contexts for letter in "ABCD"]
    multi = [(context, " The answer is clearly the second option.") for context in contexts]
    mean_tokens = sum(len(engine.encode(c)) for c in contexts) / len(contexts)
    engine.loglikelihood(mcq[:8])  # warm-up
    table = Table(title=f"Log-likelihood ({loaded.dtype}), contexts of ~{mean_tokens:.0f} tokens")
    for column in ("requests", "count", "seconds", "per second", "570 MMLU questions"):
        table.add_column(column, justify="right" if column != "requests" else "left")
    started = time.perf_counter()
    engine.loglikelihood(mcq)
    seconds = time.perf_counter() - started
    table.add_row(
        "4 single-token options (grouped)",
        f"{questions} q",
        f"{seconds:.2f}",
        f"{questions / seconds:.1f} q/s",
        f"≈{570 * seconds / questions:.0f} s",
    )
    started = time.perf_counter()
    engine.loglikelihood(multi)
    seconds = time.perf_counter() - started
    table.add_row(
        "multi-token continuations",
        str(len(multi)),
        f"{seconds:.2f}",
        f"{len(multi) / seconds:.1f} req/s",
        "",
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="16 prompts (4 one at a time), fewer questions"
    )
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--single", type=int, default=12, help="prompts for the one-at-a-time rows")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument(
        "--max-batch", type=int, nargs="+", default=[32, 64], help="batched runs to measure"
    )
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    parser.add_argument(
        "--dtypes", action="store_true", help="also compare the batched engine in fp32 and bf16"
    )
    args = parser.parse_args()
    n_prompts, single, questions = (16, 4, 32) if args.quick else (args.prompts, args.single, 128)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    resolved = resolve_model(EMBEDDED_ALIAS, progress=console)
    loaded = load_model(resolved, ModelSettings(dtype=args.dtype))
    engine = Engine(loaded)
    prompts = [
        engine.render_chat([{"role": "user", "content": q}])
        for q in (QUESTIONS * (n_prompts // len(QUESTIONS) + 1))[:n_prompts]
    ]
    params = GenerationParams(max_new_tokens=args.max_new_tokens)
    console.print(
        f"[bold]{resolved.ref}[/] {resolved.identity[:12]} · dtype {loaded.dtype} "
        f"(auto → {ModelSettings().resolved_dtype()}) · device {loaded.device}"
    )
    console.print(generation_table(loaded, prompts, single, params, args.max_batch))
    console.print(loglikelihood_table(loaded, questions))

    if args.dtypes:
        table = Table(
            title=f"Batched engine by dtype, {len(prompts)} prompts, max_batch {args.max_batch[-1]}"
        )
        for column in ("dtype", "new tokens", "seconds", "new tok/s"):
            table.add_column(column, justify="right" if column != "dtype" else "left")
        for dtype in ("float32", "bfloat16"):
            other = load_model(resolved, ModelSettings(dtype=dtype))
            batched = Engine(other, max_batch=args.max_batch[-1])
            engine_run(batched, prompts[:4], GenerationParams(max_new_tokens=4))
            seconds, tokens = engine_run(batched, prompts, params)
            table.add_row(dtype, str(tokens), f"{seconds:.1f}", f"{_rate(seconds, tokens):.1f}")
            del other, batched
        console.print(table)
    if hasattr(os, "getloadavg"):
        console.print(
            f"[dim]1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
            f"({os.cpu_count()} CPUs): above the CPU count, other work shared the cores.[/]"
        )


if __name__ == "__main__":
    main()
