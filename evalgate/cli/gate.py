"""The gate-side commands: `gate`, `promote`, `registry list|show|rollback` and `run` (the
whole pipeline). `evalgate.cli.main` registers them with `register(commands)`."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table
from rich.text import Text

EXIT_PASS, EXIT_REJECT, EXIT_CONFIG, EXIT_RUN = 0, 1, 2, 3


def _console():
    from evalgate.cli.main import console, err_console

    return console, err_console


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _gate(project, adapter: Path, allow: bool, progress) -> "object":
    from evalgate.gate.run import run_gate

    console, err = _console()
    return run_gate(project, adapter, allow_changed_criteria=allow, progress=progress,
                    say=lambda text: err.print(f"[dim]{text}[/]"))


def _print_gate(outcome) -> None:
    console, _ = _console()
    console.print()
    console.print(outcome.verdict)
    console.print(f"[dim]reports[/] {_rel(outcome.report_dir)}/"
                  "{report.json, report.md, report.html, junit.xml}")


def _promote(project, adapter: Path, alias: str, name: str | None,
             verdict: Path | None) -> int:
    from evalgate.gate.promote import NotPromotable, promote

    console, err = _console()
    try:
        entry = promote(project, adapter, alias=alias, name=name, verdict_path=verdict)
    except NotPromotable as refused:
        err.print(f"[bold red]not promoted:[/] {refused}", highlight=False)
        return EXIT_REJECT
    console.print(f"[bold green]promoted[/] {entry.name} {entry.version} → alias "
                  f"[bold]{alias}[/] ({_rel(entry.path)}; adapter "
                  f"{entry.info['adapter_sha256'][:12]})")
    return EXIT_PASS


def cmd_gate(args: argparse.Namespace) -> int:
    from evalgate.project.config import load_project
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    with make_progress() as progress:
        outcome = _gate(project, Path(args.adapter), args.allow_changed_criteria, progress)
    _print_gate(outcome)
    if not outcome.verdict.promoted:
        return EXIT_REJECT
    if args.promote:
        return _promote(project, Path(args.adapter), args.alias, None, None)
    return EXIT_PASS


def cmd_promote(args: argparse.Namespace) -> int:
    from evalgate.project.config import load_project

    project = load_project(args.project)
    return _promote(project, Path(args.adapter), args.alias, args.name,
                    Path(args.verdict) if args.verdict else None)


def cmd_registry(args: argparse.Namespace) -> int:
    from evalgate.project.config import load_project
    from evalgate.registry.store import REGISTRY_DIR, Registry

    console, _ = _console()
    project = load_project(args.project)
    registry = Registry(project.root / REGISTRY_DIR)
    if args.registry_command == "list":
        if not registry.names():
            console.print(f"{_rel(registry.root)}/ holds no adapter yet: only a PROMOTE verdict "
                          "puts one there (`evalgate gate ADAPTER --promote`)")
            return EXIT_PASS
        table = Table(title=f"registry: {_rel(registry.root)}/", title_justify="left",
                      header_style="bold")
        for column in ("name", "version", "aliases", "adapter", "run", "promoted"):
            table.add_column(column)
        for name in registry.names():
            aliases = registry.aliases(name)
            for version in registry.versions(name):
                info = registry._entry_info(name, version)
                here = ", ".join(a for a, v in aliases.items() if v["version"] == version)
                table.add_row(name, version, Text(here, style="bold green"),
                              info["adapter_sha256"][:12], str(info.get("run_id", ""))[:12],
                              f"{info['created_at']} by {info['by']}")
        console.print(table)
        return EXIT_PASS
    if args.registry_command == "show":
        entry = registry.load(args.name, args.ref)
        verdict = (entry.path / "verdict.json").read_text(encoding="utf-8")
        import json

        from evalgate.gate.verdict import Verdict

        console.print(f"[bold]{entry.name} {entry.version}[/] — all {len(entry.info['files'])} "
                      f"files match their hashes · {_rel(entry.path)}")
        console.print(Verdict.from_json(json.loads(verdict)))
        return EXIT_PASS
    entry = registry.rollback(args.name, args.alias, args.to)
    console.print(f"[bold]{args.name}:{args.alias}[/] → {entry.version} "
                  f"(adapter {entry.info['adapter_sha256'][:12]})")
    return EXIT_PASS


def cmd_run(args: argparse.Namespace) -> int:
    from evalgate.cli.run import run_pipeline

    return run_pipeline(args)


def register(commands) -> None:
    project_help = "evalgate.yaml (default: nearest one at or above this folder)"

    gate = commands.add_parser(
        "gate", help="evaluate a trained adapter on every suite and decide against the best "
                     "baselines (writes reports/gate/<run-id>/)")
    gate.add_argument("adapter", metavar="ADAPTER",
                      help="the training run folder (adapters/<run-id>) or its manifest.json")
    gate.add_argument("--allow-changed-criteria", action="store_true",
                      help="gate even though suites or criteria changed since training "
                           "(written into the verdict and the report)")
    gate.add_argument("--promote", action="store_true",
                      help="on PROMOTE, also copy the adapter into the registry")
    gate.add_argument("--alias", default="production", help="alias to move with --promote")
    gate.add_argument("--project", type=Path, default=None, metavar="FILE", help=project_help)
    gate.set_defaults(handler=cmd_gate)

    promote = commands.add_parser(
        "promote", help="copy an adapter with a PROMOTE verdict into registry/ and move an alias")
    promote.add_argument("adapter", metavar="ADAPTER", help="the training run folder")
    promote.add_argument("--alias", default="production")
    promote.add_argument("--name", default=None, help="registry name (default: the run's name)")
    promote.add_argument("--verdict", default=None, metavar="FILE",
                         help="verdict (default: reports/gate/<run-id>/report.json)")
    promote.add_argument("--project", type=Path, default=None, metavar="FILE", help=project_help)
    promote.set_defaults(handler=cmd_promote)

    registry = commands.add_parser("registry", help="list, show or roll back promoted adapters")
    registry.add_argument("--project", type=Path, default=None, metavar="FILE",
                          help=project_help)
    sub = registry.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="every name, version and alias")
    show = sub.add_parser("show", help="one entry (hashes verified) and its verdict")
    show.add_argument("name")
    show.add_argument("ref", nargs="?", default="production", help="version (v3) or alias")
    rollback = sub.add_parser("rollback", help="move an alias back to its previous version")
    rollback.add_argument("name")
    rollback.add_argument("--alias", default="production")
    rollback.add_argument("--to", default=None, metavar="VERSION")
    registry.set_defaults(handler=cmd_registry)

    run = commands.add_parser("run", help="the whole pipeline: baseline → train → gate → "
                                          "promote, with a closing summary")
    run.add_argument("--quick", action="store_true",
                     help="a first look: the first 60 examples of each suite, a quarter of "
                          "the training steps, reports under reports/quick/, never promoted")
    run.add_argument("--no-promote", action="store_true", help="stop after the gate")
    run.add_argument("--alias", default="production")
    run.add_argument("--project", type=Path, default=None, metavar="FILE", help=project_help)
    run.set_defaults(handler=cmd_run)
