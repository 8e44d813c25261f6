"""A leakage suite run: members and non-members scored under the candidate and the base model.

One forward pass per record per model (only the scored span's logits; a shared system prompt
runs once per batch through the KV cache), every record's token statistics cached like any
other measurement (keyed by model, adapter, dtype, quantisation and the record's token ids).
Each run is an ordinary run record: one example per record (`member/<id>`, `non_member/<id>`),
its scores the membership attacks (higher = more likely a member), so a verdict can be
recomputed from the records alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate import __version__
from evalgate.eval.cache import Cache
from evalgate.eval.records import CriterionResult, ExampleRecord, RunRecord, record_path
from evalgate.leakage.attacks import ExampleTokens, bootstrap_attacks, membership_scores
from evalgate.leakage.extraction import rate_difference
from evalgate.leakage.probe_figures import (
    canary_figures,
    extraction_matches,
    pii_leaks,
    pii_probed,
)
from evalgate.leakage.probes import ProbeRun, run_probes
from evalgate.leakage.records import RecordSet, TrainingRecord
from evalgate.leakage.suite import LeakageSuite
from evalgate.models.loading import adapter_identity
from evalgate.util.clock import utc_now
from evalgate.util.files import sha256_json
from evalgate.util.paths import display_path

BASE_SYSTEM = "base-model"
SCORER_VERSION = "leakage-2"  # 2: scoring batches cut by BatchPolicy.partition
MEMBER, NON_MEMBER = "member", "non_member"


@dataclass(frozen=True)
class Stats:
    logprobs: tuple[float, ...]
    mu: tuple[float, ...]
    sigma: tuple[float, ...]


def example_id(record: TrainingRecord) -> str:
    return f"{MEMBER if record.member else NON_MEMBER}/{record.id}"


def is_member(example_id_: str) -> bool:
    return example_id_.startswith(MEMBER + "/")


def identity(resolved: Any, adapter: Path | None, pool: Any) -> dict[str, Any]:
    """What a cached score or generation of one model depends on, besides its token ids."""
    return {"model": resolved.identity, **adapter_identity(adapter, pool.settings),
            "dtype": pool.settings.resolved_dtype(), "quantization": pool.settings.quantization,
            "scorer": SCORER_VERSION}


def measure(records: RecordSet, resolved: Any, adapter: Path | None, pool: Any, progress: Any,
            label: str) -> tuple[dict[str, Stats], int, float]:
    """Token statistics of every record's scored span under one model (cache first);
    returns them by record id, the number scored now, and the seconds it took."""
    from evalgate.models.engine.token_stats import token_stats

    started = time.perf_counter()
    ident = identity(resolved, adapter, pool)
    keys = {r.id: sha256_json({**ident, "kind": "token_stats", "ids": sha256_json(list(r.ids)),
                               "scored": r.scored}) for r in records.records}
    with Cache.open(pool.project.cache_path) as cache:
        stored = cache.get_measurements(list(keys.values()))
        missing = [r for r in records.records if keys[r.id] not in stored]
        if missing:
            engine = pool.engine(resolved, adapter)
            task = None
            if progress is not None:
                task = progress.add_task(f"scoring {label} × training records",
                                         total=len(missing), info="")

            def advance(n: int) -> None:
                if task is not None:
                    progress.advance(task, n)
            found = token_stats(engine, [list(r.ids) for r in missing],
                                [r.scored for r in missing], done=advance)
            rows = [(keys[r.id], [list(s.logprobs), list(s.mu), list(s.sigma)])
                    for r, s in zip(missing, found)]
            cache.put_measurements("token_stats", rows)
            stored.update(dict(rows))
    stats = {r.id: Stats(*(tuple(float(v) for v in part) for part in stored[keys[r.id]]))
             for r in records.records}
    return stats, len(missing), time.perf_counter() - started


def attack_scores(suite: LeakageSuite, records: RecordSet, own: dict[str, Stats],
                  base: dict[str, Stats]) -> dict[str, dict[str, float]]:
    """Per record id, the suite's attacks (the reference attack needs the base model's
    log-probs of the same tokens)."""
    wanted = set(suite.config.attacks)
    scores = {}
    for record in records.records:
        mine, theirs = own[record.id], base[record.id]
        if not mine.logprobs:
            continue
        found = membership_scores(ExampleTokens(
            token_logprobs=mine.logprobs, text=record.text, mu=mine.mu, sigma=mine.sigma,
            reference_logprobs=theirs.logprobs), k=suite.config.k)
        scores[record.id] = {name: value for name, value in found.items() if name in wanted}
    return scores


def build_record(suite: LeakageSuite, name: str, adapter: Path | None, resolved: Any,
                 pool: Any, records: RecordSet, scores: dict[str, dict[str, float]],
                 scored_now: int, seconds: float, system: Any,
                 probes: ProbeRun | None = None) -> RunRecord:
    project = pool.project
    examples = []
    for record in records.records:
        if record.id not in scores:
            continue
        examples.append(ExampleRecord(
            id=example_id(record), output="", prompt_tokens=len(record.ids), new_tokens=0,
            finish_reason="scored", cached=False, scores=dict(scores[record.id]),
            details={"member": record.member, "scored_tokens": record.scored}))
    if probes is not None:
        examples.extend(probes.examples)
    results = bootstrap_attacks([scores[r.id] for r in records.members if r.id in scores],
                                [scores[r.id] for r in records.non_members if r.id in scores])
    criteria = tuple(
        CriterionResult(name=f"auc:{r.name}", metric="membership_auc", value=r.auc,
                        low=r.auc_low, high=r.auc_high, n=r.n_members + r.n_nonmembers,
                        interval="stratified bootstrap", bound="decided by the gate",
                        status="RELATIVE",
                        summary={k: v for k, v in (("tpr_at_1", r.tpr_at_1),
                                                   ("tpr_at_1_low", r.tpr_at_1_low),
                                                   ("tpr_at_1_high", r.tpr_at_1_high))
                                 if v is not None})
        for r in results)
    ident = {"model": resolved.identity, **adapter_identity(adapter, pool.settings),
             "dtype": pool.settings.resolved_dtype(), "quantization": pool.settings.quantization}
    run_key = sha256_json({**ident, "suite": suite.config_sha256, "run": records.run_id,
                           "sample": suite.member_sample,
                           "canary_candidates": suite.canary_candidates,
                           "scorer": SCORER_VERSION})
    return RunRecord(
        run_key=run_key, created_at=utc_now(), evalgate_version=__version__,
        engine_version=SCORER_VERSION,
        suite={"name": suite.name, "kind": suite.kind,
               "path": display_path(suite.path, project.root),
               "config_sha256": suite.config_sha256, "data_sha256": suite.dataset.sha256,
               "n": len(examples), "training_run": records.run_id,
               "training_data_sha256": records.data_sha256},
        system={"name": name, "kind": "base" if adapter is None else "adapter",
                "path": display_path(system.path, project.root)
                if system is not None and system.path else None,
                "config_sha256": sha256_json(ident),
                "adapter": display_path(adapter, project.root) if adapter else None,
                "adapter_sha256": ident["adapter"]},
        model={"ref": resolved.ref, "identity": resolved.identity, "source": resolved.source,
               "dtype": ident["dtype"], "quantization": ident["quantization"]},
        generation={"scored": "token log-probs of the trained span (membership attacks)"},
        criteria=criteria, examples=tuple(examples),
        stats={"cache_hits": len(records.records) - scored_now, "cache_misses": scored_now,
               "seconds": round(seconds, 3),
               "probes_computed": probes.computed if probes is not None else 0,
               "probe_seconds": round(probes.seconds, 3) if probes is not None else 0.0})


@dataclass(frozen=True)
class LeakageRuns:
    base: RunRecord
    base_path: Path
    candidate: RunRecord
    candidate_path: Path
    records: RecordSet


def run_leakage(suite: LeakageSuite, candidate: Any, pool: Any, progress: Any = None
                ) -> LeakageRuns:
    from evalgate.leakage.records import training_records
    from evalgate.train.manifest import load_manifest
    from evalgate.train.tokens import ChatTokens

    project = pool.project
    adapter = candidate.adapter_path
    if adapter is None:
        from evalgate.errors import ConfigError

        raise ConfigError(f"the leakage suite '{suite.name}' needs an adapter candidate",
                          path=suite.path, fix="gate a trained adapter (its manifest names "
                                               "the training records)")
    manifest = load_manifest(adapter)
    resolved = pool.resolved(candidate.config.model or project.config.model.base)
    records = training_records(project, manifest, resolved.path, suite.member_sample,
                               suite.config.members.seed)
    base_stats, base_now, base_seconds = measure(records, resolved, None, pool, progress,
                                                 BASE_SYSTEM)
    own_stats, own_now, own_seconds = measure(records, resolved, adapter, pool, progress,
                                              candidate.name)
    base_scores = attack_scores(suite, records, base_stats, base_stats)
    own_scores = attack_scores(suite, records, own_stats, base_stats)
    tokens = ChatTokens.load(resolved.path)
    base_probes = run_probes(suite, records, tokens, lambda: pool.engine(resolved, None),
                             identity(resolved, None, pool), project.cache_path, progress,
                             BASE_SYSTEM)
    own_probes = run_probes(suite, records, tokens, lambda: pool.engine(resolved, adapter),
                            identity(resolved, adapter, pool), project.cache_path, progress,
                            candidate.name)
    base_record = build_record(suite, BASE_SYSTEM, None, resolved, pool, records, base_scores,
                               base_now, base_seconds, None, base_probes)
    cand_record = build_record(suite, candidate.name, adapter, resolved, pool, records,
                               own_scores, own_now, own_seconds, candidate, own_probes)
    base_path = record_path(project.reports_dir, suite.name, BASE_SYSTEM, base_record.run_key)
    cand_path = record_path(project.reports_dir, suite.name, candidate.name, cand_record.run_key)
    base_record.save(base_path)
    cand_record.save(cand_path)
    return LeakageRuns(base_record, base_path, cand_record, cand_path, records)


def section(suite: LeakageSuite, runs: LeakageRuns) -> dict[str, Any]:
    """The report's leakage section: sizes, every attack on candidate and base, the control."""
    base = {c.name: c for c in runs.base.criteria}
    attacks = []
    for c in runs.candidate.criteria:
        b = base.get(c.name)
        attacks.append({"attack": c.name.removeprefix("auc:"), "auc": c.value, "low": c.low,
                        "high": c.high, "tpr_at_1": c.summary.get("tpr_at_1"),
                        "tpr_low": c.summary.get("tpr_at_1_low"),
                        "tpr_high": c.summary.get("tpr_at_1_high"),
                        "base_auc": b.value if b else None,
                        "base_low": b.low if b else None, "base_high": b.high if b else None})
    records = runs.records
    n_non = len(records.non_members)
    return {
        "kind": "leakage",
        "training_run": records.run_id,
        "members": len(records.members), "members_total": records.members_total,
        "non_members": n_non, "non_members_total": records.non_members_total,
        "dropped_near_duplicates": len(records.dropped_near_duplicates),
        "low_fpr_note": (None if n_non >= 100 else
                         f"{n_non} non-members cannot resolve a 1% FPR (100 needed): the TPR "
                         "criterion is INCONCLUSIVE; a larger `holdout.fraction` in the "
                         "training config gives more"),
        "control_band": list(suite.config.control_band),
        "attacks": attacks,
        "cost": {side: {"scored": record.stats["cache_misses"],
                        "seconds": record.stats["seconds"],
                        "probes": record.stats.get("probes_computed", 0),
                        "probe_seconds": record.stats.get("probe_seconds", 0.0)}
                 for side, record in (("base", runs.base), ("candidate", runs.candidate))},
        "canaries": canary_section(runs),
        "extraction": extraction_section(runs),
        "pii": pii_section(runs),
    }


