"""The gate's orchestration, shared by `evalgate gate` and the pytest plugin: gate-wide checks
first (criteria fixed before training: a refusal costs no model time), the baseline record
refreshed when stale, the candidate evaluated on every suite (cache reused), every criterion
check decided, and the reports written.

A missing or stale `reports/baseline.json` is refreshed here rather than refused: baselines are
deterministic and cached, so running them costs nothing when they are current and is exactly
what `evalgate baseline` would do when they are not — while gating against a stale record
(other suites, other prompts) would compare the candidate with a bar that no longer exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalgate.checks import GATE_CHECKS, CheckResult, CriterionSpec, GateEvidence
from evalgate.eval.baselines import BASELINE_FILE, load_suites, plan_baselines, run_baselines
from evalgate.eval.records import RunRecord, save_unmeasured
from evalgate.gate.candidate import resolve_candidate
from evalgate.gate.decide import best_baselines, build_verdict, criterion_specs, decide_all
from evalgate.gate.verdict import Verdict
from evalgate.project.config import Project
from evalgate.suite.load import Suite
from evalgate.systems import System
from evalgate.train.manifest import Manifest
from evalgate.util.files import atomic_write_json, atomic_write_text

REPORT_FILES = ("report.json", "report.md", "report.html", "junit.xml")


@dataclass(frozen=True)
class GateOutcome:
    verdict: Verdict
    report_dir: Path
    baseline_refreshed: str | None


@dataclass(frozen=True)
class Judgement:
    """A candidate judged on suites: its run records, the best baseline per criterion and
    every criterion check. `evalgate gate` turns it into a verdict; the pytest plugin reads
    its checks."""

    specs: list[CriterionSpec]
    candidates: dict[str, tuple[RunRecord, Path]]
    best: dict[tuple[str, str], tuple[str, RunRecord, Path]]
    checks: list[CheckResult]
    baseline_refreshed: str | None
    sections: dict[str, Any] = field(default_factory=dict)


def gate_checks(manifest: Manifest | None, suites: list[Suite],
                allow_changed_criteria: bool, partial: bool = False,
                lock: Any = None) -> list[CheckResult]:
    """Every registered gate-wide check (criteria fixed before training, …), decided before
    anything is evaluated: a refusal (exit 2) costs no model time. `partial`: `suites` are
    some of the project's (the pytest plugin judges one suite file at a time). `lock`: the
    provenance of a candidate without a manifest (evalgate.project.lock)."""
    evidence = GateEvidence(manifest=manifest, suites=tuple(suites),
                            allow_changed_criteria=allow_changed_criteria, partial=partial,
                            lock=lock)
    results = [check.decide(evidence) for check in GATE_CHECKS.values()]
    return [result for result in results if result is not None]


def baseline_staleness(project: Project, suites: list[Suite],
                       prepared: dict[tuple[str, str], Any]) -> str | None:
    """Why reports/baseline.json cannot be used as it is, or None if it is current."""
    path = project.reports_dir / BASELINE_FILE
    if not path.is_file():
        return "is missing"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        entries = record["suites"]
    except (OSError, ValueError, KeyError, TypeError):
        return "is unreadable"
    systems = {name for (_, name) in prepared}
    for suite in suites:
        entry = entries.get(suite.name)
        if entry is None:
            return f"has no suite '{suite.name}'"
        if entry.get("config_sha256") != suite.config_sha256:
            return f"was made with another version of suite '{suite.name}'"
        if set(entry["runs"]) != systems:
            return "names other baselines than evalgate.yaml"
        for name, run in entry["runs"].items():
            run_path = project.root / run["path"]
            if not run_path.is_file():
                return f"names a missing run record ({run['path']})"
            try:
                run_record = json.loads(run_path.read_text(encoding="utf-8"))
                system_hash, examples = run_record["system"]["config_sha256"], run_record[
                    "suite"]["n"]
            except (OSError, ValueError, KeyError, TypeError):
                return f"names an unreadable run record ({run['path']})"
            if system_hash != prepared[(suite.name, name)].config_sha256:
                return f"was made with another version of baseline '{name}'"
            if examples != len(suite.dataset):
                return (f"was made on {examples} examples of suite '{suite.name}', not "
                        f"{len(suite.dataset)}")
    return None


def judge(project: Project, candidate: System, suites: list[Suite], *, pool: Any,
          progress: Any = None, baseline: System | None = None,
          say: Any = print) -> Judgement:
    """Evaluate `candidate` on `suites` (cached outputs reused) against the best baseline per
    criterion (refreshed first when `reports/baseline.json` is stale) or against one given
    `baseline` system, and decide every criterion check. Suites of a kind with a reference of
    its own (a capability suite: the base model) are judged by their kind. Shared by
    `evalgate gate` and the pytest plugin, so the two never disagree."""
    from evalgate.eval.run import evaluate
    from evalgate.suite.kinds import kind_of, unmet_needs

    task_suites = [s for s in suites if kind_of(s).uses_baselines]
    # Bind every pair before any model loads: bad input fails fast and writes nothing.
    cand_prepared = {s.name: candidate.prepare(s) for s in task_suites}
    base_prepared = {s.name: baseline.prepare(s) for s in task_suites} if baseline else {}
    stale = None
    if baseline is None and task_suites:
        plan = plan_baselines(project, task_suites)
        stale = baseline_staleness(project, task_suites, plan.prepared)
        if stale:
            say(f"baseline record {stale}: running the baselines (cached outputs are reused)")
            run_baselines(project, plan, pool, progress)
    candidates = {}
    best: dict[tuple[str, str], tuple[str, RunRecord, Path]] = {}
    sections: dict[str, Any] = {}
    for suite in suites:
        kind = kind_of(suite)
        unmet = unmet_needs(kind, candidate)
        if unmet is not None:
            candidates[suite.name] = save_unmeasured(project, suite, candidate, unmet)
            say(f"suite '{suite.name}' not measured: {unmet}")
            continue
        if kind.judge is not None:
            judged = kind.judge(project, suite, candidate, pool, progress)
            candidates[suite.name] = judged.candidate
            best.update(judged.best)
            if judged.section is not None:
                sections[suite.name] = judged.section
            continue
        outcome = evaluate(suite, candidate, pool, progress, cand_prepared[suite.name])
        candidates[suite.name] = (outcome.record, outcome.path)
        if baseline is not None:
            base = evaluate(suite, baseline, pool, progress, base_prepared[suite.name])
            best.update({(suite.name, c.name): (baseline.name, base.record, base.path)
                         for c in suite.config.criteria})
    if baseline is None and task_suites:
        record = json.loads((project.reports_dir / BASELINE_FILE).read_text(encoding="utf-8"))
        best.update(best_baselines(record, project.root, [s.name for s in task_suites]))
    specs = criterion_specs(suites)
    checks = decide_all(specs, {name: rec for name, (rec, _) in candidates.items()}, best)
    return Judgement(specs, candidates, best, checks, stale, sections)


def run_gate(project: Project, target: Path, *, system: Path | None = None,
             allow_changed_criteria: bool = False, progress: Any = None,
             say: Any = print) -> GateOutcome:
    """Gate a candidate (evalgate.gate.candidate): a training run folder, a PEFT adapter folder
    served with `system`, or a system YAML (an adapter or a fine-tuned endpoint)."""
    from evalgate.eval.run import ModelPool
    from evalgate.project.lock import baseline_changes

    candidate = resolve_candidate(project, target, system)
    suites = load_suites(project)
    provenance = gate_checks(candidate.manifest, suites, allow_changed_criteria,
                             lock=candidate.lock)
    if candidate.lock is not None:
        for change in baseline_changes(candidate.lock, project):
            say(f"note: {change} (the best baseline is measured as it is now)")
    judged = judge(project, candidate.system, suites, pool=ModelPool(project, progress),
                   progress=progress, say=say)
    verdict = build_verdict(specs=judged.specs, candidates=judged.candidates,
                            baseline_path=project.reports_dir / BASELINE_FILE, root=project.root,
                            candidate=candidate, suites=suites, gate_checks=provenance,
                            allow_changed_criteria=allow_changed_criteria, best=judged.best,
                            sections=judged.sections)
    report_dir = gate_dir(project, candidate.run_id)
    write_reports(verdict, report_dir)
    return GateOutcome(verdict, report_dir, judged.baseline_refreshed)


def gate_dir(project: Project, run_id: str) -> Path:
    return project.reports_dir / "gate" / run_id


def write_reports(verdict: Verdict, folder: Path) -> dict[str, Path]:
    """report.json (the verdict), report.md, report.html, junit.xml; each written atomically,
    the verdict last so that its presence means the set is complete."""
    from evalgate.report.html import render_html
    from evalgate.report.json import render_json
    from evalgate.report.junit import render_junit
    from evalgate.report.markdown import render_markdown

    paths = {name: folder / name for name in REPORT_FILES}
    atomic_write_text(paths["report.md"], render_markdown(verdict))
    atomic_write_text(paths["report.html"], render_html(verdict))
    atomic_write_text(paths["junit.xml"], render_junit(verdict))
    atomic_write_json(paths["report.json"], render_json(verdict))
    return paths
