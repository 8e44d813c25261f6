"""`evalgate gate CANDIDATE`: the candidate on every suite against the best baselines → verdict
and reports; `--promote` then hands a PROMOTE to `evalgate promote`.

CANDIDATE is a training run folder (adapters/<run-id>), a PEFT adapter folder trained by another
tool with `--system` (the system it is served with), or a system YAML (an adapter or an
endpoint serving a fine-tuned model); the last two need evalgate.lock (`evalgate lock`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalgate.cli.output import (
    EXIT_PASS,
    EXIT_REJECT,
    add_candidate_arguments,
    add_project_option,
    candidate_system_path,
    console,
    say,
    shown,
)


def print_verdict(outcome) -> None:
    from evalgate.report.gate_console import render_verdict

    console.print()
    console.print(render_verdict(outcome.verdict))
    console.print(f"[dim]reports[/] {shown(outcome.report_dir)}/"
                  "{report.json, report.md, report.html, junit.xml}")


def run(args: argparse.Namespace) -> int:
    from evalgate.cli.promote import promote_and_say
    from evalgate.gate.run import run_gate
    from evalgate.project import load_project
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    with make_progress() as progress:
        outcome = run_gate(project, Path(args.adapter),
                           system=candidate_system_path(args),
                           allow_changed_criteria=args.allow_changed_criteria,
                           progress=progress, say=say)
    print_verdict(outcome)
    if not outcome.verdict.promoted:
        return EXIT_REJECT
    if args.promote:
        return promote_and_say(project, Path(args.adapter), args.alias,
                               system=candidate_system_path(args))
    return EXIT_PASS


def register(commands) -> None:
    parser = commands.add_parser(
        "gate", help="evaluate a candidate on every suite and decide against the best "
                     "baselines (writes reports/gate/<run-id>/)")
    add_candidate_arguments(parser)
    parser.add_argument("--allow-changed-criteria", action="store_true",
                        help="gate even though suites or criteria changed since training "
                             "(written into the verdict and the report)")
    parser.add_argument("--promote", action="store_true",
                        help="on PROMOTE, also copy the adapter into the registry")
    parser.add_argument("--alias", default="production", help="alias to move with --promote")
    add_project_option(parser)
    parser.set_defaults(handler=run)
