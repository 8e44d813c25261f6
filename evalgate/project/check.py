"""`evalgate check`: validate a whole project without loading a model.

Every file the project names is read and checked the way the real commands read it: the
project file, each suite (keys, data pin, template fields, every example's reference against
its criteria, schemas), each baseline bound to each suite (prompt templates, few-shot pools and
their overlap with held-out data, retrieval documents), and each training config through the
same planning `evalgate train` does (pool pin, overlap guard, sequence lengths; this needs the
model's tokenizer, not its weights), each candidate system in systems/ (its adapter may not be
trained yet), and every baseline prompt of every example against the model's window by the
function `evalgate eval` runs before it generates (`on_long_input`). Unlike the real commands, which stop at the first problem,
it reports every problem it finds, one per file, so a new project is fixed in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.project.config import Project
from evalgate.suite.kinds import kind_of


@dataclass(frozen=True)
class Finding:
    """One file checked: what it is, and either a summary of it or the problem."""

    path: Path
    what: str
    summary: str = ""
    error: ConfigError | None = None
    repeated: bool = False  # fails with the very problem an earlier file reported

    @property
    def ok(self) -> bool:
        return self.error is None and not self.repeated


def check_project(project: Project) -> list[Finding]:
    from evalgate.suite.load import load_suite
    from evalgate.systems.prompting import load_system

    findings: list[Finding] = []

    def attempt(path: Path, what: str, work: Callable[[], str]) -> Any:
        try:
            findings.append(Finding(path, what, work()))
            return True
        except ConfigError as exc:
            earlier = next((f for f in findings if f.error is not None
                            and str(f.error) == str(exc)), None)
            summary = (f"same problem as {_shown(earlier.path, project)} ({earlier.what})"
                       if earlier else "")
            findings.append(Finding(path, what, summary=summary,
                                    error=None if earlier else exc,
                                    repeated=earlier is not None))
            return False

    suites = []

    def read_suite(path: Path) -> str:
        suite = load_suite(path)
        suites.append(suite)
        if hasattr(suite, "describe"):
            return suite.describe()
        kinds = ", ".join(f"{c.name} ({c.metric})" for c in suite.config.criteria)
        return f"{len(suite.dataset)} examples pinned · references checked · {kinds}"

    if not project.suite_paths:
        findings.append(Finding(project.path, "project", error=ConfigError(
            "no suite listed", path=project.path, key="suites",
            fix="list suite files under `suites:`")))
    for path in project.suite_paths:
        attempt(path, "suite", lambda path=path: read_suite(path))
    baselines = []
    for path in project.baseline_paths:
        def bind(path: Path = path) -> str:
            system = load_system(path)
            if system.config.adapter is not None:
                raise ConfigError("a baseline names an adapter", path=path, key="adapter",
                                  fix="baselines are cheap systems without an adapter; remove "
                                      "`adapter:` or move the file out of `baselines:`")
            bound = [suite for suite in suites if kind_of(suite).uses_baselines]
            for suite in bound:
                system.prepare(suite)
            baselines.append(system)
            return f"{system.config.kind} · bound to {len(bound)} suite(s)"
        attempt(path, "baseline", bind)
    for path in sorted((project.root / "systems").glob("*.yaml")):
        def bind_candidate(path: Path = path) -> str:
            system = load_system(path, require_adapter=False)
            bound = [suite for suite in suites if kind_of(suite).uses_baselines
                     and suite.name in system.config.prompts]
            for suite in bound:
                system.prepare(suite)
            adapter = system.adapter_path
            where = ""
            if adapter is not None:
                state = "present" if (adapter / "adapter_config.json").is_file() else \
                    "not trained yet"
                where = f" · adapter {_shown(adapter, project)} ({state})"
            return f"{system.config.kind} · bound to {len(bound)} suite(s){where}"
        attempt(path, "system", bind_candidate)
    pool = None
    for suite in (suite for suite in suites if kind_of(suite).uses_baselines and baselines):
        def fit(suite: Any = suite) -> str:
            nonlocal pool
            if pool is None:
                from evalgate.eval.run import ModelPool

                pool = ModelPool(project)
            return _prompts_fit(suite, baselines, pool)
        attempt(suite.path, "lengths", fit)
    def locked() -> str:
        from evalgate.project.lock import (
            LOCK_FILE,
            baseline_changes,
            load_lock,
            lock_changes,
        )

        lock = load_lock(project)
        if lock is None:
            return ("none yet: `evalgate lock` (or the first `evalgate train`) writes it; "
                    "candidates evalgate did not train need it")
        changes = lock_changes(lock, project, suites) + baseline_changes(lock, project)
        if changes:
            raise ConfigError(f"the project differs from {LOCK_FILE} (written "
                              f"{lock.created_at}):\n  - " + "\n  - ".join(changes),
                              path=lock.path, fix="restore the suites, or re-lock deliberately "
                                                  "with `evalgate lock --update`")
        return f"matches the suites and baselines (written {lock.created_at})"

    if suites and len(suites) == len(project.suite_paths):
        from evalgate.project.lock import lock_path

        attempt(lock_path(project), "lock", locked)
    training = sorted((project.root / "training").glob("*.yaml"))
    for path in training:
        def plan(path: Path = path) -> str:
            from evalgate.train import plan_run

            planned = plan_run(path, project)
            extras = ""
            if planned.canaries:
                extras += f" · {len(planned.canaries)} canaries"
            if planned.pii.found:
                extras += (f" · personal data: {planned.pii.describe()} (pii: "
                           f"{planned.pii.policy}; `evalgate pii scan --scrub` writes a copy "
                           "without it)")
            return (f"{planned.config.method} · {len(planned.pool.members)} training rows, "
                    f"{len(planned.pool.non_members)} non-members · run "
                    f"{planned.run_id}{extras}")
        attempt(path, "training", plan)
    return findings


def _prompts_fit(suite: Any, systems: list[Any], pool: Any) -> str:
    """Every baseline's prompt for every example measured against the model's window with
    the tokenizer, by the very function `evalgate eval` runs before generating (no weights
    load): an input `eval` would refuse is refused here, naming the example and its line."""
    from evalgate.errors import RunError
    from evalgate.eval.run import fitted_prompts

    max_new_tokens = suite.config.generation.max_new_tokens
    cut = 0
    try:
        for system in systems:
            backend = pool.backend(system)
            _, _, cuts = fitted_prompts(suite, system.prepare(suite), backend, max_new_tokens)
            cut = max(cut, len(cuts))
    except RunError as exc:  # the tokenizer cannot be had (offline, a typo'd model)
        raise ConfigError(f"cannot measure prompt lengths: {exc}", path=suite.path,
                          fix="check `model.base` in evalgate.yaml (an alias, a local folder, "
                              "or a hub id already in the cache)") from exc
    window = pool.window(pool.resolved(pool.project.config.model.base))
    room = f"the model's window of {window:,} tokens" if window else "the model's window"
    if cut:
        return (f"{cut} of {len(suite.dataset)} inputs will be cut to fit {room} "
                f"(on_long_input: truncate) · max_new_tokens {max_new_tokens}")
    return (f"every prompt of {len(systems)} baseline(s) fits {room} beside "
            f"max_new_tokens {max_new_tokens}")


def _shown(path: Path, project: Project) -> str:
    try:
        return str(path.resolve().relative_to(project.root))
    except ValueError:
        return str(path)
