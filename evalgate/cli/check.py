"""`evalgate check`: validate every file, key, path, pin, template field and reference of a
project without loading model weights (the tokenizer measures prompts); every problem in
one pass."""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from evalgate.cli.output import (
    EXIT_CONFIG,
    EXIT_PASS,
    add_project_option,
    console,
    err_console,
    shown,
)
from evalgate.util.paths import display_path


def run(args: argparse.Namespace) -> int:
    from evalgate.project.check import check_project
    from evalgate.project.config import load_project

    project = load_project(args.project)
    findings = check_project(project)
    table = Table(title=f"evalgate check: {shown(project.path)}", title_justify="left",
                  header_style="bold")
    for column in ("file", "kind", "result"):
        table.add_column(column, no_wrap=column != "result")
    for finding in findings:
        result = (Text(finding.summary, style="green") if finding.ok
                  else Text(f"error: {finding.summary}", style="red") if finding.repeated
                  else Text("error (below)", style="bold red"))
        table.add_row(display_path(finding.path, project.root), finding.what, result)
    console.print(table)
    problems = [f for f in findings if not f.ok]
    for finding in (f for f in problems if f.error is not None):
        err_console.print("[bold red]error:[/] ", end="", highlight=False)
        err_console.print(str(finding.error), markup=False, highlight=False, soft_wrap=True)
    if problems:
        return EXIT_CONFIG
    console.print(f"[bold green]ok:[/] {len(findings)} files checked; no model weights were loaded")
    return EXIT_PASS


def register(commands) -> None:
    parser = commands.add_parser(
        "check", help="validate every file, key, path, pin, template field and reference "
                      "without loading a model")
    add_project_option(parser)
    parser.set_defaults(handler=run)
