"""The `evalgate` parser and dispatcher: each command is a module of this package with a
`register(commands)` function; errors become messages and exit codes here, in one place.

Exit codes: 0 pass · 1 a criterion did not pass · 2 bad input or configuration · 3 a run
failed · 130 interrupted."""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence

from evalgate import __version__
from evalgate.cli import (
    baseline,
    check,
    gate,
    init,
    lock,
    pii,
    pin,
    promote,
    registry,
    report,
    train,
)
from evalgate.cli import eval as eval_command
from evalgate.cli import run as run_command
from evalgate.cli.output import EXIT_INTERRUPTED, EXIT_RUN, err_console
from evalgate.errors import ConfigError, EvalgateError, EvalgateWarning

# In the order `evalgate --help` lists them: the path a project takes.
COMMANDS = (init, check, pii, eval_command, baseline, lock, train, gate, promote, registry,
            run_command, report, pin)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evalgate",
        description="Decide with statistics whether a fine-tune beats its cheap baselines.",
        epilog="exit codes: 0 pass · 1 a criterion did not pass · 2 bad input · 3 run failed")
    parser.add_argument("--version", action="version", version=f"evalgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _warnings_as_messages():
            return args.handler(args)
    except EvalgateError as exc:
        kind = "error" if isinstance(exc, ConfigError) else "run failed"
        err_console.print(f"[bold red]{kind}:[/] ", end="", highlight=False)
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("[bold red]interrupted:[/] outputs already generated are in the cache; "
                          "run the command again to continue from them")
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - a crash is a failed run, never a silent pass
        err_console.print("[bold red]run failed (unexpected error):[/]")
        err_console.print(traceback.format_exc(), markup=False, highlight=False)
        return EXIT_RUN


@contextlib.contextmanager
def _warnings_as_messages() -> Iterator[None]:
    """evalgate's own warnings read `warning: …` on stderr, like its errors (not Python's
    `file:line: UserWarning` and a line of source); anything else shows as Python shows it.
    Only the display is swapped: the filters the libraries and `quiet_libraries` set stay."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, EvalgateWarning):
            err_console.print("[bold yellow]warning:[/] ", end="", highlight=False)
            err_console.print(str(message), markup=False, highlight=False, soft_wrap=True)
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
