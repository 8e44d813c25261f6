"""Files evalgate writes are CI artifacts: they get 0666 less the umask, like any tool's output,
not the 0600 that tempfile.mkstemp gives the temporary file behind an atomic write."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evalgate.cli.main import main
from evalgate.util.files import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    current_umask,
    default_mode,
)
from tests.helpers import write_project


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path: Path, mask: int, expected: int):
    with umask(mask):
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        atomic_write_text(tmp_path / "b.txt", "x")
        atomic_write_json(tmp_path / "sub" / "c.json", {"x": 1})
    for name in ("a.bin", "b.txt", "sub/c.json"):
        assert _mode(tmp_path / name) == expected, name
    assert not list(tmp_path.rglob("*.tmp"))


def test_rewriting_a_private_file_gives_the_umask_mode(tmp_path: Path):
    target = tmp_path / "manifest.json"
    target.write_text("{}")
    target.chmod(0o600)
    with umask(0o022):
        atomic_write_json(target, {"x": 2})
    assert _mode(target) == 0o644 and target.read_text() == '{\n  "x": 2\n}\n'


def test_default_mode_reads_the_umask_without_changing_it():
    with umask(0o027):
        assert current_umask() == 0o027
        assert default_mode() == 0o640 and default_mode(directory=True) == 0o750
        assert os.umask(0o027) == 0o027  # still what was set


def test_run_record_written_by_the_cli_is_readable_by_the_group(tmp_path: Path,
                                                                tiny_model_dir: Path,
                                                                monkeypatch: pytest.MonkeyPatch):
    write_project(tmp_path, str(tiny_model_dir))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    with umask(0o027):
        assert main(["eval"]) == 1  # the random tiny model fails; the record is written anyway
    [record] = sorted((tmp_path / "reports").rglob("*.json"))
    assert _mode(record) == 0o640


def test_converted_model_folder_gets_the_umask_mode(tmp_path: Path, monkeypatch):
    """mkdtemp makes the conversion folder 0700; the model cache is an ordinary folder."""
    from evalgate.models import resolve

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF fake")
    monkeypatch.setattr(resolve, "_convert_into",
                        lambda source, out: (out / "config.json").write_text("{}"))
    cache = tmp_path / "cache"
    with umask(0o027):
        folder = resolve.convert_gguf(gguf, resolve.cached_sha256(gguf, cache), name="fake",
                                      cache_dir=cache, progress=None)
    assert _mode(folder) == 0o750
    assert _mode(folder / resolve.SOURCE_FILE) == 0o640
