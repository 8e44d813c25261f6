"""`evalgate lock`: write evalgate.lock (every suite's config, data and criteria hashes, the
baselines, the time) before training, to be committed; `--check` verifies it in CI.

A lock is not rewritten silently: when the suites differ from it, `evalgate lock` lists the
changes and refuses (exit 2) unless `--update` says the change is deliberate — candidates gated
afterwards are judged against the new lock, and git shows when it moved."""

from __future__ import annotations

import argparse

from rich.table import Table

from evalgate.cli.output import EXIT_PASS, add_project_option, console, say, shown


def run(args: argparse.Namespace) -> int:
    from evalgate.errors import ConfigError
    from evalgate.eval.baselines import load_suites
    from evalgate.project import load_project
    from evalgate.project.lock import (
        LOCK_FILE,
        baseline_changes,
        load_lock,
        lock_changes,
        lock_path,
        write_lock,
    )

    project = load_project(args.project)
    suites = load_suites(project)
    existing = load_lock(project)
    path = lock_path(project)
    if existing is not None:
        changes = lock_changes(existing, project, suites)
        notes = baseline_changes(existing, project)
        if not changes and not notes:
            say(f"{shown(path)} matches the suites and baselines (written "
                f"{existing.created_at}, sha256 {existing.sha256[:12]})")
            return EXIT_PASS
        listed = "\n  - ".join([*changes, *notes])
        if args.check or not args.update:
            raise ConfigError(
                f"the project differs from {LOCK_FILE} (written {existing.created_at}):\n  - "
                + listed, path=path,
                fix="restore the suites, or re-lock deliberately with `evalgate lock --update` "
                    "and commit it (candidates are then judged against the new lock)")
    elif args.check:
        raise ConfigError(f"no {LOCK_FILE}", path=path,
                          fix="run `evalgate lock` and commit the file before training")
    lock = write_lock(project, suites)
    table = Table(title=f"{shown(path)}", title_justify="left", header_style="bold")
    for column in ("suite", "criteria", "data", "config"):
        table.add_column(column)
    for name, entry in lock.suites.items():
        table.add_row(name, ", ".join(entry["criteria"]), str(entry["data_sha256"])[:12],
                      entry["config_sha256"][:12])
    console.print(table)
    verb = "updated" if existing is not None else "wrote"
    console.print(f"[bold]{verb}[/] {shown(path)} at {lock.created_at} (sha256 "
                  f"{lock.sha256[:12]}; {len(lock.baselines)} baseline(s)). Commit it before "
                  "training: it is the provenance of every candidate evalgate did not train.",
                  highlight=False)
    return EXIT_PASS


def register(commands) -> None:
    parser = commands.add_parser(
        "lock", help="write evalgate.lock: the suites' and criteria's hashes, fixed before "
                     "training (commit it)")
    parser.add_argument("--check", action="store_true",
                        help="only verify that the lock exists and matches (exit 2 if not)")
    parser.add_argument("--update", action="store_true",
                        help="rewrite a lock the suites no longer match (a deliberate change)")
    add_project_option(parser)
    parser.set_defaults(handler=run)
