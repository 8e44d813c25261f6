"""Schema migrations of the SQLite output cache, in the pattern of simonw/llm's `migrations.py`.

Each `@migration` function moves the schema one step; `migrate` runs the pending ones in order,
inside the transaction that opens the cache, and records each name in `_evalgate_migrations`.
A schema change is a new function at the end of this file, never an edit of an old one: a cache
an earlier release wrote is brought forward with its outputs, not refused.

`meta.schema` holds the number of the newest migration applied. The first release wrote `1`
there and had no migrations table: such a file has had `m001_initial` applied. A number above
the newest migration known here, or an applied name not known here, means a newer evalgate
wrote the file; `newer_than_known` says so before anything is written, and the file is refused
as it is.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []
_TABLE = "_evalgate_migrations"
_NAME = re.compile(r"^m(\d{3})_\w+$")


def migration(function: Migration) -> Migration:
    """Register the next migration; its name `mNNN_what` must carry the next number."""
    match = _NAME.match(function.__name__)
    if match is None or int(match.group(1)) != len(MIGRATIONS) + 1:
        raise ValueError(f"migration {function.__name__} must be named "
                         f"m{len(MIGRATIONS) + 1:03d}_<what it does>")
    MIGRATIONS.append(function)
    return function


def latest_version() -> int:
    """The schema this evalgate writes: the number of its newest migration."""
    return len(MIGRATIONS)


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    """The first release's tables, exactly as it created them."""
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("""
        CREATE TABLE IF NOT EXISTS generations (
            key TEXT PRIMARY KEY,
            output TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            new_tokens INTEGER NOT NULL,
            finish_reason TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS scores (
            generation_key TEXT NOT NULL,
            criterion_key TEXT NOT NULL,
            score TEXT NOT NULL,
            PRIMARY KEY (generation_key, criterion_key)
        )""")


@migration
def m002_measurements(db: sqlite3.Connection) -> None:
    """Model measurements that are not generations: log-likelihoods of multiple-choice answers
    (capability suites), per-token log-probs of texts (perplexity, leakage). One JSON value per
    key; the key hashes the model, adapter, dtype, scorer and input, like a generation's."""
    db.execute("""
        CREATE TABLE IF NOT EXISTS measurements (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )""")


# -- applying them ---------------------------------------------------------------------------


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _stored_version(db: sqlite3.Connection, tables: set[str]) -> int | None:
    """`meta.schema` as a number (None: not written yet). Raises ValueError if it is not one."""
    if "meta" not in tables:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    return None if row is None else int(row[0])


def _applied(db: sqlite3.Connection, tables: set[str]) -> list[str]:
    if _TABLE not in tables:
        return []
    return [row[0] for row in db.execute(f"SELECT name FROM {_TABLE} ORDER BY rowid")]


def newer_than_known(db: sqlite3.Connection) -> str | None:
    """What marks the file as written by a newer evalgate, or None. Reads only."""
    tables = _tables(db)
    try:
        version = _stored_version(db, tables)
    except ValueError:
        return "its schema version in table `meta` is not a number"
    known = {function.__name__ for function in MIGRATIONS}
    unknown = [name for name in _applied(db, tables) if name not in known]
    if version is not None and version > latest_version():
        return f"cache schema {version}; this evalgate reads schemas up to {latest_version()}"
    if unknown:
        return f"it has migrations this evalgate does not know: {', '.join(unknown[:5])}"
    return None


class NewerSchemaError(Exception):
    """The file was written by a newer evalgate; the message says how it shows."""


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the pending migrations in order; return their names. Call inside a write
    transaction (two processes opening one new file then migrate it once, one after the other).
    """
    problem = newer_than_known(db)
    if problem is not None:
        raise NewerSchemaError(problem)
    tables = _tables(db)
    legacy = _stored_version(db, tables) if _TABLE not in tables else None
    db.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (name TEXT PRIMARY KEY, applied_at TEXT "
               "NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
    if legacy:  # written before the migrations table existed: its version says what it holds
        db.executemany(f"INSERT INTO {_TABLE} (name) VALUES (?)",
                       [(function.__name__,) for function in MIGRATIONS[:legacy]])
    done = set(_applied(db, _tables(db)))
    applied = []
    for function in MIGRATIONS:
        if function.__name__ not in done:
            function(db)
            db.execute(f"INSERT INTO {_TABLE} (name) VALUES (?)", (function.__name__,))
            applied.append(function.__name__)
    # meta exists from m001 on; older evalgates compare this number with their own.
    if _stored_version(db, _tables(db)) != latest_version():
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                   (str(latest_version()),))
    return applied
