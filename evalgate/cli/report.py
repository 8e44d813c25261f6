"""`evalgate report ADAPTER|VERDICT`: a verdict again, from its records alone, and the
per-example table behind it (`--csv`): where the fine-tune wins and loses."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from evalgate.cli.output import EXIT_PASS, EXIT_REJECT, add_project_option, console, shown
from evalgate.errors import ConfigError


def _verdict_path(project, given: Path) -> Path:
    if given.is_file():
        return given
    import json

    from evalgate.gate.run import gate_dir
    from evalgate.train.manifest import find_manifest

    manifest = json.loads(find_manifest(given).read_text(encoding="utf-8"))
    path = gate_dir(project, str(manifest["run_id"])) / "report.json"
    if not path.is_file():
        raise ConfigError(f"no verdict for adapter run {manifest['run_id']}", path=path,
                          fix=f"run `evalgate gate {given}` first")
    return path


def run(args: argparse.Namespace) -> int:
    from evalgate.gate.decide import load_verdict
    from evalgate.project import load_project
    from evalgate.report.examples import example_frame, outcome_counts
    from evalgate.report.gate_console import render_verdict
    from evalgate.util.files import atomic_write_text

    project = load_project(args.project)
    path = _verdict_path(project, Path(args.target))
    verdict = load_verdict(path)
    console.print(render_verdict(verdict))
    frame = example_frame(verdict, project.root)
    counts = outcome_counts(frame)
    table = Table(title="per example: candidate against the best baseline", title_justify="left",
                  header_style="bold")
    for column in ("suite", "criterion", "wins", "losses", "ties"):
        table.add_column(column, justify="left" if column in ("suite", "criterion") else "right")
    for row in counts.itertuples(index=False):
        table.add_row(row.suite, row.criterion, str(row.win), str(row.loss), str(row.tie))
    console.print(table)
    if args.csv:
        atomic_write_text(args.csv, frame.to_csv(index=False))
        console.print(f"[dim]per-example table[/] {shown(args.csv)} ({len(frame):,} rows)")
    return EXIT_PASS if verdict.promoted else EXIT_REJECT


def register(commands) -> None:
    parser = commands.add_parser(
        "report", help="show a verdict again and its per-example wins and losses (--csv)")
    parser.add_argument("target", metavar="ADAPTER|VERDICT",
                        help="an adapter run folder (its latest verdict) or a report.json")
    parser.add_argument("--csv", type=Path, default=None, metavar="FILE",
                        help="write one row per suite, criterion and example")
    add_project_option(parser)
    parser.set_defaults(handler=run)
