"""`pytest suites/`: every evalgate suite YAML becomes test items, one per criterion check.

    pytest suites/ --evalgate-candidate adapters/<run-id>     # or a system YAML
                   [--evalgate-system baselines/prompt.yaml]  # with a PEFT adapter folder
                   [--evalgate-baseline best | few_shot | baselines/few_shot.yaml]
                   [--evalgate-project evalgate.yaml] [--junitxml report.xml]

The candidate is what `evalgate gate` takes (evalgate.gate.candidate): a training run folder, a
PEFT adapter folder trained by another tool with `--evalgate-system`, or a system YAML (an
adapter or an endpoint serving a fine-tune); the last two are judged against evalgate.lock, as
the gate judges them. A system YAML with neither adapter nor endpoint (a prompt recipe) may be
a candidate too: its gate-wide items skip, having no training to check.

`--evalgate-baseline` takes `best`, the `name:` of one of the project's baselines (those listed
in evalgate.yaml) or the path of a system YAML. A bad option value (an unknown name, a missing
file, a candidate that is neither an adapter run nor a system) is a usage error raised at
collection (pytest exits with code 4 and says what to pass), never a row of failed tests.

A YAML file is a suite when it has `criteria:` and either `data:` or a `kind:` (capability,
leakage and judge suites name their kind and may have no `data:`). Every registered check (evalgate.checks) that applies to a
criterion is an item, and every gate-wide check (criteria fixed before training) one more per
suite file; the gate's own orchestration decides them (evalgate.gate.run.judge), so pytest and
`evalgate gate` never disagree. A failure shows value, bound, interval and baseline.

Registered under the `pytest11` entry point. It imports nothing heavy at start-up and does
nothing for runs that collect no suite file; without --evalgate-candidate suite items skip.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

SUFFIXES = (".yaml", ".yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalgate", "evalgate suites as tests")
    group.addoption("--evalgate-candidate", default=None, metavar="PATH",
                    help="a training run folder (adapters/<run-id>), a PEFT adapter folder "
                         "with --evalgate-system, or a system YAML (adapter or endpoint)")
    group.addoption("--evalgate-system", default=None, metavar="FILE",
                    help="for an adapter evalgate did not train: the system YAML it is served "
                         "with (needs evalgate.lock, as `evalgate gate --system`)")
    group.addoption("--evalgate-baseline", default="best", metavar="best|NAME|PATH",
                    help="`best` (per criterion, from reports/baseline.json; refreshed if "
                         "stale), the name of one of the project's baselines, or a system YAML")
    group.addoption("--evalgate-project", default=None, metavar="FILE",
                    help="evalgate.yaml (default: the nearest one above the suite)")


def _is_suite(path: Path) -> bool:
    if path.suffix not in SUFFIXES or path.name == "evalgate.yaml":
        return False
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "criteria" in data and ("data" in data or "kind" in data)


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if _is_suite(Path(file_path)):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


class Session:
    """Per pytest session: the project, candidate, baseline and each suite's checks (computed
    once per suite, on its first item)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.checks: dict[str, Any] = {}
        self._project = None
        self._pool = None
        self._candidate = None
        self._baseline = None

    def option(self, name: str) -> Any:
        return self.config.getoption(name)

    def project(self, near: Path):
        if self._project is None:
            from evalgate.project.config import load_project

            given = self.option("evalgate_project")
            self._project = load_project(Path(given) if given else None, start=near.parent)
        return self._project

    def pool(self, project):
        if self._pool is None:
            from evalgate.eval.run import ModelPool

            self._pool = ModelPool(project)
        return self._pool

    def candidate(self, project):
        """The Candidate named by --evalgate-candidate (and --evalgate-system); a bad value
        is a UsageError."""
        if self._candidate is None:
            self._candidate = _resolve_candidate(self.option("evalgate_candidate"),
                                                 self.option("evalgate_system"), project,
                                                 self.config.invocation_params.dir)
        return self._candidate

    def baseline(self, project):
        """The system named by --evalgate-baseline, or None for `best`."""
        if self._baseline is None:
            self._baseline = (_resolve_baseline(self.option("evalgate_baseline"), project,
                                                self.config.invocation_params.dir),)
        return self._baseline[0]

    def validate(self, near: Path) -> None:
        """Resolve the options before any item runs: a bad value stops the session."""
        from evalgate.errors import EvalgateError

        candidate = self.option("evalgate_candidate")
        given_baseline = self.option("evalgate_baseline") != "best"
        if not candidate and not given_baseline:
            return
        try:
            project = self.project(near)
        except EvalgateError as exc:
            raise pytest.UsageError(f"evalgate: cannot load the project for {near}: {exc}"
                                    ) from exc
        if given_baseline:
            self.baseline(project)
        if candidate:
            self.candidate(project)

    def suite_checks(self, suite_path: Path) -> dict[tuple[str, str], Any]:
        key = str(suite_path.resolve())
        if key not in self.checks:
            self.checks[key] = self._compute(suite_path)
        return self.checks[key]

    def _compute(self, suite_path: Path) -> dict[tuple[str, str], Any]:
        from evalgate.errors import ConfigError
        from evalgate.gate.run import gate_checks, judge
        from evalgate.suite import load_suite

        project = self.project(suite_path)
        suite = load_suite(suite_path)
        candidate = self.candidate(project)
        results: dict[tuple[str, str], Any] = {}
        try:
            for check in gate_checks(candidate.manifest, [suite], allow_changed_criteria=False,
                                     partial=True, lock=candidate.lock):
                results[(GATE, check.kind)] = check
        except ConfigError as refused:  # that item fails with the reason; the others still run
            from evalgate.checks import GATE_CHECKS

            results.update({(GATE, kind): refused for kind in GATE_CHECKS})
        judged = judge(project, candidate.system, [suite], pool=self.pool(project),
                       baseline=self.baseline(project), say=lambda text: None)
        results.update({(c.criterion, c.kind): c for c in judged.checks})
        return results


