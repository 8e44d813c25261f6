"""SQLite store of per-example outputs and scores: never recompute an unchanged run.

A generation is keyed by everything that can change it (model weights identity, adapter hash,
dtype, quantization, system config, rendered prompt, generation parameters, engine version);
a score by the generation key and the criterion's hash. WAL mode plus short write transactions
let two runs share one file. The schema migrates forward (`migrations.py`): a cache an earlier
evalgate wrote keeps its outputs. A file that is not an evalgate cache, is damaged, or was
written by a newer evalgate is refused and left as it is: the error names it and says to move
it away (it only holds outputs, which are generated again).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from evalgate.errors import ConfigError, RunError
from evalgate.eval import migrations

APPLICATION_ID = 0x45474154  # "EGAT": marks the file as ours
SCHEMA_VERSION = migrations.latest_version()

# Primary result codes (the low byte of an extended code) that mean the file itself is bad.
_SQLITE_CORRUPT, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 14, 26


@dataclass(frozen=True)
class CachedGeneration:
    output: str
    prompt_tokens: int
    new_tokens: int
    finish_reason: str


class Cache:
    """One SQLite file. Open with `Cache.open(path)`; use as a context manager."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path) -> Cache:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the cache folder {path.parent}: "
                              f"{exc.strerror or exc}", path=path, key="cache",
                              fix="point `cache:` in evalgate.yaml at a writable folder") from exc
        existed = path.exists() and path.stat().st_size > 0
        connection: sqlite3.Connection | None = None
        try:
            connection = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            connection.execute("PRAGMA busy_timeout = 60000")
            if existed:
                _refuse_unless_usable(connection, path)  # reads only: a refused file is untouched
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            try:
                migrations.migrate(connection)
                if connection.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            except BaseException:
                _rollback(connection)
                raise
            connection.execute("COMMIT")
        except migrations.NewerSchemaError as exc:  # another process upgraded it meanwhile
            connection.close()
            raise _newer(path, str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            if connection is not None:
                connection.close()
            _fail(path, exc, "open")
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        return cls(path, connection)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_generations(self, keys: Sequence[str]) -> dict[str, CachedGeneration]:
        found: dict[str, CachedGeneration] = {}
        try:
            for chunk in _chunks(list(dict.fromkeys(keys)), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT key, output, prompt_tokens, new_tokens, finish_reason "
                    f"FROM generations WHERE key IN ({marks})", chunk)
                for key, output, prompt_tokens, new_tokens, finish in rows:
                    found[key] = CachedGeneration(output, prompt_tokens, new_tokens, finish)
        except sqlite3.DatabaseError as exc:
            _fail(self.path, exc, "read")
        return found

    def put_generations(self, items: Iterable[tuple[str, CachedGeneration]]) -> None:
        rows = [(k, g.output, g.prompt_tokens, g.new_tokens, g.finish_reason) for k, g in items]
        self._write("INSERT OR REPLACE INTO generations "
                    "(key, output, prompt_tokens, new_tokens, finish_reason) VALUES (?,?,?,?,?)",
                    rows)

    def get_scores(self, criterion_key: str, generation_keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        try:
            for chunk in _chunks(list(dict.fromkeys(generation_keys)), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    "SELECT generation_key, score FROM scores WHERE criterion_key = ? "
                    f"AND generation_key IN ({marks})", [criterion_key, *chunk])
                for key, score in rows:
                    found[key] = json.loads(score)
        except sqlite3.DatabaseError as exc:
            _fail(self.path, exc, "read")
        except ValueError as exc:  # a score row that is not JSON: written by something else
            raise _corrupt(self.path, f"a stored score is not JSON: {exc}") from exc
        return found

    def put_scores(self, criterion_key: str, items: Iterable[tuple[str, Any]]) -> None:
        rows = [(key, criterion_key, json.dumps(score, sort_keys=True)) for key, score in items]
        self._write("INSERT OR REPLACE INTO scores (generation_key, criterion_key, score) "
                    "VALUES (?,?,?)", rows)

    def get_measurements(self, keys: Sequence[str]) -> dict[str, Any]:
        """Stored measurements (JSON values) by key; keys not stored are absent."""
        found: dict[str, Any] = {}
        try:
            for chunk in _chunks(list(dict.fromkeys(keys)), 500):
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM measurements WHERE key IN ({marks})", chunk)
                for key, value in rows:
                    found[key] = json.loads(value)
        except sqlite3.DatabaseError as exc:
            _fail(self.path, exc, "read")
        except ValueError as exc:
            raise _corrupt(self.path, f"a stored measurement is not JSON: {exc}") from exc
        return found

    def put_measurements(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        rows = [(key, kind, json.dumps(value)) for key, value in items]
        self._write("INSERT OR REPLACE INTO measurements (key, kind, value) VALUES (?,?,?)",
                    rows)

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One short IMMEDIATE transaction: all rows land or none do."""
        if not rows:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                _rollback(self._db)
                raise
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _rollback(self._db)  # a failed COMMIT leaves the transaction open
            _fail(self.path, exc, "write to")


def _rollback(connection: sqlite3.Connection) -> None:
    """Undo the open transaction, if the error left one: the first error is the one to report."""
    try:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _refuse_unless_usable(connection: sqlite3.Connection, path: Path) -> None:
    """Refuse an existing file that is not ours, is damaged anywhere (not only in the first
    pages read here) or comes from a newer evalgate, before anything is written to it."""
    if connection.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        raise ConfigError(
            "this file is an SQLite database but not an evalgate cache", path=path,
            key="cache", fix="point `cache:` in evalgate.yaml at another file")
    problems = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
    if problems != ["ok"]:  # e.g. "*** in database main ***\nPage 3: btreeInitPage() …"
        lines = [line for problem in problems for line in problem.splitlines()
                 if line.strip() and not line.startswith("***")]
        raise _corrupt(path, "integrity check: " + "; ".join(lines)[:300])
    newer = migrations.newer_than_known(connection)
    if newer is not None:
        raise _newer(path, newer)


def _corrupt(path: Path, detail: str) -> ConfigError:
    return ConfigError(
        f"cache file is corrupt or not a database ({detail})", path=path, key="cache",
        fix=f"move {path} away (or delete it): it only holds cached outputs, which the next run "
            "generates again; or point `cache:` in evalgate.yaml at another file")


def _newer(path: Path, detail: str) -> ConfigError:
    return ConfigError(
        f"this cache was written by a newer evalgate ({detail})", path=path, key="cache",
        fix="upgrade evalgate to the release that wrote this file (or later), or point `cache:` "
            "in evalgate.yaml at another file (this one is left as it is)")


def _fail(path: Path, exc: sqlite3.DatabaseError, doing: str) -> NoReturn:
    """A damaged or unopenable file is bad input (exit 2); anything else (disk full, locked
    past the timeout, read-only) is a failed run."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    primary = code & 0xFF if code is not None else None
    text = str(exc)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "Could not decode to UTF-8" in text or (
            primary is None and ("malformed" in text or "not a database" in text)):
        raise _corrupt(path, text) from exc
    if primary == _SQLITE_CANTOPEN or (primary is None and "unable to open" in text):
        raise ConfigError(f"cannot open the cache file ({text})", path=path, key="cache",
                          fix="point `cache:` in evalgate.yaml at a file in a writable "
                              "folder") from exc
    raise RunError(f"cannot {doing} cache {path}: {text}") from exc


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
