"""`evalgate registry list | show | rollback`: what is promoted, verified, and moving back."""

from __future__ import annotations

import argparse
import json

from evalgate.cli.output import EXIT_PASS, add_project_option, console, shown


def run(args: argparse.Namespace) -> int:
    from evalgate.gate.verdict import Verdict
    from evalgate.project import load_project
    from evalgate.registry import REGISTRY_DIR, Registry
    from evalgate.report.gate_console import render_verdict
    from evalgate.report.registry import candidate_text, render_registry

    project = load_project(args.project)
    registry = Registry(project.root / REGISTRY_DIR)
    if args.registry_command == "list":
        console.print(render_registry(registry))
        return EXIT_PASS
    if args.registry_command == "show":
        entry = registry.load(args.name, args.ref)
        verdict = Verdict.from_json(json.loads(
            (entry.path / "verdict.json").read_text(encoding="utf-8")))
        console.print(f"[bold]{entry.name} {entry.version}[/] — all {len(entry.info['files'])} "
                      f"files match their hashes · {shown(entry.path)}")
        console.print(render_verdict(verdict))
        return EXIT_PASS
    entry = registry.rollback(args.name, args.alias, args.to)
    console.print(f"[bold]{args.name}:{args.alias}[/] → {entry.version} "
                  f"({candidate_text(entry.info)})")
    return EXIT_PASS


def register(commands) -> None:
    parser = commands.add_parser("registry", help="list, show or roll back promoted adapters")
    add_project_option(parser)
    sub = parser.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="every name, version and alias")
    show = sub.add_parser("show", help="one entry (hashes verified) and its verdict")
    show.add_argument("name")
    show.add_argument("ref", nargs="?", default="production", help="version (v3) or alias")
    rollback = sub.add_parser("rollback", help="move an alias back to its previous version")
    rollback.add_argument("name")
    rollback.add_argument("--alias", default="production")
    rollback.add_argument("--to", default=None, metavar="VERSION")
    parser.set_defaults(handler=run)
