"""Criteria → checks → verdict, from run records only (never models).

Every registered check (evalgate.checks) that applies to a criterion decides it, in
registration order: `min` / `max` on the candidate's own interval, `beat_baseline` /
`max_drop` on the paired difference with the best baseline. "Best baseline" is per criterion,
as `reports/baseline.json` names it; pairs are matched by example id. Gate-wide checks (the
criteria were fixed before training) are decided by the orchestration (evalgate.gate.run)
before anything is evaluated and passed in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalgate import __version__
from evalgate.checks import (
    CHECKS,
    CRITERION_CHECKS,
    CheckResult,
    CriterionEvidence,
    CriterionSpec,
    RecordEvidence,
    Status,
)
from evalgate.errors import ConfigError
from evalgate.eval.records import RunRecord, load_record
from evalgate.gate.verdict import INCONCLUSIVE, PROMOTE, REJECT, Verdict
from evalgate.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    MIN_CONTINUOUS_PAIRED_N,
    Z80_POWER,
    Z95,
)
from evalgate.suite.load import Suite
from evalgate.util.clock import utc_now
from evalgate.util.files import sha256_file
from evalgate.util.paths import display_path

STATISTICS = {
    "absolute": "95% Wilson interval (binary scores) or percentile bootstrap (others)",
    "relative": "binary scores: 95% Tango score interval for the difference of paired "
                "proportions (candidate − best baseline); continuous scores: 95% percentile "
                "interval of the paired bootstrap of the mean per-example difference, examples "
                f"resampled together, deciding only from {MIN_CONTINUOUS_PAIRED_N} examples",
    "binary_test": "McNemar's exact two-sided test on discordant pairs (beat_baseline on "
                   "binary scores must also have p < 0.05, at every margin)",
    "settle": "examples n' with (z_0.975 + z_0.80)·sd/√n' = |estimate − bound| (80% power if "
              "the observed effect is the true one)",
    "z": Z95, "z_power": Z80_POWER,
}
ALPHA = 0.05


def criterion_spec(suite_name: str, criterion, binary: bool = True,
                   fingerprint: str = "", options: dict | None = None,
                   chance: float | None = None) -> CriterionSpec:
    """One criterion as the checks see it. Without the loaded suite (pytest collection) the
    bounds are all that is known; `binary` and `fingerprint` then take placeholders. `chance`
    is the suite's guessing rate computed from its items (a criterion that can sit at chance
    takes it; the criterion's own figure is the four-choice default)."""
    beat = criterion.beat_baseline
    own_chance = getattr(criterion, "chance", None)
    if own_chance is not None and chance is not None:
        own_chance = chance
    return CriterionSpec(suite=suite_name, name=criterion.name, metric=criterion.metric,
                         binary=binary, min=criterion.min, max=criterion.max,
                         beat_margin=beat.margin if beat is not None else None,
                         max_drop=criterion.max_drop,
                         higher_is_better=criterion.higher_is_better, fingerprint=fingerprint,
                         chance=own_chance, options=options,
                         evidence=getattr(criterion, "evidence", "examples"))


def criterion_specs(suites: Sequence[Suite]) -> list[CriterionSpec]:
    """What the gate needs of each criterion, serialisable (stored in the verdict)."""
    return [criterion_spec(suite.name, criterion, bool(suite.metrics[criterion.name].binary),
                           suite.fingerprints[criterion.name],
                           suite.spec_options() if hasattr(suite, "spec_options") else None,
                           getattr(suite, "chance", None))
            for suite in suites for criterion in suite.config.criteria]


def _scores(record: RunRecord, criterion: str) -> dict[str, float]:
    """Per example id, the criterion's score. Examples carry the scores of the criteria that
    apply to them (a capability suite's questions and text documents differ)."""
    found = {e.id: float(e.scores[criterion]) for e in record.examples if criterion in e.scores}
    if not found:
        raise ConfigError(f"run record of {record.system['name']} on {record.suite['name']} has "
                          f"no scores for criterion '{criterion}'",
                          fix="re-run `evalgate baseline` (the suite changed)")
    return found


