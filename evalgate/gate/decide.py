"""Criteria → checks → verdict, from run records only (never models).

Every bound of a criterion is one check:

    min / max        on the candidate's own 95% interval (Wilson for binary scores, else
                     bootstrap), exactly as `evalgate eval` decides them
    beat_baseline    candidate − best baseline > margin, on the paired bootstrap interval of
                     the per-example differences; for binary scores at margin 0 McNemar's exact
                     test must agree (p < 0.05), else the check is INCONCLUSIVE
    max_drop         best baseline − candidate < max_drop (non-inferiority), paired bootstrap

For a criterion with only a `max` (lower is better) the relative bounds are mirrored: beating
means a lower value, a drop means a rise. "Best baseline" is per criterion, as
`reports/baseline.json` names it; pairs are matched by example id.

An INCONCLUSIVE check says how many examples would likely settle it (stats.examples_to_settle).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from evalgate import __version__
from evalgate.errors import ConfigError
from evalgate.eval.records import RunRecord, load_record
from evalgate.gate.verdict import INCONCLUSIVE, PROMOTE, REJECT, CheckResult, Figures, Verdict
from evalgate.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Z80_POWER,
    Z95,
    estimate_mean,
    examples_to_settle,
    paired_estimate,
)
from evalgate.suite.load import Suite
from evalgate.util.files import sha256_file

ALPHA = 0.05

STATISTICS = {
    "absolute": "95% Wilson interval (binary scores) or percentile bootstrap (others)",
    "relative": "95% percentile interval of the paired bootstrap of the mean per-example "
                "difference (candidate − best baseline), examples resampled together",
    "binary_test": "McNemar's exact two-sided test on discordant pairs (beat_baseline with "
                   "margin 0 on binary scores must also have p < 0.05)",
    "settle": "examples n' with (z_0.975 + z_0.80)·sd/√n' = |estimate − bound| (80% power if "
              "the observed effect is the true one)",
    "z": Z95, "z_power": Z80_POWER,
}


def criterion_specs(suites: list[Suite]) -> list[dict[str, Any]]:
    """What the gate needs of each criterion, serialisable (stored in the verdict)."""
    specs = []
    for suite in suites:
        for criterion in suite.config.criteria:
            higher = criterion.min is not None or criterion.max is None
            specs.append({
                "suite": suite.name, "name": criterion.name, "metric": criterion.metric,
                "binary": bool(suite.metrics[criterion.name].binary),
                "min": criterion.min, "max": criterion.max,
                "beat_margin": (criterion.beat_baseline.margin
                                if criterion.beat_baseline is not None else None),
                "max_drop": criterion.max_drop, "higher_is_better": higher,
                "fingerprint": suite.fingerprints[criterion.name]})
    return specs


def _scores(record: RunRecord, criterion: str) -> dict[str, float]:
    try:
        return {e.id: float(e.scores[criterion]) for e in record.examples}
    except KeyError as exc:
        raise ConfigError(f"run record of {record.system['name']} on {record.suite['name']} has "
                          f"no scores for criterion '{criterion}'",
                          fix="re-run `evalgate baseline` (the suite changed)") from exc


def _interval_status(low: float, high: float, bound: float, above: bool,
                     strict: bool) -> str:
    """PASS when the whole interval is on the passing side of the bound, FAIL when it is
    wholly on the other side, else INCONCLUSIVE. `above`: passing means greater."""
    if above:
        passes = low > bound if strict else low >= bound
        fails = high <= bound if strict else high < bound
    else:
        passes = high < bound if strict else high <= bound
        fails = low >= bound if strict else low > bound
    return "PASS" if passes else "FAIL" if fails else "INCONCLUSIVE"


def _f(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def _d(x: float) -> str:
    return "n/a" if x != x else f"{x:+.3f}"


def _settle_text(more: int | None) -> str:
    if more is None:
        return "no realistic number of examples would settle it (the estimate sits on the bound)"
    return f"≈{more:,} more examples would likely settle it"


def decide_criterion(spec: Mapping[str, Any], candidate: RunRecord,
                     baseline: tuple[str, RunRecord] | None,
                     resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> list[CheckResult]:
    name, suite, binary = spec["name"], spec["suite"], spec["binary"]
    cand_scores = _scores(candidate, name)
    ids = list(cand_scores)
    cand_values = [cand_scores[i] for i in ids]
    own = estimate_mean(cand_values, binary)
    cand_fig = Figures(own.value, own.low, own.high)
    n = len(ids)
    base_name = base_fig = delta_fig = paired = None
    if baseline is not None:
        base_name, base_record = baseline
        if base_record.suite.get("data_sha256") != candidate.suite.get("data_sha256"):
            raise ConfigError(f"the baseline record of {base_name} on {suite} was run on other "
                              "data than the candidate's", fix="re-run `evalgate baseline`")
        base_scores = _scores(base_record, name)
        missing = [i for i in ids if i not in base_scores]
        if missing or len(base_scores) != len(ids):
            raise ConfigError(f"the candidate and baseline {base_name} records of suite {suite} "
                              f"do not cover the same examples ({', '.join(missing[:5])})",
                              fix="re-run `evalgate baseline` and the gate on the same suite")
        base_values = [base_scores[i] for i in ids]
        base_est = estimate_mean(base_values, binary)
        base_fig = Figures(base_est.value, base_est.low, base_est.high)
        paired = paired_estimate(cand_values, base_values, binary, resamples, seed)
        delta_fig = Figures(paired.delta, paired.low, paired.high)
    common = dict(suite=suite, criterion=name, metric=spec["metric"], n=n, candidate=cand_fig,
                  baseline_system=base_name, baseline=base_fig, delta=delta_fig,
                  p_value=paired.p_value if paired else None,
                  discordant=(paired.b, paired.c) if paired and paired.b is not None else None)
    checks = []
    values = np.asarray(cand_values, dtype=np.float64)
    for kind in ("min", "max"):
        bound = spec[kind]
        if bound is None:
            continue
        above = kind == "min"
        status = _interval_status(own.low, own.high, bound, above, strict=False)
        word = "minimum" if above else "maximum"
        text = f"{'≥' if above else '≤'} {bound:g}"
        ci = f"{_f(own.value)} (95% CI {_f(own.low)}–{_f(own.high)})"
        more = None
        if status == "PASS":
            reason = f"the candidate's {ci} surely meets the {word} {bound:g}"
        elif status == "FAIL":
            reason = (f"the candidate's {ci} is surely {'below' if above else 'above'} the "
                      f"{word} {bound:g}")
        else:
            if binary:
                p = own.value if own.value == own.value else bound
                sd = math.sqrt(max(p * (1 - p), bound * (1 - bound)))
            else:
                sd = float(values.std(ddof=1)) if n > 1 else 0.0
            total = examples_to_settle(n, sd, (own.value if own.value == own.value else bound)
                                       - bound)
            more = total - n if total is not None else None
            reason = (f"the candidate's {ci} straddles the {word} {bound:g}: the data cannot "
                      f"decide; {_settle_text(more)}")
        checks.append(CheckResult(kind=kind, bound=float(bound), bound_text=text, status=status,
                                  reason=reason, more_examples=more, **common))
    higher = spec["higher_is_better"]
    for kind in ("beat_baseline", "max_drop"):
        setting = spec["beat_margin"] if kind == "beat_baseline" else spec["max_drop"]
        if setting is None:
            continue
        if baseline is None:
            raise ConfigError(f"criterion {suite}/{name} has a relative bound but no baseline "
                              "was recorded for it", fix="run `evalgate baseline`")
        # Bound on the raw difference Δ = candidate − baseline, mirrored for lower-is-better.
        if kind == "beat_baseline":
            bound = setting if higher else -setting
            above = higher
            text = f"Δ {'>' if higher else '<'} {bound:+g}"
        else:
            bound = -setting if higher else setting
            above = higher
            text = f"Δ {'>' if higher else '<'} {bound:+g}"
        status = _interval_status(paired.low, paired.high, bound, above, strict=True)
        ci = (f"Δ = {_d(paired.delta)} (95% CI {_d(paired.low)} to {_d(paired.high)}) against "
              f"{base_name}")
        more = None
        mcnemar_blocks = (kind == "beat_baseline" and binary and setting == 0 and status == "PASS"
                          and paired.p_value is not None and paired.p_value >= ALPHA)
        if mcnemar_blocks:
            status = "INCONCLUSIVE"
        if status == "INCONCLUSIVE":
            total = examples_to_settle(n, paired.sd, paired.delta - bound)
            more = total - n if total is not None else None
        if kind == "beat_baseline":
            goal = (f"beat the best baseline ({base_name}) by more than {setting:g}"
                    if setting else f"beat the best baseline ({base_name})")
            if status == "PASS":
                reason = f"the candidate surely {goal.replace('beat', 'beats', 1)}: {ci}"
            elif status == "FAIL":
                reason = f"the candidate does not {goal}: {ci}"
            elif mcnemar_blocks:
                reason = (f"the interval clears the bound but McNemar's exact test does not "
                          f"(p = {paired.p_value:.3f} ≥ {ALPHA:g}; {paired.b} vs {paired.c} "
                          f"discordant examples): cannot tell whether the candidate "
                          f"{goal.replace('beat', 'beats', 1)}; {_settle_text(more)}")
            else:
                reason = (f"cannot tell whether the candidate {goal.replace('beat', 'beats', 1)}: "
                          f"{ci} straddles "
                          f"{bound:+g}; {_settle_text(more)}")
        else:
            goal = f"a drop of less than {setting:g} against the best baseline ({base_name})"
            if status == "PASS":
                reason = f"the candidate surely keeps {goal}: {ci}"
            elif status == "FAIL":
                reason = f"the candidate surely drops by {setting:g} or more: {ci}"
            else:
                reason = (f"cannot tell whether the candidate keeps {goal}: {ci} straddles "
                          f"{bound:+g}; {_settle_text(more)}")
        checks.append(CheckResult(kind=kind, bound=float(bound), bound_text=text, status=status,
                                  reason=reason, more_examples=more, **common))
    return checks


def overall(checks: list[CheckResult]) -> tuple[str, list[str]]:
    """The decision and its blocking reasons, in plain words."""
    reasons = [f"{c.suite}/{c.criterion}: {c.reason}" for c in checks if c.status != "PASS"]
    if not any(c.kind == "beat_baseline" for c in checks):
        reasons.append("no criterion asks the candidate to beat the best baseline (add "
                       "`beat_baseline: {margin: 0}` to at least one criterion): a fine-tune "
                       "that is not better than its cheap alternatives is never promoted")
    if any(c.status == "FAIL" for c in checks) or not any(c.kind == "beat_baseline"
                                                           for c in checks):
        return REJECT, reasons
    if any(c.status == "INCONCLUSIVE" for c in checks):
        return INCONCLUSIVE, reasons
    return PROMOTE, reasons


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


def decide_all(specs: list[dict[str, Any]], candidates: Mapping[str, RunRecord],
               best: Mapping[tuple[str, str], tuple[str, RunRecord, Path]],
               resamples: int = BOOTSTRAP_RESAMPLES,
               seed: int = BOOTSTRAP_SEED) -> list[CheckResult]:
    checks: list[CheckResult] = []
    for spec in specs:
        found = best.get((spec["suite"], spec["name"]))
        baseline = (found[0], found[1]) if found else None
        checks.extend(decide_criterion(spec, candidates[spec["suite"]], baseline, resamples,
                                       seed))
    return checks


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def build_verdict(*, specs: list[dict[str, Any]], candidates: Mapping[str, tuple[RunRecord, Path]],
                  baseline_path: Path, root: Path, manifest: Any, suites: list[Suite],
                  allow_changed_criteria: bool = False, changed: list[str] | None = None,
                  resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Verdict:
    """Decide and assemble a verdict with every hash it rests on."""
    baseline_json = json.loads(Path(baseline_path).read_text(encoding="utf-8"))
    best = best_baselines(baseline_json, root, [s.name for s in suites])
    records = {name: record for name, (record, _) in candidates.items()}
    checks = decide_all(specs, records, best, resamples, seed)
    decision, reasons = overall(checks)
    changed = list(changed or [])
    record_info: dict[str, Any] = {}
    for suite in suites:
        record, path = candidates[suite.name]
        baselines = {}
        for (suite_name, _), (system, _, bpath) in best.items():
            if suite_name == suite.name:
                baselines[system] = {"path": _rel(bpath, root), "sha256": sha256_file(bpath)}
        record_info[suite.name] = {
            "candidate": {"path": _rel(path, root), "sha256": sha256_file(path),
                          "run_key": record.run_key},
            "baselines": baselines}
    warnings = [w for record, _ in candidates.values() for w in record.warnings]
    return Verdict(
        decision=decision, checks=tuple(checks), reasons=tuple(reasons),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        evalgate_version=__version__,
        adapter={"run_id": manifest.run_id, "name": manifest.name, "stage": manifest.stage,
                 "path": _rel(manifest.adapter_dir, root), "sha256": manifest.adapter_sha256,
                 "files": dict(manifest.adapter_files)},
        manifest={"path": _rel(manifest.path, root), "sha256": manifest.sha256},
        base_model=dict(manifest.base_model),
        suites={s.name: {"path": _rel(s.path, root), "config_sha256": s.config_sha256,
                         "data_sha256": s.dataset.sha256, "criteria": dict(s.fingerprints)}
                for s in suites},
        criteria=tuple(specs), records=record_info,
        baseline_record={"path": _rel(baseline_path, root), "sha256": sha256_file(baseline_path)},
        statistics={**STATISTICS, "resamples": resamples, "seed": seed, "alpha": ALPHA},
        allow_changed_criteria=allow_changed_criteria, changed_criteria=tuple(changed),
        warnings=tuple(warnings))


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
    checks = decide_all(list(verdict.criteria), candidates, best, stats["resamples"],
                        stats["seed"])
    decision, reasons = overall(checks)
    return replace(verdict, checks=tuple(checks), decision=decision, reasons=tuple(reasons))


def load_verdict(path: Path) -> Verdict:
    try:
        return Verdict.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a readable verdict: {exc!r}", path=path,
                          fix="run `evalgate gate ADAPTER` to write it") from exc
