"""The registry: promoted adapters with their manifest and verdict, aliases, and an audit log.

    registry/
      audit.jsonl                    one JSON line per promotion or rollback (when, who, hashes)
      <name>/<version>/              v1, v2, …: adapter/, manifest.json, verdict.json, entry.json
      <name>/aliases/<alias>.json    {"version": …, "history": […]}: moved atomically

Every change holds an exclusive `fcntl.flock` on the folder that holds `registry/` (the
project root), so two promotions at once are serialised, never interleaved, and no lock file is
left behind. A refused or failed change leaves the registry exactly as it was: folders it
created are removed again. A version folder is built under a temporary name and
renamed into place; the alias file is replaced atomically (temp file, fsync, rename, fsync of
the folder) only after that, so a crash at any point leaves the previous alias intact. Names
that come from configs are checked so that no path can leave `registry/`. Loading an entry
re-hashes every file against its `entry.json`.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import shutil
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from evalgate.errors import ConfigError, RunError
from evalgate.util.clock import utc_now
from evalgate.util.files import atomic_write_json, fsync_dir, sha256_file

REGISTRY_DIR = "registry"
AUDIT_LOG = "audit.jsonl"
DEFAULT_ALIAS = "production"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


@dataclass(frozen=True)
class Entry:
    name: str
    version: str
    path: Path
    info: dict[str, Any]

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"


def safe_name(value: str, what: str) -> str:
    """A single path component that cannot escape its folder (no separators, no `..`)."""
    if not isinstance(value, str) or not SAFE_NAME.match(value) or value in (".", ".."):
        raise ConfigError(f"{what} '{value}' is not a safe name",
                          fix=f"use letters, digits, '_', '-' or '.' for the {what} (no '/', "
                              "no leading '.', at most 80 characters)")
    return value


def _inside(root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise ConfigError(f"{path} is outside the registry {root}",
                          fix="registry names must be plain names")
    return path


def who() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid {os.getuid()}"
    return user


def _now() -> str:
    return utc_now("milliseconds")


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the registry's parent folder for a whole change. Locking a
        folder that always exists (rather than a lock file inside `registry/`) means a refused
        change writes nothing at all."""
        parent = self.root.resolve().parent
        fd = os.open(parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextmanager
    def _undo_new_folders(self, name: str) -> Iterator[None]:
        """On any failure, remove the folders this change created (when they are still empty),
        so a failed promotion leaves the registry as it found it."""
        created = [path for path in (self.root, self.name_dir(name),
                                     self.name_dir(name) / "aliases") if not path.exists()]
        try:
            yield
        except BaseException:
            for path in reversed(created):
                try:
                    path.rmdir()
                except OSError:
                    pass
            raise

    # --- paths ------------------------------------------------------------------------------
    def name_dir(self, name: str) -> Path:
        return _inside(self.root, self.root / safe_name(name, "registry name"))

    def alias_path(self, name: str, alias: str) -> Path:
        return _inside(self.root, self.name_dir(name) / "aliases"
                       / f"{safe_name(alias, 'alias')}.json")

    def versions(self, name: str) -> list[str]:
        folder = self.name_dir(name)
        if not folder.is_dir():
            return []
        found = [p.name for p in folder.iterdir()
                 if p.is_dir() and re.fullmatch(r"v\d+", p.name) and (p / "entry.json").is_file()]
        return sorted(found, key=lambda v: int(v[1:]))

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and SAFE_NAME.match(p.name))

    def aliases(self, name: str) -> dict[str, dict[str, Any]]:
        folder = self.name_dir(name) / "aliases"
        if not folder.is_dir():
            return {}
        return {p.stem: json.loads(p.read_text(encoding="utf-8"))
                for p in sorted(folder.glob("*.json"))}

    def alias_target(self, name: str, alias: str) -> str | None:
        path = self.alias_path(name, alias)
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))["version"]

    # --- reading, with verification ---------------------------------------------------------
    def load(self, name: str, ref: str = DEFAULT_ALIAS) -> Entry:
        """An entry by version (v3) or alias (production); every file's hash is checked."""
        version = ref if re.fullmatch(r"v\d+", ref) else self.alias_target(name, ref)
        if version is None:
            raise ConfigError(f"registry has no alias or version '{ref}' for '{name}'",
                              fix="see `evalgate registry list`")
        path = _inside(self.root, self.name_dir(name) / version)
        entry_file = path / "entry.json"
        if not entry_file.is_file():
            raise ConfigError(f"registry has no version {version} of '{name}'",
                              fix="see `evalgate registry list`")
        info = json.loads(entry_file.read_text(encoding="utf-8"))
        bad = [rel for rel, digest in info["files"].items()
               if not (path / rel).is_file() or sha256_file(path / rel) != digest]
        extra = [str(p.relative_to(path)) for p in path.rglob("*")
                 if p.is_file() and p.name != "entry.json"
                 and str(p.relative_to(path)) not in info["files"]]
        if bad or extra:
            raise RunError(f"registry entry {name}/{version} does not match its hashes "
                           f"(changed or missing: {', '.join(bad) or '-'}; unexpected: "
                           f"{', '.join(extra) or '-'}); do not serve it")
        return Entry(name, version, path, info)

    # --- changing ---------------------------------------------------------------------------
    def promote(self, *, name: str, adapter_dir: Path | None, verdict_path: Path,
                verdict: dict[str, Any], alias: str = DEFAULT_ALIAS,
                manifest_path: Path | None = None, lock_path: Path | None = None) -> Entry:
        """Copy the adapter (by hash), its provenance (the training manifest, or evalgate.lock
        for an adapter evalgate did not train) and the verdict into a new version, or reuse the
        version that already holds this candidate, and move `alias` to it. An endpoint
        candidate has no files: it is registered by reference (base URL and model id, in
        entry.json and the verdict). The caller has checked the verdict."""
        safe_name(name, "registry name")
        safe_name(alias, "alias")
        identity = candidate_identity(verdict)
        with self.locked(), self._undo_new_folders(name):
            existing = next((v for v in self.versions(name)
                             if _identity_of(self.entry_info(name, v)) == identity), None)
            if existing is None:
                existing = self._add_version(name, adapter_dir, manifest_path, lock_path,
                                             verdict_path, verdict, identity)
            previous = self.alias_target(name, alias)
            move_alias(self, name, alias, existing)
            entry = self.load(name, existing)
            candidate = verdict.get("candidate") or {"kind": "trained"}
            self._audit({"action": "promote", "name": name, "version": existing,
                         "alias": alias, "previous": previous,
                         "kind": candidate.get("kind", "trained"),
                         "adapter_sha256": verdict["adapter"].get("sha256"),
                         "endpoint": candidate.get("endpoint"),
                         "manifest_sha256": verdict["manifest"].get("sha256"),
                         "lock_sha256": (candidate.get("provenance") or {}).get("sha256"),
                         "verdict_sha256": entry.info["files"]["verdict.json"],
                         "decision": verdict["decision"],
                         "allow_changed_criteria": verdict.get("allow_changed_criteria", False),
                         "run_id": verdict["adapter"].get("run_id") or verdict.get(
                             "candidate", {}).get("name")})
        return entry

    def rollback(self, name: str, alias: str = DEFAULT_ALIAS, to: str | None = None) -> Entry:
        """Move `alias` back to the version it pointed at before (or to `to`)."""
        with self.locked():
            path = self.alias_path(name, alias)
            if not path.is_file():
                raise ConfigError(f"'{name}' has no alias '{alias}'",
                                  fix="see `evalgate registry list`")
            current = json.loads(path.read_text(encoding="utf-8"))
            if to is None:
                history = [v for v in current.get("history", []) if v != current["version"]]
                if not history:
                    raise ConfigError(f"alias {name}:{alias} has no earlier version to roll "
                                      "back to", fix="pass --to VERSION")
                to = history[-1]
            entry = self.load(name, to)  # verifies hashes before anything moves
            move_alias(self, name, alias, entry.version, rollback=True)
            self._audit({"action": "rollback", "name": name, "version": entry.version,
                         "alias": alias, "previous": current["version"],
                         "kind": entry.info.get("kind", "trained"),
                         "adapter_sha256": entry.info.get("adapter_sha256"),
                         "endpoint": entry.info.get("endpoint"),
                         "manifest_sha256": entry.info["files"].get("manifest.json"),
                         "verdict_sha256": entry.info["files"].get("verdict.json"),
                         "decision": entry.info.get("decision")})
        return entry

    def audit_entries(self) -> list[dict[str, Any]]:
        path = self.root / AUDIT_LOG
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]

    # --- internals --------------------------------------------------------------------------
    def entry_info(self, name: str, version: str) -> dict[str, Any]:
        return json.loads((self.name_dir(name) / version / "entry.json").read_text("utf-8"))

    def _add_version(self, name: str, adapter_dir: Path | None, manifest_path: Path | None,
                     lock_path: Path | None, verdict_path: Path, verdict: dict[str, Any],
                     identity: str) -> str:
        folder = self.name_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.name[1:]) for p in folder.iterdir() if re.fullmatch(r"v\d+", p.name)]
        version = f"v{max(numbers, default=0) + 1}"
        staging = folder / f".staging-{uuid.uuid4().hex}"
        expected: dict[str, str] = verdict["adapter"].get("files") or {}
        candidate = verdict.get("candidate") or {"kind": "trained"}
        try:
            staging.mkdir(parents=True)
            if adapter_dir is not None:
                # Exactly the files the verdict names (the gated adapter), nothing left beside
                # them (a trainer's stage figures live in the manifest), each checked after the
                # copy.
                (staging / "adapter").mkdir()
                for file_name in sorted(expected):
                    safe_name(file_name, "adapter file")
                    if not (adapter_dir / file_name).is_file():
                        raise RunError(f"adapter file {adapter_dir / file_name} is missing; "
                                       "re-run `evalgate gate` on the adapter")
                    shutil.copy2(adapter_dir / file_name, staging / "adapter" / file_name)
            if manifest_path is not None:
                shutil.copy2(manifest_path, staging / "manifest.json")
            if lock_path is not None:
                shutil.copy2(lock_path, staging / "evalgate.lock")
            shutil.copy2(verdict_path, staging / "verdict.json")
            files = {str(p.relative_to(staging)): sha256_file(p)
                     for p in sorted(staging.rglob("*")) if p.is_file()}
            copied = {k.split("/", 1)[1]: v for k, v in files.items() if k.startswith("adapter/")}
            if copied != expected:
                changed = sorted(k for k in expected if copied.get(k) != expected[k])
                raise RunError("the adapter changed while it was being copied into the registry "
                               f"({', '.join(changed)} no longer match the verdict's hashes); "
                               "re-run `evalgate gate` on it")
            atomic_write_json(staging / "entry.json", {
                "name": name, "version": version, "created_at": _now(), "by": who(),
                "kind": candidate.get("kind", "trained"), "identity": identity,
                "adapter_sha256": verdict["adapter"].get("sha256"),
                "endpoint": candidate.get("endpoint"),
                "run_id": verdict["adapter"].get("run_id") or candidate.get("name"),
                "decision": verdict["decision"], "files": files})
            for path in [*staging.rglob("*")]:
                if path.is_file():
                    _fsync_file(path)
            os.rename(staging, folder / version)  # atomic: the version appears whole
            fsync_dir(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return version

    def _audit(self, event: dict[str, Any]) -> None:
        line = json.dumps({"when": _now(), "who": who(), "host": socket.gethostname(), **event},
                          ensure_ascii=False, sort_keys=True) + "\n"
        fd = os.open(self.root / AUDIT_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def candidate_identity(verdict: dict[str, Any]) -> str:
    """What makes two promotions the same candidate: the adapter's hash, or for an endpoint
    its base URL and model id."""
    from evalgate.util.files import sha256_json

    adapter = verdict["adapter"].get("sha256")
    if adapter:
        return adapter
    endpoint = (verdict.get("candidate") or {}).get("endpoint")
    if not endpoint:
        raise ConfigError("the verdict names neither an adapter nor an endpoint",
                          fix="re-run `evalgate gate`")
    return "endpoint:" + sha256_json(endpoint)


def _identity_of(info: dict[str, Any]) -> str | None:
    return info.get("identity") or info.get("adapter_sha256")


def move_alias(registry: Registry, name: str, alias: str, version: str,
               rollback: bool = False) -> None:
    """Point `alias` at `version`: a whole new alias file replaces the old one atomically."""
    path = registry.alias_path(name, alias)
    history: list[str] = []
    if path.is_file():
        history = json.loads(path.read_text(encoding="utf-8")).get("history", [])
    if rollback and version in history:
        history = history[:history.index(version) + 1]
    elif not history or history[-1] != version:
        history = [*history, version]
    atomic_write_json(path, {"name": name, "alias": alias, "version": version,
                             "moved_at": _now(), "by": who(), "history": history})


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
