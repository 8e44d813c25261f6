"""The manifest of a training run: everything needed to say what an adapter is and how it came
to be, written last (atomically) so that its presence means "this run finished".

It records the base model and its weights hash, the hashes of the training data, pairs and the
non-member split (and both id lists, for the leakage checks), the full resolved config and
seeds, library versions, the chat template's hash, the git commit, per-step metrics and adapter
file hashes per stage, and the hash of every suite and criterion of the project at training
time: the gate compares those with the suites it runs to prove the criteria were fixed before
the adapter was trained.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalgate import __version__
from evalgate.suite.load import Suite
from evalgate.util.files import atomic_write_json, sha256_json

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
LIBRARIES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"evalgate": __version__,
                                       "python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Path) -> dict[str, Any] | None:
    """HEAD commit and whether tracked files differ from it; None outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              check=True, timeout=20).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def suite_fingerprints(suites: Sequence[Suite], root: Path) -> dict[str, Any]:
    """Per suite: its config hash (criteria and data hash included) and each criterion's."""
    result = {}
    for suite in suites:
        try:
            shown = str(suite.path.resolve().relative_to(root))
        except ValueError:
            shown = str(suite.path)
        result[suite.name] = {"path": shown, "config_sha256": suite.config_sha256,
                              "data_sha256": suite.dataset.sha256,
                              "criteria": dict(suite.fingerprints)}
    return result


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> Path:
    path = run_dir / MANIFEST
    atomic_write_json(path, {"manifest_version": MANIFEST_VERSION, **manifest})
    return path


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def ids_sha256(ids: Sequence[str]) -> str:
    return sha256_json(list(ids))
