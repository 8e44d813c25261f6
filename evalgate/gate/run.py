"""`evalgate gate ADAPTER`: check the criteria were fixed before training, make sure the
baseline record is current, evaluate the candidate on every suite (cache reused), decide, and
write the reports.

A missing or stale `reports/baseline.json` is refreshed here rather than refused: baselines are
deterministic and cached, so running them costs nothing when they are current and is exactly
what `evalgate baseline` would do when they are not — while gating against a stale record
(other suites, other prompts) would compare the candidate with a bar that no longer exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.eval.baselines import BASELINE_FILE, load_suites, plan_baselines, run_baselines
from evalgate.gate.decide import build_verdict, criterion_specs
from evalgate.gate.manifest_check import (
    Manifest,
    candidate_system,
    changed_criteria,
    load_manifest,
)
from evalgate.gate.verdict import Verdict
from evalgate.project.config import Project
from evalgate.suite.load import Suite
from evalgate.util.files import atomic_write_json, atomic_write_text

REPORT_FILES = ("report.json", "report.md", "report.html", "junit.xml")


@dataclass(frozen=True)
class GateOutcome:
    verdict: Verdict
    report_dir: Path
    baseline_refreshed: str | None


def check_criteria_fixed(manifest: Manifest, suites: list[Suite], allow: bool) -> list[str]:
    changes = changed_criteria(manifest, suites)
    if changes and not allow:
        raise ConfigError(
            "suites or criteria changed since the adapter was trained:\n  - "
            + "\n  - ".join(changes), path=manifest.path, key="suites",
            fix="restore the suites as they were at training time, re-train, or pass "
                "--allow-changed-criteria (it is written into the verdict and the report)")
    return changes


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


def run_gate(project: Project, adapter: Path, *, allow_changed_criteria: bool = False,
             progress: Any = None, say: Any = print) -> GateOutcome:
    from evalgate.eval.run import ModelPool, evaluate

    manifest = load_manifest(adapter)
    suites = load_suites(project)
    changes = check_criteria_fixed(manifest, suites, allow_changed_criteria)
    candidate = candidate_system(manifest, project)
    # Bind every pair before any model loads: bad input fails fast and writes nothing.
    plan = plan_baselines(project, suites)
    cand_prepared = {s.name: candidate.prepare(s) for s in suites}
    pool = ModelPool(project, progress)
    stale = baseline_staleness(project, suites, plan.prepared)
    if stale:
        say(f"baseline record {stale}: running the baselines (cached outputs are reused)")
        run_baselines(project, plan, pool, progress)
    candidates = {}
    for suite in suites:
        outcome = evaluate(suite, candidate, pool, progress, cand_prepared[suite.name])
        candidates[suite.name] = (outcome.record, outcome.path)
    verdict = build_verdict(specs=criterion_specs(suites), candidates=candidates,
                            baseline_path=project.reports_dir / BASELINE_FILE, root=project.root,
                            manifest=manifest, suites=suites,
                            allow_changed_criteria=allow_changed_criteria, changed=changes)
    report_dir = gate_dir(project, manifest.run_id)
    write_reports(verdict, report_dir)
    return GateOutcome(verdict, report_dir, stale)


def gate_dir(project: Project, run_id: str) -> Path:
    return project.reports_dir / "gate" / run_id


def write_reports(verdict: Verdict, folder: Path) -> dict[str, Path]:
    """report.json (the verdict), report.md, report.html, junit.xml; each written atomically,
    the verdict last so that its presence means the set is complete."""
    from evalgate.report.html import render_html
    from evalgate.report.junit import render_junit
    from evalgate.report.markdown import render_markdown

    paths = {name: folder / name for name in REPORT_FILES}
    atomic_write_text(paths["report.md"], render_markdown(verdict))
    atomic_write_text(paths["report.html"], render_html(verdict))
    atomic_write_text(paths["junit.xml"], render_junit(verdict))
    atomic_write_json(paths["report.json"], verdict.to_json())
    return paths
