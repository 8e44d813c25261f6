"""The `evalgate` command. Exit codes: 0 pass · 1 a criterion did not pass · 2 bad input or
configuration · 3 a run failed."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from evalgate import __version__
from evalgate.errors import ConfigError, EvalgateError
from evalgate.util.terminal import make_console

console = make_console()
err_console = make_console(stderr=True)

EXIT_PASS, EXIT_REJECT, EXIT_CONFIG, EXIT_RUN = 0, 1, 2, 3


def _cmd_eval(args: argparse.Namespace) -> int:
    from evalgate.eval.run import ModelPool, evaluate
    from evalgate.project.config import load_project
    from evalgate.suite.load import load_suite
    from evalgate.systems.prompting import load_system
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
        console.print(outcome.record)
        console.print(f"[dim]run record[/] {_relative(outcome.path)}")
    return EXIT_PASS if all(o.record.passed for o in outcomes) else EXIT_REJECT


def _cmd_baseline(args: argparse.Namespace) -> int:
    from evalgate.eval.baselines import plan_baselines, run_baselines
    from evalgate.eval.run import ModelPool
    from evalgate.project.config import load_project
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    plan = plan_baselines(project)
    with make_progress() as progress:
        record, path, runs = run_baselines(project, plan, ModelPool(project, progress), progress)
    if args.verbose:
        for run, _ in runs.values():
            console.print()
            console.print(run)
    console.print()
    console.print(record)
    hits = sum(r.stats["cache_hits"] for r, _ in runs.values())
    total = sum(r.suite["n"] for r, _ in runs.values())
    console.print(f"[dim]cache[/] {hits} of {total} examples cached · "
                  f"[dim]baseline record[/] {_relative(path)}")
    return EXIT_PASS


def _cmd_train(args: argparse.Namespace) -> int:
    from evalgate.project.config import load_project
    from evalgate.train import Interrupted, execute, plan_run, training_configs
    from evalgate.util.progress import make_progress

    project = load_project(args.project)
    if args.resume and args.restart:
        raise ConfigError("--resume and --restart contradict each other",
                          fix="--resume continues an unfinished run, --restart discards it")
    paths = training_configs(project, [Path(p) for p in args.config])
    # Every guard of every config runs before any model loads or any file is written.
    plans = [plan_run(path, project) for path in paths]
    outcomes = []
    try:
        with make_progress() as progress:
            for plan in plans:
                outcomes.append(execute(plan, resume=args.resume, restart=args.restart,
                                        progress=progress))
    except Interrupted as stop:
        err_console.print(f"[bold yellow]interrupted:[/] {stop}; continue with "
                          "`evalgate train --resume`")
        return 130
    for outcome in outcomes:
        console.print()
        console.print(outcome)
        console.print(f"[dim]manifest[/] {_relative(outcome.plan.run_dir / 'manifest.json')}")
    return EXIT_PASS


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalgate",
        description="Decide with statistics whether a fine-tune beats its cheap baselines.",
        epilog="exit codes: 0 pass · 1 a criterion did not pass · 2 bad input · 3 run failed")
    parser.add_argument("--version", action="version", version=f"evalgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_eval = commands.add_parser("eval", help="evaluate systems on suites and print criteria")
    run_eval.add_argument("--suite", action="append", default=[], metavar="FILE",
                          help="suite YAML (repeatable; default: the project's suites)")
    run_eval.add_argument("--system", action="append", default=[], metavar="FILE",
                          help="system YAML (repeatable; default: the project's baselines)")
    run_eval.add_argument("--project", type=Path, default=None, metavar="FILE",
                          help="evalgate.yaml (default: nearest one at or above this folder)")
    run_eval.set_defaults(handler=_cmd_eval)

    baseline = commands.add_parser(
        "baseline", help="evaluate every baseline on every suite; record the best per criterion")
    baseline.add_argument("--project", type=Path, default=None, metavar="FILE",
                          help="evalgate.yaml (default: nearest one at or above this folder)")
    baseline.add_argument("-v", "--verbose", action="store_true",
                          help="also print each run's own table")
    baseline.set_defaults(handler=_cmd_baseline)

    train = commands.add_parser(
        "train", help="train LoRA adapters (SFT, then DPO) from training/*.yaml into adapters/")
    train.add_argument("config", nargs="*", metavar="CONFIG",
                       help="training YAML (default: every training/*.yaml of the project)")
    train.add_argument("--resume", action="store_true",
                       help="continue an unfinished run from its last checkpoint")
    train.add_argument("--restart", action="store_true",
                       help="discard an existing run folder of this config and train again")
    train.add_argument("--project", type=Path, default=None, metavar="FILE",
                       help="evalgate.yaml (default: nearest one at or above this folder)")
    train.set_defaults(handler=_cmd_train)

    from evalgate.cli.gate import register as register_gate_commands

    register_gate_commands(commands)  # gate, promote, registry, run
    from evalgate.cli.project import register as register_project_commands

    register_project_commands(commands)  # init, pin, check
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except EvalgateError as exc:
        kind = "error" if isinstance(exc, ConfigError) else "run failed"
        err_console.print(f"[bold red]{kind}:[/] ", end="", highlight=False)
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[bold red]interrupted:[/] outputs already generated are in the cache; "
                          "run the command again to continue from them")
        return 130
    except Exception:  # noqa: BLE001 - a crash is a failed run, never a silent pass
        err_console.print("[bold red]run failed (unexpected error):[/]")
        err_console.print(traceback.format_exc(), markup=False, highlight=False)
        return EXIT_RUN


if __name__ == "__main__":
    sys.exit(main())
