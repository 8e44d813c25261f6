"""`evalgate train`: LoRA adapters (SFT, then a preference stage) from training/*.yaml."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from evalgate.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_PASS,
    add_project_option,
    console,
    err_console,
    shown,
)
from evalgate.errors import ConfigError

if TYPE_CHECKING:
    from evalgate.train import TrainPlan


def run(args: argparse.Namespace) -> int:
    from evalgate.project import load_project
    from evalgate.report.training import render_training
    from evalgate.train import Interrupted, execute, plan_run, training_configs
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    if args.resume and args.restart:
        raise ConfigError("--resume and --restart contradict each other",
                          fix="--resume continues an unfinished run, --restart discards it")
    paths = training_configs(project, [Path(p) for p in args.config])
    # Every guard of every config runs before any model loads or any file is written.
    plans = [plan_run(path, project) for path in paths]
    for plan in plans:
        warn_pii(plan)
    outcomes = []
    try:
        with make_progress() as progress:
            for plan in plans:
                outcomes.append(execute(plan, resume=args.resume, restart=args.restart,
                                        progress=progress))
    except Interrupted as stop:
        err_console.print(f"[bold yellow]interrupted:[/] {stop}; continue with "
                          "`evalgate train --resume`")
        return EXIT_INTERRUPTED
    for outcome in outcomes:
        console.print()
        console.print(render_training(outcome))
        print_canaries(outcome.plan)
        console.print(f"[dim]manifest[/] {shown(outcome.plan.run_dir / 'manifest.json')}")
    return EXIT_PASS


def warn_pii(plan: TrainPlan) -> None:
    """`pii: warn` with personal data in the training rows: say so before anything trains."""
    from evalgate.train.privacy import pii_fix, pii_message

    if plan.pii.policy != "warn" or not plan.pii.found:
        return
    found = pii_message(plan.config, plan.config_path, plan.pii)
    text = (f"{found}. It trains anyway (pii: warn in {shown(plan.config_path)}); "
            f"{pii_fix(plan.config, plan.config_path)}.")
    err_console.print(f"[bold yellow]warning:[/] {escape(text)}", highlight=False)


def print_canaries(plan: TrainPlan) -> None:
    """One line under the training summary: how many canaries, how often, how many rows."""
    if not plan.canaries:
        return
    reps = "/".join(str(r) for r in plan.config.canaries.repetitions)
    rows = sum(c.repetitions for c in plan.canaries)
    console.print(f"[dim]canaries: {len(plan.canaries)} planted (repetitions {reps}, {rows} "
                  "SFT rows; secrets in the manifest)[/]", highlight=False)


def register(commands) -> None:
    parser = commands.add_parser(
        "train", help="train LoRA adapters (SFT, then DPO) from training/*.yaml into adapters/")
    parser.add_argument("config", nargs="*", metavar="CONFIG",
                        help="training YAML (default: every training/*.yaml of the project)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an unfinished run from its last checkpoint")
    parser.add_argument("--restart", action="store_true",
                        help="discard an existing run folder of this config and train again")
    add_project_option(parser)
    parser.set_defaults(handler=run)
