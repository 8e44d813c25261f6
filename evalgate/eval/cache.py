"""SQLite store of per-example outputs and scores: never recompute an unchanged run.

A generation is keyed by everything that can change it (model weights identity, adapter hash,
dtype, quantization, system config, rendered prompt, generation parameters, engine version);
a score by the generation key and the criterion's hash. WAL mode plus short write transactions
let two runs share one file; a file that is not an evalgate cache is refused, never modified.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError, RunError

APPLICATION_ID = 0x45474154  # "EGAT": marks the file as ours
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    output TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    new_tokens INTEGER NOT NULL,
    finish_reason TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS scores (
    generation_key TEXT NOT NULL,
    criterion_key TEXT NOT NULL,
    score TEXT NOT NULL,
    PRIMARY KEY (generation_key, criterion_key)
);
"""


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
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists() and path.stat().st_size > 0
        try:
            connection = sqlite3.connect(path, timeout=60.0, isolation_level=None)
            connection.execute("PRAGMA busy_timeout = 60000")
            app_id = connection.execute("PRAGMA application_id").fetchone()[0]
            if existed and app_id != APPLICATION_ID:
                connection.close()
                raise ConfigError(
                    "this file is an SQLite database but not an evalgate cache", path=path,
                    key="cache", fix="point `cache:` in evalgate.yaml at another file")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"cache file is corrupt or not a database ({exc})", path=path, key="cache",
                fix="delete the file (it only holds cached outputs) or point `cache:` "
                    "elsewhere") from exc
        try:
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            row = connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                connection.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                connection.execute("ROLLBACK")
                raise ConfigError(
                    f"cache schema {row[0]} is not the supported {SCHEMA_VERSION}", path=path,
                    key="cache", fix="delete the file or use the evalgate version that wrote it")
            connection.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise RunError(f"cannot initialise cache {path}: {exc}") from exc
        return cls(path, connection)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_generations(self, keys: Sequence[str]) -> dict[str, CachedGeneration]:
        found: dict[str, CachedGeneration] = {}
        for chunk in _chunks(list(dict.fromkeys(keys)), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT key, output, prompt_tokens, new_tokens, finish_reason FROM generations "
                f"WHERE key IN ({marks})", chunk)
            for key, output, prompt_tokens, new_tokens, finish in rows:
                found[key] = CachedGeneration(output, prompt_tokens, new_tokens, finish)
        return found

    def put_generations(self, items: Iterable[tuple[str, CachedGeneration]]) -> None:
        rows = [(k, g.output, g.prompt_tokens, g.new_tokens, g.finish_reason) for k, g in items]
        self._write("INSERT OR REPLACE INTO generations "
                    "(key, output, prompt_tokens, new_tokens, finish_reason) VALUES (?,?,?,?,?)",
                    rows)

    def get_scores(self, criterion_key: str, generation_keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for chunk in _chunks(list(dict.fromkeys(generation_keys)), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT generation_key, score FROM scores WHERE criterion_key = ? "
                f"AND generation_key IN ({marks})", [criterion_key, *chunk])
            for key, score in rows:
                found[key] = json.loads(score)
        return found

    def put_scores(self, criterion_key: str, items: Iterable[tuple[str, Any]]) -> None:
        rows = [(key, criterion_key, json.dumps(score, sort_keys=True)) for key, score in items]
        self._write("INSERT OR REPLACE INTO scores (generation_key, criterion_key, score) "
                    "VALUES (?,?,?)", rows)

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One short IMMEDIATE transaction: all rows land or none do."""
        if not rows:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise RunError(f"cannot write to cache {self.path}: {exc}") from exc


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
