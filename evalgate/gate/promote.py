"""What must hold before a candidate enters the registry: a PROMOTE verdict that names exactly
this candidate (the adapter files and manifest of a trained adapter; the adapter files and the
lock of an external one; the base URL and model id of an endpoint), for the suites as they are
now, and that recomputes to PROMOTE from its (hash-checked) run records."""

from __future__ import annotations

from pathlib import Path

from evalgate.errors import ConfigError
from evalgate.eval.baselines import load_suites
from evalgate.gate.candidate import ADAPTER, ENDPOINT, TRAINED, Candidate, resolve_candidate
from evalgate.gate.decide import load_verdict, recompute
from evalgate.gate.run import gate_dir
from evalgate.gate.verdict import PROMOTE, Verdict
from evalgate.project.config import Project
from evalgate.registry.store import DEFAULT_ALIAS, REGISTRY_DIR, Entry, Registry


class NotPromotable(Exception):
    """The verdict exists and is intact but does not say PROMOTE (exit 1, not a config error).
    It carries the verdict, whose blocking reasons the caller renders."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"the verdict is {verdict.decision}, not PROMOTE")
        self.verdict = verdict


def check_promotable(project: Project, target: Path, verdict_path: Path | None = None,
                     system: Path | None = None) -> tuple[Candidate, Verdict, Path]:
    candidate = resolve_candidate(project, target, system)  # re-hashes adapter files
    verdict_path = verdict_path or gate_dir(project, candidate.run_id) / "report.json"
    again = f"`evalgate gate {target}{f' --system {system}' if system else ''}`"
    if not Path(verdict_path).is_file():
        raise ConfigError(f"no verdict for candidate {candidate.run_id}", path=verdict_path,
                          fix=f"run {again} first")
    verdict = load_verdict(verdict_path)
    fix = f"re-run {again}"
    kind = verdict.candidate.get("kind", TRAINED)
    if kind != candidate.kind:
        raise ConfigError(f"the verdict judged a {kind} candidate, not this {candidate.kind}",
                          path=verdict_path, key="candidate", fix=fix)
    if candidate.kind in (TRAINED, ADAPTER):
        adapter = candidate.adapter_info(project.root)
        if verdict.adapter.get("sha256") != adapter["sha256"] or \
                verdict.adapter.get("files") != adapter["files"]:
            raise ConfigError("the verdict names other adapter files than these",
                              path=verdict_path, key="adapter", fix=fix)
    if candidate.manifest is not None and \
            verdict.manifest.get("sha256") != candidate.manifest.sha256:
        raise ConfigError("the verdict names another manifest than this one", path=verdict_path,
                          key="manifest", fix=fix)
    if candidate.kind == ENDPOINT and \
            verdict.candidate.get("endpoint") != candidate.info(project.root).get("endpoint"):
        raise ConfigError("the verdict names another endpoint (base URL or model) than this "
                          "system", path=verdict_path, key="candidate.endpoint", fix=fix)
    if candidate.lock is not None and \
            (verdict.candidate.get("provenance") or {}).get("sha256") != candidate.lock.sha256:
        raise ConfigError("evalgate.lock changed since the verdict was written",
                          path=candidate.lock.path, fix=fix)
    suites = {s.name: s.config_sha256 for s in load_suites(project)}
    judged = {name: info["config_sha256"] for name, info in verdict.suites.items()}
    if suites != judged:
        raise ConfigError("the suites changed since the verdict was written", path=verdict_path,
                          key="suites", fix=fix)
    if verdict.decision != PROMOTE:
        raise NotPromotable(verdict)
    again_verdict = recompute(verdict, project.root)  # run records re-hashed and re-decided
    if again_verdict.decision != PROMOTE or again_verdict.checks != verdict.checks:
        raise ConfigError("the verdict does not recompute from its run records",
                          path=verdict_path, fix=fix)
    return candidate, verdict, Path(verdict_path)


def promote(project: Project, target: Path, *, alias: str = DEFAULT_ALIAS,
            name: str | None = None, verdict_path: Path | None = None,
            system: Path | None = None) -> Entry:
    candidate, verdict, verdict_path = check_promotable(project, target, verdict_path, system)
    registry = Registry(project.root / REGISTRY_DIR)
    manifest = candidate.manifest
    adapter_dir = None
    if candidate.kind == TRAINED:
        adapter_dir = manifest.adapter_dir
    elif candidate.kind == ADAPTER:
        adapter_dir = candidate.system.adapter_path
    return registry.promote(name=name or candidate.name, adapter_dir=adapter_dir,
                            manifest_path=manifest.path if manifest is not None else None,
                            lock_path=candidate.lock.path if candidate.lock else None,
                            verdict_path=verdict_path, verdict=verdict.to_json(), alias=alias)