def evidence(spec: CriterionSpec, candidate: RunRecord,
             baseline: tuple[str, RunRecord] | None,
             resamples: int = BOOTSTRAP_RESAMPLES,
             seed: int = BOOTSTRAP_SEED) -> CriterionEvidence:
    """The candidate's (and best baseline's) scores of one criterion, paired by example id."""
    cand_scores = _scores(candidate, spec.name)
    ids = list(cand_scores)
    found = CriterionEvidence(spec=spec, ids=ids, candidate=[cand_scores[i] for i in ids],
                              resamples=resamples, seed=seed)
    if baseline is None:
        return found
    name, record = baseline
    if record.suite.get("data_sha256") != candidate.suite.get("data_sha256"):
        raise ConfigError(f"the baseline record of {name} on {spec.suite} was run on other "
                          "data than the candidate's", fix="re-run `evalgate baseline`")
    base_scores = _scores(record, spec.name)
    missing = [i for i in ids if i not in base_scores]
    if missing or len(base_scores) != len(ids):
        raise ConfigError(f"the candidate and baseline {name} records of suite {spec.suite} "
                          f"do not cover the same examples ({', '.join(missing[:5])})",
                          fix="re-run `evalgate baseline` and the gate on the same suite")
    found.baseline_system = name
    found.baseline = [base_scores[i] for i in ids]
    return found


