"""`evalgate promote ADAPTER`: copy an adapter with a PROMOTE verdict into the registry."""

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
    err_console,
    shown,
)


def promote_and_say(project, adapter: Path, alias: str, name: str | None = None,
                    verdict: Path | None = None, system: Path | None = None) -> int:
    """Promote, and say what happened: the registry entry, or why the verdict refuses it."""
    from evalgate.gate.promote import NotPromotable, promote
    from evalgate.report.common import blocking

    try:
        entry = promote(project, adapter, alias=alias, name=name, verdict_path=verdict,
                        system=system)
    except NotPromotable as refused:
        reasons = blocking(refused.verdict)
        err_console.print(f"[bold red]not promoted:[/] {refused}: " + "; ".join(reasons[:3]),
                          highlight=False)
        return EXIT_REJECT
    from evalgate.report.registry import candidate_text

    console.print(f"[bold green]promoted[/] {entry.name} {entry.version} → alias "
                  f"[bold]{alias}[/] ({shown(entry.path)}; {candidate_text(entry.info)})")
    return EXIT_PASS


def run(args: argparse.Namespace) -> int:
    from evalgate.project import load_project

    project = load_project(args.project)
    return promote_and_say(project, Path(args.adapter), args.alias, args.name,
                           Path(args.verdict) if args.verdict else None,
                           candidate_system_path(args))


def register(commands) -> None:
    parser = commands.add_parser(
        "promote", help="copy a candidate with a PROMOTE verdict into registry/ and move an "
                        "alias (an endpoint is registered by reference)")
    add_candidate_arguments(parser)
    parser.add_argument("--alias", default="production")
    parser.add_argument("--name", default=None, help="registry name (default: the run's name)")
    parser.add_argument("--verdict", default=None, metavar="FILE",
                        help="verdict (default: reports/gate/<run-id>/report.json)")
    add_project_option(parser)
    parser.set_defaults(handler=run)
