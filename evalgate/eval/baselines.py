"""The baseline record: every baseline on every suite, and the best one per criterion.

The best baseline per criterion is the bar a candidate must clear. "Best" follows the bound's
direction: highest value for a `min` criterion, lowest for a `max`-only one. The record keeps
the path and key of every run record, so the gate can pair a candidate with the best
baseline example by example without re-running anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.eval.records import RunRecord
from evalgate.suite.load import Suite, load_suite
from evalgate.util.clock import utc_now
from evalgate.util.files import atomic_write_json
from evalgate.util.paths import display_path

BASELINE_FILE = "baseline.json"


@dataclass(frozen=True)
class BaselineRecord:
    created_at: str
    suites: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"format": 1, "created_at": self.created_at, "suites": self.suites}

    def save(self, reports_dir: Path) -> Path:
        path = reports_dir / BASELINE_FILE
        atomic_write_json(path, self.to_json())
        return path


@dataclass(frozen=True)
class BaselinePlan:
    """Every baseline bound to every suite of a project, checked before any model loads."""

    suites: list[Suite]
    systems: list[Any]
    prepared: dict[tuple[str, str], Any]  # (suite name, system name) -> PreparedSystem


def load_suites(project: Any) -> list[Suite]:
    if not project.suite_paths:
        raise ConfigError("no suites listed", path=project.path, key="suites",
                          fix="list suite files under `suites:` in evalgate.yaml")
    return [load_suite(p).head(project.example_limit) for p in project.suite_paths]


def plan_baselines(project: Any, suites: list[Suite] | None = None) -> BaselinePlan:
    """Load and bind every (suite, baseline) pair: bad input fails fast and writes nothing."""
    from evalgate.systems.prompting import load_system

    from evalgate.suite.kinds import kind_of

    suites = suites if suites is not None else load_suites(project)
    # Kinds with a reference of their own (capability: the base model) run no baselines.
    suites = [s for s in suites if kind_of(s).uses_baselines]
    if not project.baseline_paths:
        raise ConfigError("no baselines listed", path=project.path, key="baselines",
                          fix="list baseline files under `baselines:` in evalgate.yaml: a "
                              "fine-tune is only promoted if it beats them")
    systems = [load_system(p) for p in project.baseline_paths]
    prepared = {(s.name, b.name): b.prepare(s) for b in systems for s in suites}
    return BaselinePlan(suites, systems, prepared)


def run_baselines(project: Any, plan: BaselinePlan, pool: Any, progress: Any = None
                  ) -> tuple[BaselineRecord, Path, dict[tuple[str, str], tuple[RunRecord, Path]]]:
    """Evaluate every baseline on every suite (cached outputs reused) and save the record."""
    from evalgate.eval.run import evaluate

    runs = {}
    for system in plan.systems:
        for suite in plan.suites:
            outcome = evaluate(suite, system, pool, progress,
                               plan.prepared[(suite.name, system.name)])
            runs[(suite.name, system.name)] = (outcome.record, outcome.path)
    record = build_baseline_record(plan.suites, runs, project.root)
    return record, record.save(project.reports_dir), runs


def build_baseline_record(suites: list[Suite], runs: dict[tuple[str, str], tuple[RunRecord, Path]],
                          root: Path) -> BaselineRecord:
    """`runs` maps (suite name, system name) to its run record and where it was written."""
    summary: dict[str, Any] = {}
    for suite in suites:
        systems = [name for (suite_name, name) in runs if suite_name == suite.name]
        if not systems:
            raise ConfigError(f"no baseline was run on suite {suite.name}")
        entry: dict[str, Any] = {"config_sha256": suite.config_sha256, "runs": {}, "criteria": {}}
        for name in systems:
            record, path = runs[(suite.name, name)]
            entry["runs"][name] = {
                "run_key": record.run_key, "path": display_path(path, root),
                "criteria": {c.name: {"value": c.value, "low": c.low, "high": c.high,
                                      "status": c.status} for c in record.criteria},
                "retrieval": record.retrieval, "warnings": list(record.warnings)}
        for criterion in suite.config.criteria:
            direction = criterion.higher_is_better

            def rank(name: str) -> tuple[float, float, int]:
                figures = entry["runs"][name]["criteria"][criterion.name]
                sign = 1.0 if direction else -1.0
                value = figures["value"] if figures["value"] == figures["value"] else -1e9
                # Ties go to the baseline listed first (list the cheapest first).
                return (-sign * value, -sign * (figures["low"] if direction else figures["high"]),
                        systems.index(name))

            best = min(systems, key=rank)
            entry["criteria"][criterion.name] = {
                "best": best, "higher_is_better": direction, "bound": criterion.bound_text(),
                **entry["runs"][best]["criteria"][criterion.name]}
        summary[suite.name] = entry
    return BaselineRecord(created_at=utc_now(),
                          suites=summary)


