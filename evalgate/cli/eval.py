"""`evalgate eval`: systems on suites, one table per run and a run record each."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalgate.cli.output import EXIT_PASS, EXIT_REJECT, add_project_option, console, shown
from evalgate.errors import ConfigError
from evalgate.suite.kinds import kind_of


def run(args: argparse.Namespace) -> int:
    from evalgate.eval.run import ModelPool, evaluate
    from evalgate.project import load_project
    from evalgate.report.console import render_run
    from evalgate.suite import load_suite
    from evalgate.systems import load_system
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    suite_paths = [Path(p) for p in args.suite] or project.suite_paths
    system_paths = [Path(p) for p in args.system] or project.baseline_paths
    if not suite_paths:
        raise ConfigError("no suite given", path=project.path, key="suites",
                          fix="pass --suite FILE or list suites in evalgate.yaml")
    if not system_paths:
        raise ConfigError("no system given", path=project.path, key="baselines",
                          fix="pass --system FILE or list baselines in evalgate.yaml")
    # Validate everything before any model loads or any file is written.
    suites = [load_suite(p) for p in suite_paths]
    judged_by_gate = [s for s in suites if not kind_of(s).uses_baselines]
    for suite in judged_by_gate:
        console.print(f"[dim]{suite.name} is a {suite.kind} suite: it compares a candidate with "
                      f"{kind_of(suite).reference}, so `evalgate gate` runs it[/]")
    suites = [s for s in suites if kind_of(s).uses_baselines]
    if not suites:
        raise ConfigError("no task suite to evaluate", path=project.path, key="suites",
                          fix="pass --suite with a task suite; capability, leakage and judge "
                              "suites run in `evalgate gate CANDIDATE`")
    systems = [load_system(p) for p in system_paths]
    prepared = {(suite.name, system.name): system.prepare(suite)
                for system in systems for suite in suites}
    outcomes = []
    with make_progress() as progress:
        pool = ModelPool(project, progress)
        for system in systems:
            for suite in suites:
                outcomes.append(evaluate(suite, system, pool, progress,
                                         prepared[(suite.name, system.name)]))
    for outcome in outcomes:
        console.print()
        console.print(render_run(outcome.record))
        console.print(f"[dim]run record[/] {shown(outcome.path)}")
    return EXIT_PASS if all(o.record.passed for o in outcomes) else EXIT_REJECT


def register(commands) -> None:
    parser = commands.add_parser("eval", help="evaluate systems on suites and print criteria")
    parser.add_argument("--suite", action="append", default=[], metavar="FILE",
                        help="suite YAML (repeatable; default: the project's suites)")
    parser.add_argument("--system", action="append", default=[], metavar="FILE",
                        help="system YAML (repeatable; default: the project's baselines)")
    add_project_option(parser)
    parser.set_defaults(handler=run)
