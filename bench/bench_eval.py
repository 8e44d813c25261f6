"""Benchmark: batched vs one-at-a-time generation on the example suite, and a warm re-run.

Prints figures, never passes or fails on time. Run: `python bench/bench_eval.py [--single N]`.

1. Engine throughput on the triage suite's real prompts: batched (the project's engine
   settings) vs one prompt at a time, on the same first N examples, then batched on all.
2. `evalgate eval` as a user runs it, in a fresh process, with an empty cache (cold) and again
   (warm: every output comes from the SQLite cache and no model is loaded).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalgate.eval.run import ModelPool  # noqa: E402
from evalgate.models.chat import render_chat  # noqa: E402
from evalgate.models.engine import Engine, GenerationParams, engine_for  # noqa: E402
from evalgate.project.config import load_project  # noqa: E402
from evalgate.suite.load import load_suite  # noqa: E402
from evalgate.systems.prompting import load_system  # noqa: E402

console = Console()


def engine_throughput(engine: Engine, prompts: list[str], params: GenerationParams) -> tuple[float, int]:
    started = time.perf_counter()
    outputs = engine.generate(prompts, params)
    seconds = time.perf_counter() - started
    return seconds, sum(out.new_tokens for out in outputs)


def timed_cli(project_file: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "evalgate.cli.main", "eval", "--project", str(project_file),
         "--suite", str(ROOT / "suites/triage.yaml"), "--system", str(ROOT / "baselines/prompt.yaml")],
        capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        console.print(result.stdout, result.stderr)
        raise SystemExit(f"evalgate eval failed with exit code {result.returncode}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=32,
                        help="examples for the one-at-a-time comparison (default 32)")
    args = parser.parse_args()

    project = load_project(ROOT / "evalgate.yaml")
    suite = load_suite(ROOT / "suites/triage.yaml")
    system = load_system(ROOT / "baselines/prompt.yaml")
    pool = ModelPool(project)
    resolved = pool.resolved(project.config.model.base)
    tokenizer = pool.tokenizer(resolved)
    prepared = system.prepare(suite)
    prompts = [render_chat(tokenizer, prepared.build(suite.render_input(ex)).messages)
               for ex in suite.dataset.examples]
    params = GenerationParams(max_new_tokens=suite.config.generation.max_new_tokens,
                              stop=tuple(suite.config.generation.stop))
    batched = pool.engine(resolved, None)
    single = engine_for(batched.loaded, project.config.engine, max_batch=1)
    subset = prompts[: args.single]
    engine_throughput(batched, subset[:4], params)  # warm-up (allocator, kernels)

    rows = []
    s_single, t_single = engine_throughput(single, subset, params)
    rows.append((f"one at a time, {len(subset)} examples", s_single, t_single))
    s_sub, t_sub = engine_throughput(batched, subset, params)
    rows.append((f"batched, same {len(subset)} examples", s_sub, t_sub))
    s_all, t_all = engine_throughput(batched, prompts, params)
    rows.append((f"batched, all {len(prompts)} examples", s_all, t_all))

    table = Table(title=f"generation on suite triage ({batched.loaded.dtype}, "
                        f"max_batch {project.config.engine.max_batch})")
    for column in ("run", "seconds", "new tokens", "tok/s"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for name, seconds, tokens in rows:
        table.add_row(name, f"{seconds:.1f}", str(tokens), f"{tokens / seconds:.1f}")
    console.print(table)
    ratio = (t_sub / s_sub) / (t_single / s_single)
    console.print(f"batched / one-at-a-time throughput (same examples): [bold]{ratio:.1f}×[/]")

    with tempfile.TemporaryDirectory() as tmp:
        project_file = Path(tmp) / "evalgate.yaml"
        config = yaml.safe_load((ROOT / "evalgate.yaml").read_text())
        config.update(cache=str(Path(tmp) / "cache.sqlite"), reports=str(Path(tmp) / "reports"),
                      suites=[], baselines=[])
        project_file.write_text(yaml.safe_dump(config))
        cold = timed_cli(project_file)
        warm = timed_cli(project_file)
    console.print(f"`evalgate eval` cold (empty cache): {cold:.1f} s · warm (all cached): "
                  f"{warm:.1f} s · warm / cold = [bold]{warm / cold:.1%}[/]")


if __name__ == "__main__":
    main()