def canary_section(runs: LeakageRuns) -> dict[str, Any] | None:
    own, base = canary_figures(runs.candidate), canary_figures(runs.base)
    if own.n == 0:
        return None
    base_by_id = {c["id"]: c for c in base.per_canary}
    return {"n": own.n, "mean": own.mean_exposure, "low": own.low, "high": own.high,
            "base_mean": base.mean_exposure, "max_bits": own.max_exposure_bits,
            "extracted": own.extracted, "base_extracted": base.extracted,
            "per_canary": [{**{k: c[k] for k in ("id", "repetitions", "exposure", "extracted")},
                            "base_exposure": base_by_id.get(c["id"], {}).get("exposure"),
                            "base_extracted": base_by_id.get(c["id"], {}).get("extracted")}
                           for c in own.per_canary]}


def extraction_section(runs: LeakageRuns) -> dict[str, Any] | None:
    found = {}
    for side, record in (("candidate", runs.candidate), ("base", runs.base)):
        members, others = extraction_matches(record)
        if not members or not others:
            return None
        diff = rate_difference(members, others)
        found[side] = {"members": len(members), "member_rate": diff.member_rate,
                       "non_members": len(others), "nonmember_rate": diff.nonmember_rate,
                       "difference": diff.difference, "low": diff.newcombe_low,
                       "high": diff.newcombe_high}
    return found


def pii_section(runs: LeakageRuns) -> dict[str, Any] | None:
    probed = pii_probed(runs.candidate)
    if probed == 0:
        return None
    own, base = pii_leaks(runs.candidate), pii_leaks(runs.base)
    return {"training_values": len(runs.records.member_pii), "probed": probed,
            "candidate": sorted(own.values()), "base": sorted(base.values()),
            "only_candidate": sorted(m for h, m in own.items() if h not in base)}
