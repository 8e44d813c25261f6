"""What every command shares: the consoles it prints through, the exit codes, and how a path
is shown. Lower layers never print through these: they return values that `evalgate.report`
renders, and raise `EvalgateError`s that `main` turns into messages and exit codes."""

from __future__ import annotations

from pathlib import Path

from evalgate.util.paths import display_path
from evalgate.util.terminal import make_console

console = make_console()
err_console = make_console(stderr=True)

# The CI contract (README, "Exit codes").
EXIT_PASS, EXIT_REJECT, EXIT_CONFIG, EXIT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

PROJECT_HELP = "evalgate.yaml or its folder (default: nearest one at or above this folder)"


def shown(path: Path | str) -> str:
    """A path as the user should read it: relative to the current folder when inside it."""
    return display_path(path)


def say(text: str) -> None:
    """A dim note on stderr (what the command is doing on the user's behalf)."""
    err_console.print(f"[dim]{text}[/]")


def add_project_option(parser) -> None:
    parser.add_argument("--project", type=Path, default=None, metavar="PATH", help=PROJECT_HELP)


def add_candidate_arguments(parser) -> None:
    """CANDIDATE and --system, the same for `gate` and `promote` (evalgate.gate.candidate)."""
    parser.add_argument("adapter", metavar="CANDIDATE",
                        help="a training run folder (adapters/<run-id>), a PEFT adapter folder "
                             "with --system, or a system YAML (adapter or endpoint)")
    parser.add_argument("--system", metavar="FILE", default=None,
                        help="for an adapter evalgate did not train: the system YAML it is "
                             "served with (needs evalgate.lock)")


def candidate_system_path(args) -> Path | None:
    return Path(args.system) if args.system else None
