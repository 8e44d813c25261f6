"""Suite kinds: what a suite measures, each a module plus an entry in `SUITE_KINDS`.

    task    held-out examples, an input template and criteria on the outputs (exact match,
            JSON Schema, contains), compared with the best baseline (the default kind)

A suite file names its kind with `kind:` (omitted: `task`). Later kinds (capability regression
against the base model, membership-inference leakage, pairwise judges) register here with the
loader that reads their own keys; an unknown kind is an error naming the known ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.util.yamlio import read_yaml

DEFAULT_KIND = "task"


@dataclass(frozen=True)
class SuiteKind:
    name: str
    description: str
    load: Callable[[Path, dict[str, Any]], Any]  # (suite file, its YAML without `kind`) → Suite


SUITE_KINDS: dict[str, SuiteKind] = {}


def register_kind(kind: SuiteKind) -> SuiteKind:
    if kind.name in SUITE_KINDS:
        raise ValueError(f"suite kind '{kind.name}' is registered twice")
    SUITE_KINDS[kind.name] = kind
    return kind


def suite_kind(path: Path, raw: dict[str, Any]) -> SuiteKind:
    """The kind a suite file names (default: task); unknown kinds are a ConfigError."""
    _register_builtin()
    name = raw.get("kind", DEFAULT_KIND)
    if name not in SUITE_KINDS:
        known = ", ".join(f"{k} ({v.description})" for k, v in SUITE_KINDS.items())
        raise ConfigError(f"unknown suite kind '{name}'", path=path, key="kind",
                          fix=f"use one of: {known}")
    return SUITE_KINDS[name]


def load_any_suite(path: Path):
    """Read a suite file of any registered kind."""
    raw = read_yaml(Path(path))
    kind = suite_kind(Path(path), raw)
    # The kind is not part of the kind's own config (nor of its hash): `kind: task` written
    # out and left to the default are the same suite.
    return kind.load(Path(path), {k: v for k, v in raw.items() if k != "kind"})


def _register_builtin() -> None:
    if DEFAULT_KIND in SUITE_KINDS:
        return
    from evalgate.suite.load import load_task_suite

    register_kind(SuiteKind(DEFAULT_KIND, "held-out examples scored by criteria",
                            load_task_suite))
