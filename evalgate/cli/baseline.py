"""`evalgate baseline`: every baseline on every suite, the best per criterion recorded."""

from __future__ import annotations

import argparse

from evalgate.cli.output import EXIT_PASS, add_project_option, console, shown


def run(args: argparse.Namespace) -> int:
    from evalgate.eval.baselines import plan_baselines, run_baselines
    from evalgate.eval.run import ModelPool
    from evalgate.project import load_project
    from evalgate.report.baseline import render_baseline
    from evalgate.report.console import render_run
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    plan = plan_baselines(project)
    with make_progress() as progress:
        record, path, runs = run_baselines(project, plan, ModelPool(project, progress), progress)
    if args.verbose:
        for run_record, _ in runs.values():
            console.print()
            console.print(render_run(run_record))
    console.print()
    console.print(render_baseline(record))
    hits = sum(r.stats["cache_hits"] for r, _ in runs.values())
    total = sum(r.suite["n"] for r, _ in runs.values())
    console.print(f"[dim]cache[/] {hits} of {total} examples cached · "
                  f"[dim]baseline record[/] {shown(path)}")
    return EXIT_PASS


def register(commands) -> None:
    parser = commands.add_parser(
        "baseline", help="evaluate every baseline on every suite; record the best per criterion")
    add_project_option(parser)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also print each run's own table")
    parser.set_defaults(handler=run)
