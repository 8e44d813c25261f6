"""Where evalgate's output goes: a terminal gets rich as it is; a pipe, file or CI log gets a wide
console, so tables keep every criterion and system name whole instead of folding them to fit
rich's 80-column default for non-terminals.

Every console evalgate prints through is made by `make_console`, so this is the one place that
decides "terminal or not" (`make_progress` asks the console it is given).
"""

from __future__ import annotations

import os
from typing import IO

from rich.console import Console

PLAIN_WIDTH = 200  # wide enough for a gate table with four systems, without wrapping names


def plain_width() -> int:
    """Width for output that is not a terminal: `COLUMNS` when set to a number, else 200."""
    columns = os.environ.get("COLUMNS", "").strip()
    return int(columns) if columns.isdigit() and int(columns) > 0 else PLAIN_WIDTH


def make_console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    """A rich Console on stdout (or stderr, or `file`); wide, and not wrapping plain text lines,
    when it does not write to a TTY.

    Without `file` the console follows sys.stdout/sys.stderr as rich does; the width is chosen
    from what the stream is when the console is made.
    """
    console = Console(stderr=stderr, file=file)
    if not console.is_terminal:
        console.width = plain_width()
        console.soft_wrap = True  # a long message stays one line in a log (tables still fit)
    return console