def _session(config: pytest.Config) -> Session:
    session = getattr(config, "_evalgate_session", None)
    if session is None:
        session = Session(config)
        config._evalgate_session = session
    return session


def _option_error(option: str, value: str, problem: str, fix: str) -> pytest.UsageError:
    return pytest.UsageError(f"{option} {value!r}: {problem}\n  fix: {fix}")


def _given_path(value: str, invocation_dir: Path, project) -> Path:
    """A relative path is relative to where pytest was started, else to the project root."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    here = invocation_dir / path
    return here if here.exists() or not (project.root / path).exists() else project.root / path


def _resolve_baseline(value: str, project, invocation_dir: Path):
    """`best` → None; a baseline name from evalgate.yaml or a system YAML → that system."""
    from evalgate.errors import ConfigError
    from evalgate.systems.prompting import load_system

    if value == "best":
        return None
    option = "--evalgate-baseline"
    try:
        systems = [load_system(path) for path in project.baseline_paths]
    except ConfigError as exc:
        raise _option_error(option, value, f"cannot read the project's baselines: {exc}",
                            f"fix the baseline files listed in {project.path}") from exc
    by_name = {system.name: system for system in systems}
    if value in by_name:
        return by_name[value]
    known = f"known baselines ({project.path.name}): {', '.join(by_name) or 'none'}"
    fix = (f"pass `best` (the best baseline per criterion), a baseline name (e.g. {option} "
           f"{next(iter(by_name), 'prompt')}) or the path of a system YAML")
    path = _given_path(value, invocation_dir, project)
    if not path.is_file():
        looks_like_path = path.suffix in SUFFIXES or "/" in value or os.sep in value
        problem = ("no such file" if looks_like_path else
                   "no baseline has this name, and it is no file either")
        raise _option_error(option, value, f"{problem} ({path}); {known}", fix)
    try:
        return load_system(path)
    except ConfigError as exc:
        raise _option_error(option, value, f"not a system YAML: {exc}; {known}", fix) from exc


def _resolve_candidate(value: str, system_value: str | None, project, invocation_dir: Path):
    """What `evalgate gate` would judge (evalgate.gate.candidate.resolve_candidate), or a plain
    system YAML (a prompt recipe, no adapter and no endpoint) → a Candidate."""
    from evalgate.errors import ConfigError
    from evalgate.gate.candidate import Candidate, resolve_candidate
    from evalgate.systems.prompting import load_system

    option = "--evalgate-candidate"
    fix = ("pass the run folder `evalgate train` wrote (adapters/<run-id>), a PEFT adapter "
           "folder with --evalgate-system SYSTEM.yaml, or the path of a system YAML")
    path = _given_path(value, invocation_dir, project)
    if not path.exists():
        raise _option_error(option, value, f"no such file or folder ({path})", fix)
    system_path = None
    if system_value:
        system_path = _given_path(system_value, invocation_dir, project)
        if not system_path.is_file():
            raise _option_error("--evalgate-system", system_value,
                                f"no such file ({system_path})",
                                "pass the system YAML the adapter is served with")
    try:
        if path.suffix in SUFFIXES and system_path is None:
            system = load_system(path)
            if system.adapter_path is None and system.config.backend.kind == "local":
                return Candidate("system", system, system.name)
        return resolve_candidate(project, path, system_path)
    except ConfigError as exc:
        # The gate's messages name its own option; here it is spelled --evalgate-system.
        problem = re.sub(r"(?<![\w-])--system\b", "--evalgate-system", str(exc))
        raise _option_error(option, value, problem, fix) from exc


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    suite_items = [item for item in items if isinstance(item, CheckItem)]
    if suite_items:
        _session(config).validate(suite_items[0].path)


GATE = "(gate)"  # the criterion name of gate-wide items (one per suite file)


class SuiteFile(pytest.File):
    def collect(self):
        from evalgate.checks import CRITERION_CHECKS, GATE_CHECKS
        from evalgate.gate.decide import criterion_spec
        from evalgate.suite.kinds import read_suite_config

        config = read_suite_config(self.path)
        for criterion in config.criteria:
            spec = criterion_spec(config.name, criterion)
            for kind, check in CRITERION_CHECKS.items():
                if check.applies(spec):
                    yield CheckItem.from_parent(self, name=f"{criterion.name}[{kind}]",
                                                criterion=criterion.name, kind=kind)
        for kind in GATE_CHECKS:
            yield CheckItem.from_parent(self, name=kind, criterion=GATE, kind=kind)


class CheckFailed(Exception):
    def __init__(self, check: Any) -> None:
        from evalgate.report.wording import reason

        super().__init__(reason(check))
        self.check = check


class CheckItem(pytest.Item):
    def __init__(self, *, criterion: str, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.criterion = criterion
        self.kind = kind
        self.add_marker("evalgate")

    def runtest(self) -> None:
        session = _session(self.config)
        if not session.option("evalgate_candidate"):
            pytest.skip("no candidate: pass --evalgate-candidate adapters/<run-id> (or a "
                        "system YAML)")
        check = session.suite_checks(self.path).get((self.criterion, self.kind))
        if check is None:
            pytest.skip(f"{self.kind}: not applicable to this candidate (no training manifest)")
        if isinstance(check, Exception):
            raise check
        if check.status != "PASS":  # Status is a str enum
            raise CheckFailed(check)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            from evalgate.report.common import check_details

            check = excinfo.value.check
            return "\n".join([f"{check.status}: {check.suite}/{check.criterion} "
                              f"[{check.kind} {check.bound_text}]", f"  {excinfo.value}",
                              "  " + check_details(check).replace(" · ", "\n  ")])
        from evalgate.errors import EvalgateError

        if isinstance(excinfo.value, EvalgateError):
            return f"evalgate error: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"evalgate: {self.name}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "evalgate: an evalgate suite criterion check")


def pytest_report_header(config: pytest.Config, start_path: Path) -> list[str] | None:
    candidate = config.getoption("evalgate_candidate", default=None)
    if not candidate:
        return None
    try:
        session = _session(config)
        project = session.project(Path(start_path) / "x")
        from evalgate.eval.baselines import load_suites

        candidate = session.candidate(project)
        system, manifest = candidate.system, candidate.manifest
        model = system.config.model or project.config.model.base
        if manifest is not None:
            adapter = (f"{manifest.name} ({manifest.stage}, run {manifest.run_id[:12]}, sha256 "
                       f"{manifest.adapter_sha256[:12]})")
        elif candidate.kind == "endpoint":
            backend = system.config.backend
            adapter = f"endpoint {backend.model} at {backend.base_url} (system {system.name})"
        elif candidate.adapter_sha256:
            adapter = (f"{system.adapter_path.name} (not trained by evalgate, sha256 "
                       f"{candidate.adapter_sha256[:12]}, system {system.name})")
        else:
            adapter = f"none (system {system.name})"
        if candidate.lock is not None:
            adapter += f" · criteria from evalgate.lock {candidate.lock.sha256[:12]}"
        suites = ", ".join(f"{s.name} {s.config_sha256[:12]}" for s in load_suites(project))
    except pytest.UsageError:
        return None  # a bad option value: collection stops with the full message
    except Exception as exc:  # noqa: BLE001 - a header must never break collection
        return [f"evalgate: cannot describe the candidate: {exc}"]
    return [f"evalgate: model {model} · adapter {adapter}",
            f"evalgate: baseline {config.getoption('evalgate_baseline')} · suites {suites}"]
