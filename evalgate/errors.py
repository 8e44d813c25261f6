"""The one exception family evalgate raises on purpose, and the exit code each maps to.

    EvalgateError            base: message says what happened and what to change
    ├── ConfigError          bad input or configuration (a file, a key, a line)   → exit 2
    └── RunError             a run failed: model, endpoint, training, cache I/O    → exit 3

    EvalgateWarning          worth knowing, changes nothing: the run carries on (a UserWarning;
                             the CLI prints it as `warning: …`)

A verdict that rejects is not an error: the CLI returns 1 for it without raising.
"""

from __future__ import annotations

import os
from pathlib import Path


class EvalgateError(Exception):
    """Base class. `exit_code` is what the CLI returns when this reaches it."""

    exit_code = 3


class ConfigError(EvalgateError):
    """Bad input: names the file (and the key or line) and the fix."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, key: str | None = None,
                 line: int | None = None, fix: str | None = None) -> None:
        # normpath: "training/../suites/x.yaml" reads as "suites/x.yaml"
        self.path = os.path.normpath(str(path)) if path is not None else None
        self.message = message
        self.key = key
        self.line = line
        self.fix = fix
        where = self.path or ""
        if line is not None:
            where += f":{line}"
        if key:
            where += f" [{key}]" if where else f"[{key}]"
        text = f"{where}: {message}" if where else message
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)


class RunError(EvalgateError):
    """A run failed for a reason that is not the user's input (model, endpoint, I/O)."""

    exit_code = 3


class EvalgateWarning(UserWarning):
    """Something the user should know that is not bad input (bad input is a ConfigError)."""
