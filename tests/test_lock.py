"""requirements.lock, the one set of versions setup installs, still satisfies pyproject.toml
(the check setup and CI run), and that check can fail."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _check_lock():
    spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pyproject() -> dict:
    return _check_lock().tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_lock_satisfies_pyproject_on_every_python():
    check = _check_lock()
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert check.unmet(_pyproject(), lock) == []
    pins = {name for name, _, _ in check.read_pins(lock)}
    assert {"torch", "transformers", "trl", "peft", "bitsandbytes", "pytest"} <= pins
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_lock.py")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_a_range_the_lock_does_not_meet_is_named_with_the_fix():
    check = _check_lock()
    pyproject = _pyproject()
    dependencies = pyproject["project"]["dependencies"]
    [transformers] = [d for d in dependencies if d.startswith("transformers")]
    dependencies[dependencies.index(transformers)] = "transformers>=99"
    dependencies.append("a-package-nobody-locked>=1")
    problems = check.unmet(pyproject, (ROOT / "requirements.lock").read_text(encoding="utf-8"))
    assert any(p.startswith("transformers>=99 (Python 3.10): the lock pins ") for p in problems)
    assert "a-package-nobody-locked>=1 (Python 3.13): not in the lock" in problems


def test_every_locked_line_carries_a_hash():
    lines = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    pinned = [i for i, line in enumerate(lines) if "==" in line and not line.startswith("#")]
    assert pinned
    for i in pinned:
        assert lines[i + 1].strip().startswith("--hash=sha256:"), lines[i]