def decide_criterion(spec: CriterionSpec, candidate: RunRecord,
                     baseline: tuple[str, RunRecord] | None,
                     resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> list[CheckResult]:
    """Every registered criterion check that applies to `spec`, on shared evidence."""
    applicable = [check for check in CRITERION_CHECKS.values() if check.applies(spec)]
    unmeasured = candidate.stats.get("unmeasured")
    if unmeasured:
        return [unmeasured_result(spec, check.kind, unmeasured) for check in applicable]
    if spec.evidence == "records":
        whole = RecordEvidence(spec=spec, candidate=candidate,
                               baseline_system=baseline[0] if baseline else None,
                               baseline=baseline[1] if baseline else None)
        return [check.decide(whole) for check in applicable]
    found = evidence(spec, candidate, baseline, resamples, seed)
    return [check.decide(found) for check in applicable]


def unmeasured_result(spec: CriterionSpec, kind: str, reason: str) -> CheckResult:
    """A criterion the candidate could not be measured on: INCONCLUSIVE, with the reason."""
    return CheckResult(suite=spec.suite, criterion=spec.name, metric=spec.metric, kind=kind,
                       bound=0.0, bound_text="not measured", status=Status.INCONCLUSIVE, n=0,
                       candidate=None, detail="unmeasured", notes=(reason,))


def overall(checks: Sequence[CheckResult]) -> str:
    """PROMOTE only when every check passes and one of them proves the candidate better than
    the best baseline; REJECT on any FAIL (or when nothing asks for better); else
    INCONCLUSIVE."""
    proves = any(getattr(CHECKS.get(c.kind), "proves_better", False) for c in checks)
    if any(c.status is Status.FAIL for c in checks) or not proves:
        return REJECT
    if any(c.status is Status.INCONCLUSIVE for c in checks):
        return INCONCLUSIVE
    return PROMOTE


def best_baselines(baseline_json: Mapping[str, Any], root: Path,
                   suites: list[str]) -> dict[tuple[str, str], tuple[str, RunRecord, Path]]:
    """(suite, criterion) → (best baseline name, its run record, the record's path)."""
    loaded: dict[Path, RunRecord] = {}
    result = {}
    for suite in suites:
        entry = baseline_json["suites"].get(suite)
        if entry is None:
            raise ConfigError(f"the baseline record has no suite '{suite}'",
                              fix="run `evalgate baseline`")
        for criterion, best in entry["criteria"].items():
            path = root / entry["runs"][best["best"]]["path"]
            if path not in loaded:
                loaded[path] = load_record(path)
            result[(suite, criterion)] = (best["best"], loaded[path], path)
    return result


def decide_all(specs: Sequence[CriterionSpec], candidates: Mapping[str, RunRecord],
               best: Mapping[tuple[str, str], tuple[str, RunRecord, Path]],
               resamples: int = BOOTSTRAP_RESAMPLES,
               seed: int = BOOTSTRAP_SEED) -> list[CheckResult]:
    checks: list[CheckResult] = []
    for spec in specs:
        found = best.get((spec.suite, spec.name))
        baseline = (found[0], found[1]) if found else None
        checks.extend(decide_criterion(spec, candidates[spec.suite], baseline, resamples, seed))
    return checks


def build_verdict(*, specs: Sequence[CriterionSpec],
                  candidates: Mapping[str, tuple[RunRecord, Path]], baseline_path: Path,
                  root: Path, manifest: Any = None, suites: Sequence[Suite],
                  candidate: Any = None,
                  gate_checks: Sequence[CheckResult] = (),
                  allow_changed_criteria: bool = False,
                  best: Mapping[tuple[str, str], tuple[str, RunRecord, Path]] | None = None,
                  sections: Mapping[str, Any] | None = None,
                  resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Verdict:
    """Decide and assemble a verdict with every hash it rests on. `gate_checks` are the
    gate-wide checks already decided (they come after the criteria's rows). The candidate is
    an evalgate.gate.candidate.Candidate, or (a trained adapter) just its `manifest`."""
    if best is None:
        baseline_json = json.loads(Path(baseline_path).read_text(encoding="utf-8"))
        best = best_baselines(baseline_json, root, [s.name for s in suites])
    records = {name: record for name, (record, _) in candidates.items()}
    checks = [*decide_all(specs, records, best, resamples, seed), *gate_checks]
    decision = overall(checks)
    changed = [note for check in gate_checks if check.kind == "criteria_fixed"
               for note in check.notes]
    record_info: dict[str, Any] = {}
    for suite in suites:
        record, path = candidates[suite.name]
        baselines = {}
        for (suite_name, _), (system, _, bpath) in best.items():
            if suite_name == suite.name:
                baselines[system] = {"path": display_path(bpath, root),
                                     "sha256": sha256_file(bpath)}
        record_info[suite.name] = {
            "candidate": {"path": display_path(path, root), "sha256": sha256_file(path),
                          "run_key": record.run_key},
            "baselines": baselines}
    warnings = [w for record, _ in candidates.values() for w in record.warnings]
    if candidate is not None:
        manifest = candidate.manifest
        adapter = candidate.adapter_info(root)
        candidate_info = candidate.info(root)
    else:
        adapter = {"run_id": manifest.run_id, "name": manifest.name, "stage": manifest.stage,
                   "path": display_path(manifest.adapter_dir, root),
                   "sha256": manifest.adapter_sha256, "files": dict(manifest.adapter_files)}
        candidate_info = {"kind": "trained", "provenance": {"kind": "manifest"}}
    if manifest is not None:
        base_model = dict(manifest.base_model)
    else:  # as the candidate's runs recorded it: local weights, or the endpoint's model
        base_model = next((dict(record.model) for record, _ in candidates.values()
                           if record.model), {})
    return Verdict(
        decision=decision, checks=tuple(checks), created_at=utc_now(),
        evalgate_version=__version__,
        adapter=adapter,
        manifest=({"path": display_path(manifest.path, root), "sha256": manifest.sha256}
                  if manifest is not None else {}),
        base_model=base_model,
        candidate=candidate_info,
        suites={s.name: {"path": display_path(s.path, root), "config_sha256": s.config_sha256,
                         "data_sha256": s.dataset.sha256, "criteria": dict(s.fingerprints)}
                for s in suites},
        criteria=tuple(specs), records=record_info,
        # none when no suite compares with the listed baselines (a project of gate-only
        # kinds: capability, leakage, judge) and `evalgate baseline` never ran
        baseline_record=({"path": display_path(baseline_path, root),
                          "sha256": sha256_file(baseline_path)}
                         if Path(baseline_path).exists() else {}),
        statistics={**STATISTICS, "resamples": resamples, "seed": seed, "alpha": ALPHA},
        allow_changed_criteria=allow_changed_criteria, changed_criteria=tuple(changed),
        warnings=tuple(warnings), sections=dict(sections or {}))


def recompute(verdict: Verdict, root: Path) -> Verdict:
    """Re-decide a verdict from the run records it names (hash-checked); models are never
    touched. Returns the verdict with freshly computed checks, decision and reasons."""
    candidates: dict[str, RunRecord] = {}
    best: dict[tuple[str, str], tuple[str, RunRecord, Path]] = {}
    for suite, info in verdict.records.items():
        for role, entry in [("candidate", info["candidate"]), *info["baselines"].items()]:
            path = root / entry["path"]
            if sha256_file(path) != entry["sha256"]:
                raise ConfigError("run record changed since the verdict was written",
                                  path=path, fix="re-run `evalgate gate`")
        candidates[suite] = load_record(root / info["candidate"]["path"])
    by_path: dict[str, RunRecord] = {}
    for check in verdict.checks:
        if check.baseline_system is None:
            continue
        entry = verdict.records[check.suite]["baselines"][check.baseline_system]
        if entry["path"] not in by_path:
            by_path[entry["path"]] = load_record(root / entry["path"])
        best[(check.suite, check.criterion)] = (check.baseline_system, by_path[entry["path"]],
                                                root / entry["path"])
    stats = verdict.statistics
    gate_checks = [c for c in verdict.checks if c.kind not in CRITERION_CHECKS]
    checks = [*decide_all(list(verdict.criteria), candidates, best, stats["resamples"],
                          stats["seed"]), *gate_checks]
    return replace(verdict, checks=tuple(checks), decision=overall(checks))


def load_verdict(path: Path) -> Verdict:
    try:
        return Verdict.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a readable verdict: {exc!r}", path=path,
                          fix="run `evalgate gate ADAPTER` to write it") from exc
