"""Showing paths to people: relative to a root (the project, or the current folder) where the
path lies inside it, as given otherwise."""

from __future__ import annotations

from pathlib import Path


def display_path(path: str | Path, root: str | Path | None = None) -> str:
    """`path` relative to `root` (default: the current folder) when inside it, else as is."""
    base = Path(root).resolve() if root is not None else Path.cwd().resolve()
    try:
        return str(Path(path).resolve().relative_to(base))
    except ValueError:
        return str(path)
