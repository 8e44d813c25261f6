"""`evalgate pin`: update data pins after an intended change, and say what changed."""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from evalgate.cli.output import EXIT_PASS, EXIT_REJECT, add_project_option, console
from evalgate.util.paths import display_path


def run(args: argparse.Namespace) -> int:
    from evalgate.project.config import load_project
    from evalgate.project.pins import project_pins, update_pins

    project = load_project(args.project)
    pins = project_pins(project)
    changed = [] if args.dry_run else update_pins(pins)
    table = Table(title="data pins", title_justify="left", header_style="bold")
    for column in ("config", "key", "data", "rows", "pin"):
        table.add_column(column, no_wrap=column != "pin")
    for pin in pins:
        if not pin.changed:
            state = Text(f"unchanged {pin.actual[:12]}", style="dim")
        elif pin.pinned is None:
            state = Text(f"set to {pin.actual[:12]} (was not pinned)", style="yellow")
        else:
            state = Text(f"{pin.pinned[:12]} → {pin.actual[:12]} (the file changed)",
                         style="bold yellow")
        table.add_row(display_path(pin.config, project.root), pin.key,
                      display_path(pin.data, project.root), str(pin.rows), state)
    console.print(table)
    pending = [pin for pin in pins if pin.changed]
    if args.dry_run:
        console.print(f"{len(pending)} pin(s) would change; nothing written (--dry-run)")
        return EXIT_PASS if not pending else EXIT_REJECT
    if changed:
        console.print(f"[bold]{len(changed)} pin(s) updated.[/] Results on the old data no "
                      "longer compare with new runs, and an adapter trained before this change "
                      "will be gated with its criteria flagged as changed.", highlight=False)
    else:
        console.print("every pin is up to date")
    return EXIT_PASS


def register(commands) -> None:
    parser = commands.add_parser(
        "pin", help="update data pins (sha256) after an intended change, and say what changed")
    parser.add_argument("--dry-run", action="store_true",
                     help="only show what would change (exit 1 if a pin is out of date)")
    add_project_option(parser)
    parser.set_defaults(handler=run)
