"""The SQLite cache: round trips, refusing foreign or corrupt files, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from evalgate.errors import ConfigError
from evalgate.eval.cache import Cache, CachedGeneration


def test_round_trip_generations_and_scores(tmp_path: Path):
    with Cache.open(tmp_path / "c.sqlite") as cache:
        cache.put_generations([("k1", CachedGeneration("out", 10, 3, "eos"))])
        cache.put_scores("crit", [("k1", {"value": 1.0, "details": {}})])
    with Cache.open(tmp_path / "c.sqlite") as cache:
        assert cache.get_generations(["k1", "k2"]) == {"k1": CachedGeneration("out", 10, 3, "eos")}
        assert cache.get_scores("crit", ["k1"]) == {"k1": {"value": 1.0, "details": {}}}
        assert cache.get_scores("other", ["k1"]) == {}


def test_foreign_sqlite_file_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "app.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE users (name TEXT)")
    connection.commit()
    connection.close()
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="not an evalgate cache"):
        Cache.open(path)
    assert path.read_bytes() == before


def test_corrupt_file_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="corrupt or not a database"):
        Cache.open(path)


def _writer(path: str, worker: int, count: int) -> None:
    with Cache.open(Path(path)) as cache:
        for index in range(count):
            cache.put_generations([(f"w{worker}-{index}", CachedGeneration(f"o{index}", 1, 1, "eos"))])


def test_concurrent_writers_do_not_corrupt(tmp_path: Path):
    path = tmp_path / "c.sqlite"
    Cache.open(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), w, 100)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0
    with Cache.open(path) as cache:
        keys = [f"w{w}-{i}" for w in range(4) for i in range(100)]
        assert len(cache.get_generations(keys)) == 400
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
