"""The SQLite cache migrates what earlier releases wrote and refuses what later ones wrote."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from evalgate.cli.main import main
from evalgate.errors import ConfigError
from evalgate.eval import migrations
from evalgate.eval.cache import APPLICATION_ID, Cache, CachedGeneration
from tests.helpers import write_project

ALL = [function.__name__ for function in migrations.MIGRATIONS]  # m001_initial, m002_…

# The first release's Cache.open, statement by statement: meta.schema = 1, no migrations table,
# user_version left at 0.
FIRST_RELEASE_SCHEMA = """
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


def write_first_release_cache(path: Path, generations=(), scores=(), schema: str = "1") -> None:
    """A cache file exactly as evalgate's first release created it (schema `schema`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 60000")
    db.execute("PRAGMA application_id").fetchone()
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("BEGIN IMMEDIATE")
    for statement in FIRST_RELEASE_SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("INSERT INTO meta VALUES ('schema', ?)", (schema,))
    db.executemany("INSERT INTO generations (key, output, prompt_tokens, new_tokens, "
                   "finish_reason, created_at) VALUES (?,?,?,?,?,?)", generations)
    db.executemany("INSERT INTO scores VALUES (?,?,?)", scores)
    db.execute("COMMIT")
    db.close()


def _table(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


@pytest.fixture()
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_project(tmp_path, str(tiny_model_dir))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path


def test_first_release_cache_is_migrated_and_its_rows_still_hit(project: Path, capsys):
    cache = project / ".evalgate" / "cache.sqlite"
    assert main(["eval"]) == 1
    capsys.readouterr()
    generations = _table(cache, "SELECT key, output, prompt_tokens, new_tokens, finish_reason, "
                                "created_at FROM generations ORDER BY key")
    scores = _table(cache, "SELECT * FROM scores ORDER BY 1, 2")
    assert len(generations) == 6 and len(scores) == 12
    cache.unlink()
    write_first_release_cache(cache, generations, scores)
    assert _table(cache, "PRAGMA user_version") == [(0,)]

    assert main(["eval"]) == 1
    out = capsys.readouterr().out
    assert "6 hits / 0 misses" in out and "all cached" in out
    assert [name for name, in _table(cache, "SELECT name FROM _evalgate_migrations")] == ALL
    assert _table(cache, "SELECT value FROM meta WHERE key = 'schema'") == [(str(len(ALL)),)]
    assert _table(cache, "PRAGMA application_id") == [(APPLICATION_ID,)]
    assert _table(cache, "SELECT key, output, prompt_tokens, new_tokens, finish_reason, "
                         "created_at FROM generations ORDER BY key") == generations


def test_a_later_migration_runs_once_on_an_old_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "cache.sqlite"
    write_first_release_cache(path, [("k1", "out", 10, 3, "eos", "2025-01-01T00:00:00.000Z")])
    calls = []

    def add_seconds(db: sqlite3.Connection) -> None:
        calls.append(1)
        db.execute("ALTER TABLE generations ADD COLUMN seconds REAL")

    later = f"m{len(ALL) + 1:03d}_add_seconds"
    add_seconds.__name__ = later
    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))
    migrations.migration(add_seconds)
    for _ in range(2):
        with Cache.open(path) as cache:
            assert cache.get_generations(["k1"]) == {"k1": CachedGeneration("out", 10, 3, "eos")}
    assert calls == [1]
    assert [name for name, in _table(path, "SELECT name FROM _evalgate_migrations")] == [
        *ALL, later]
    assert _table(path, "SELECT value FROM meta WHERE key = 'schema'") == [(str(len(ALL) + 1),)]
    assert "seconds" in [row[1] for row in _table(path, "PRAGMA table_info(generations)")]


def test_a_new_file_gets_every_migration(tmp_path: Path):
    path = tmp_path / "cache.sqlite"
    Cache.open(path).close()
    assert _table(path, "SELECT name FROM _evalgate_migrations") == [(n,) for n in ALL]
    assert _table(path, "SELECT value FROM meta") == [(str(len(ALL)),)]


def test_migrations_are_numbered_in_order():
    def m007_skips_ahead(db: sqlite3.Connection) -> None:
        pass

    with pytest.raises(ValueError, match=f"must be named m{len(ALL) + 1:03d}_"):
        migrations.migration(m007_skips_ahead)
    assert len(migrations.MIGRATIONS) == migrations.latest_version() == len(ALL)


def _newer_by_version(path: Path) -> None:
    write_first_release_cache(path, schema=str(len(ALL) + 1))


def _newer_by_migration(path: Path) -> None:
    Cache.open(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO _evalgate_migrations (name) VALUES ('m002_from_the_future')")
    db.commit()
    db.close()


@pytest.mark.parametrize("write, detail", [
    (_newer_by_version,
     f"cache schema {len(ALL) + 1}; this evalgate reads schemas up to {len(ALL)}"),
    (_newer_by_migration, "migrations this evalgate does not know: m002_from_the_future"),
])
def test_cache_from_a_newer_evalgate_is_refused_untouched(project: Path, capsys, write, detail):
    cache = project / ".evalgate" / "cache.sqlite"
    write(cache)
    before = cache.read_bytes()
    assert main(["eval"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err
    assert ".evalgate/cache.sqlite [cache]: this cache was written by a newer evalgate" in err
    assert detail in err
    assert "fix: upgrade evalgate to the release that wrote this file (or later)" in err
    assert cache.read_bytes() == before
    assert not (project / "reports").exists()


def test_newer_cache_refused_by_the_api_too(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    _newer_by_version(path)
    with pytest.raises(ConfigError, match="newer evalgate"):
        Cache.open(path)


def test_measurements_round_trip_and_survive_reopening(tmp_path: Path):
    path = tmp_path / "cache.sqlite"
    with Cache.open(path) as cache:
        cache.put_measurements("choice_logprobs", [("q1", [-1.5, -2.0, -0.25, -3.0])])
    with Cache.open(path) as cache:
        assert cache.get_measurements(["q1", "q2"]) == {"q1": [-1.5, -2.0, -0.25, -3.0]}
