"""`evalgate train`: LoRA adapters (SFT, then a preference stage) from training/*.yaml.

Under `accelerate launch` (several processes, see `evalgate.train.distributed`) only the main
process shows anything: the PII warning, the progress bars, the summary and errors of the input
(every process finds the same one). A failure of one process's own (a GPU out of memory) is
still said by that process.
"""

from __future__ import annotations

import argparse
import contextlib
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
    from evalgate.train import Interrupted, distributed, execute, plan_run, training_configs
    from evalgate.util.progress import make_progress

    main = distributed.is_main()
    try:
        project = load_project(args.project)
        if args.resume and args.restart:
            raise ConfigError("--resume and --restart contradict each other",
                              fix="--resume continues an unfinished run, --restart discards it")
        paths = training_configs(project, [Path(p) for p in args.config])
        # Every guard of every config runs before any model loads or any file is written.
        plans = [plan_run(path, project) for path in paths]
        if main:
            ensure_lock(project)
            for plan in plans:
                warn_pii(plan)
        outcomes = []
        with make_progress() if main else contextlib.nullcontext() as progress:
            for plan in plans:
                outcomes.append(execute(plan, resume=args.resume, restart=args.restart,
                                        progress=progress))
    except Interrupted as stop:
        if main:
            err_console.print(f"[bold yellow]interrupted:[/] {stop}; continue with "
                              "`evalgate train --resume`")
        return EXIT_INTERRUPTED
    except ConfigError:
        if not main:  # the same input error in every process: the main process says it
            err_console.quiet = True
        raise
    distributed.finish()
    if not main:
        return EXIT_PASS
    for outcome in outcomes:
        console.print()
        console.print(render_training(outcome))
        print_canaries(outcome.plan)
        console.print(f"[dim]manifest[/] {shown(outcome.plan.run_dir / 'manifest.json')}")
    return EXIT_PASS


def ensure_lock(project) -> None:
    """Criteria come first: the first training writes evalgate.lock (the suites as they are
    before any adapter exists); later ones check that the suites still match it."""
    from evalgate.eval.baselines import load_suites
    from evalgate.project.lock import LOCK_FILE, load_lock, lock_changes, write_lock

    suites = load_suites(project)
    lock = load_lock(project)
    if lock is None:
        lock = write_lock(project, suites)
        console.print(f"[bold]wrote[/] {shown(lock.path)} (sha256 {lock.sha256[:12]}): the "
                      "suites and criteria as they are before this training; commit it",
                      highlight=False)
        return
    changes = lock_changes(lock, project, suites)
    if changes:
        raise ConfigError(
            f"the suites differ from {LOCK_FILE} (written {lock.created_at}):\n  - "
            + "\n  - ".join(changes), path=lock.path,
            fix="restore the suites, or if the change is deliberate re-lock with `evalgate lock "
                "--update` and commit it before training")


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
