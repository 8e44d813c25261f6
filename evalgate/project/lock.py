"""`evalgate.lock`: the criteria as they stood before any training, committed with the project.

A training manifest proves that an adapter trained by `evalgate train` was judged by the suites
that existed when it was trained. A candidate evalgate did not train (a PEFT adapter from
another tool, a fine-tuned endpoint) has no such manifest; the lock takes its place. It holds
every suite's config, data and criteria hashes and every baseline's file hash, with the time
it was written, and is meant to be committed before training starts. Gating an external
candidate requires a lock and refuses suites that no longer match it (the same "criteria
changed" check as for trained adapters, `evalgate.checks.provenance`); the verdict records that
the candidate's training time cannot be verified, and names the lock's time and hash as the
provenance (with the commit that added the lock, when git knows it).

    {"format": 1, "created_at": "…", "evalgate_version": "…",
     "suites": {name: {path, config_sha256, data_sha256, criteria: {name: fingerprint}}},
     "baselines": {name: {path, sha256}}}

The lock's own hash is the sha256 of the file as written.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate import __version__
from evalgate.errors import ConfigError
from evalgate.util.clock import utc_now
from evalgate.util.files import atomic_write_text, sha256_file
from evalgate.util.paths import display_path

LOCK_FILE = "evalgate.lock"
LOCK_FORMAT = 1


@dataclass(frozen=True)
class Lock:
    path: Path
    sha256: str
    created_at: str
    suites: dict[str, Any]
    baselines: dict[str, Any]

    def provenance(self, root: Path) -> dict[str, Any]:
        """What a verdict records of the lock: where, which, when, and the commit that added
        it (None outside git or when it is not committed)."""
        return {"path": display_path(self.path, root), "sha256": self.sha256,
                "created_at": self.created_at, "committed": _first_commit(self.path)}


def lock_path(project: Any) -> Path:
    return project.root / LOCK_FILE


def lock_content(project: Any, suites: Sequence[Any]) -> dict[str, Any]:
    """What the lock holds for the project as it is now (the time is added when written)."""
    from evalgate.train.manifest import suite_fingerprints

    return {"suites": suite_fingerprints(suites, project.root),
            "baselines": {path.stem: {"path": display_path(path, project.root),
                                      "sha256": sha256_file(path)}
                          for path in project.baseline_paths if path.is_file()}}


def write_lock(project: Any, suites: Sequence[Any]) -> Lock:
    content = {"format": LOCK_FORMAT, "created_at": utc_now(), "evalgate_version": __version__,
               **lock_content(project, suites)}
    path = lock_path(project)
    atomic_write_text(path, json.dumps(content, indent=2, sort_keys=False) + "\n")
    return load_lock(project)  # type: ignore[return-value]


def load_lock(project: Any) -> Lock | None:
    """The project's lock, or None when there is none; an unreadable lock is a ConfigError."""
    path = lock_path(project)
    if not path.is_file():
        return None
    fix = "restore it from git, or write it again with `evalgate lock --update`"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        version = int(raw.get("format", 0))
        if version != LOCK_FORMAT:
            raise ConfigError(f"lock format {version} is not one this evalgate reads "
                              f"({LOCK_FORMAT})", path=path, key="format", fix=fix)
        return Lock(path=path, sha256=sha256_file(path), created_at=str(raw["created_at"]),
                    suites=dict(raw["suites"]), baselines=dict(raw.get("baselines") or {}))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"not a readable evalgate.lock: {exc!r}", path=path, fix=fix) from exc


def require_lock(project: Any, why: str) -> Lock:
    lock = load_lock(project)
    if lock is None:
        raise ConfigError(
            f"no {LOCK_FILE}: {why}", path=lock_path(project),
            fix="write the criteria down before training: run `evalgate lock` and commit "
                f"{LOCK_FILE} (its time and hash are the candidate's provenance)")
    return lock


def lock_changes(lock: Lock, project: Any, suites: Sequence[Any]) -> list[str]:
    """Every way the suites differ from the lock, in plain words (criteria_fixed's check)."""
    from evalgate.checks.provenance import changed_criteria

    return changed_criteria(lock, list(suites))


def baseline_changes(lock: Lock, project: Any) -> list[str]:
    """Baselines added, removed or edited since the lock: told, not refused (a stronger
    baseline only raises the bar; the report shows the change either way)."""
    now = lock_content(project, [])["baselines"]
    changes = [f"baseline '{name}' was added after the lock" for name in sorted(now)
               if name not in lock.baselines]
    changes += [f"baseline '{name}' was removed since the lock" for name in sorted(lock.baselines)
                if name not in now]
    changes += [f"baseline '{name}' changed since the lock" for name in sorted(now)
                if name in lock.baselines and lock.baselines[name].get("sha256")
                != now[name]["sha256"]]
    return changes


def _first_commit(path: Path) -> dict[str, str] | None:
    """The commit that added the lock as it is now ({commit, date}), if git has it."""
    try:
        out = subprocess.run(
            ["git", "-C", str(path.parent), "log", "-1", "--format=%H %cI", "--", path.name],
            capture_output=True, text=True, timeout=20, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path.parent), "status", "--porcelain", "--", path.name],
            capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not out or dirty:
        return None
    commit, date = out.split(" ", 1)
    return {"commit": commit, "date": date}
