"""Does requirements.lock still satisfy pyproject.toml?

setup.sh installs the lock, not pyproject.toml's ranges, so a range changed in pyproject.toml
and never re-locked would silently go untested. This check runs in setup (and so in CI) and
in the test suite: every requirement of the project and of the extras the lock was made for
must have a pin in the lock inside its range, on every Python the lock covers. torch is pinned
by the lock's `# torch==` line (setup.sh installs it first). Exit 0 when it holds, 2 with each
unmet requirement and the fix when it does not.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKED_EXTRAS = ("dev", "dense")
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
TORCH_LINE = re.compile(r"^# torch==(\S+)")


def python_environment(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0"}


def read_pins(lock_text: str) -> list[tuple[str, Version, Marker | None]]:
    """(name, version, marker) for each `name==version ; marker` line, and torch's line."""
    pins = []
    for line in lock_text.splitlines():
        if match := TORCH_LINE.match(line):
            pins.append(("torch", Version(match.group(1)), None))
        elif match := PIN.match(line):
            name, version, marker = match.groups()
            pins.append((canonicalize_name(name), Version(version), Marker(marker) if marker else None))
    return pins


def requirements(pyproject: dict) -> list[Requirement]:
    project = pyproject["project"]
    found = [Requirement(text) for text in project["dependencies"]]
    for extra in LOCKED_EXTRAS:
        found += [Requirement(text) for text in project["optional-dependencies"][extra]]
    return found


def unmet(pyproject: dict, lock_text: str) -> list[str]:
    """One line per requirement the lock does not satisfy, on the Python where it fails."""
    pins = read_pins(lock_text)
    problems = []
    for python in PYTHONS:
        env = python_environment(python)
        here = {
            name: version for name, version, marker in pins
            if marker is None or marker.evaluate(env)
        }
        for requirement in requirements(pyproject):
            if requirement.marker is not None and not requirement.marker.evaluate(env):
                continue
            name = canonicalize_name(requirement.name)
            version = here.get(name)
            if version is None:
                problems.append(f"{requirement} (Python {python}): not in the lock")
            elif not requirement.specifier.contains(version, prereleases=True):
                problems.append(f"{requirement} (Python {python}): the lock pins {version}")
    return sorted(set(problems))


def main() -> int:
    lock = ROOT / "requirements.lock"
    if not lock.exists():
        print("requirements.lock is missing: run `make lock`", file=sys.stderr)
        return 2
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    problems = unmet(pyproject, lock.read_text(encoding="utf-8"))
    if problems:
        print("requirements.lock no longer satisfies pyproject.toml:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("fix: run `make lock` and commit requirements.lock", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
