"""`evalgate run`: the whole pipeline on a project — baseline → train → gate → promote — and
a closing summary. Each step is the same code as its own command (nothing is re-implemented
here), so `run` decides exactly what the separate commands would.

`--quick` is a first look in minutes rather than the better part of an hour: every suite is
cut to its first QUICK_EXAMPLES examples (a leakage suite: that many members, non-members in
its probes, and canaries ranked among 31 random secrets), only the first training config is
trained, with an eighth of its steps (`TrainConfig.quick`, adapter `<name>-quick`), and
everything is written
under `reports/quick/`. A quick verdict is never promoted: on so few examples most relative
checks are honestly INCONCLUSIVE, and the report says how many examples would settle them.
The cache is per example, so a later full `evalgate run` reuses every quick output.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from rich.table import Table
from rich.text import Text

from evalgate.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_PASS,
    EXIT_REJECT,
    add_project_option,
    console,
    err_console,
    say,
)
from evalgate.cli.train import print_canaries, warn_pii
from evalgate.report.console import STATUS_STYLE

# Sized so that a cold `evalgate run --quick` of the example project (five suites, GGUF
# conversion included) stays under 10 minutes on the 2-core reference machine.
QUICK_EXAMPLES = 30


def run(args: argparse.Namespace) -> int:
    from evalgate.eval.baselines import plan_baselines, run_baselines
    from evalgate.eval.run import ModelPool
    from evalgate.gate.promote import NotPromotable, promote
    from evalgate.gate.run import run_gate
    from evalgate.project import load_project
    from evalgate.report.baseline import render_baseline
    from evalgate.report.common import blocking
    from evalgate.report.gate_console import render_verdict
    from evalgate.report.training import render_training
    from evalgate.train import Interrupted, execute, plan_run, training_configs
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    if args.quick:
        project = replace(project, example_limit=QUICK_EXAMPLES, config=project.config.model_copy(
            update={"reports": str(Path(project.config.reports) / "quick")}))
    baseline_plan = plan_baselines(project)
    configs = training_configs(project)
    if args.quick:
        configs = configs[:1]
    # Every guard of every step runs before any work.
    plans = [plan_run(path, project, quick=args.quick) for path in configs]
    for plan in plans:
        warn_pii(plan)
    rows = []
    with make_progress() as progress:
        console.rule("[bold]1 · baselines")
        pool = ModelPool(project, progress)
        record, path, _ = run_baselines(project, baseline_plan, pool, progress)
        console.print(render_baseline(record))
        console.print(f"[dim]baseline record[/] {path.relative_to(project.root)}")
        del pool
        for plan in plans:
            console.rule(f"[bold]2 · train {plan.config.name}")
            try:
                # A re-run of the pipeline continues an interrupted training run from its last
                # checkpoint: `run` is meant to be repeated until it has nothing left to do.
                outcome = execute(plan, resume=True, progress=progress)
            except Interrupted as stop:
                err_console.print(f"[bold yellow]interrupted:[/] {stop}; run `evalgate run` "
                                  "again to continue from the last checkpoint")
                return EXIT_INTERRUPTED
            console.print(render_training(outcome))
            print_canaries(outcome.plan)
            console.rule(f"[bold]3 · gate {plan.config.name}")
            gated = run_gate(project, plan.run_dir, progress=progress, say=say)
            console.print(render_verdict(gated.verdict))
            promoted = "—" if not args.quick else "never (--quick)"
            if gated.verdict.promoted and not (args.no_promote or args.quick):
                console.rule(f"[bold]4 · promote {plan.config.name}")
                try:
                    entry = promote(project, plan.run_dir, alias=args.alias)
                    promoted = f"{entry.name} {entry.version} → {args.alias}"
                except NotPromotable as refused:
                    promoted = f"refused: {refused}: " + "; ".join(blocking(refused.verdict)[:3])
            rows.append((plan, gated, promoted))
    table = Table(title="evalgate run: summary", title_justify="left", header_style="bold")
    for column in ("training", "adapter run", "verdict", "checks", "registry", "report"):
        table.add_column(column)
    for plan, gated, promoted in rows:
        counts = gated.verdict.counts()
        table.add_row(plan.config.name, plan.run_id[:12],
                      Text(gated.verdict.decision, style=STATUS_STYLE[gated.verdict.decision]),
                      f"{counts['PASS']} pass · {counts['FAIL']} fail · "
                      f"{counts['INCONCLUSIVE']} inconclusive",
                      promoted, str(Path(gated.report_dir).relative_to(project.root)
                                    / "report.html"))
    console.print()
    console.print(table)
    if args.quick:
        console.print(f"[yellow]quick look:[/] the first {QUICK_EXAMPLES} examples of each suite "
                      "and an eighth of the training steps; never promoted. `evalgate run` "
                      "decides on the full suites (cached outputs are reused).", highlight=False)
    for _, gated, _ in rows:
        for reason in blocking(gated.verdict):
            console.print(f"  [bold]blocking[/] {reason}", highlight=False)
    return EXIT_PASS if all(g.verdict.promoted for _, g, _ in rows) else EXIT_REJECT


def register(commands) -> None:
    parser = commands.add_parser("run", help="the whole pipeline: baseline → train → gate → "
                                             "promote, with a closing summary")
    parser.add_argument("--quick", action="store_true",
                        help=f"a first look: the first {QUICK_EXAMPLES} examples of each suite, an "
                             "eighth of the training steps, reports under reports/quick/, never "
                             "promoted")
    parser.add_argument("--no-promote", action="store_true", help="stop after the gate")
    parser.add_argument("--alias", default="production")
    add_project_option(parser)
    parser.set_defaults(handler=run)
