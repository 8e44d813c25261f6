"""What must hold before an adapter enters the registry: a PROMOTE verdict that names exactly
these adapter files and this manifest, for the suites as they are now, and that recomputes to
PROMOTE from its (hash-checked) run records."""

from __future__ import annotations

from pathlib import Path

from evalgate.errors import ConfigError
from evalgate.eval.baselines import load_suites
from evalgate.gate.decide import load_verdict, recompute
from evalgate.gate.run import gate_dir
from evalgate.gate.verdict import PROMOTE, Verdict
from evalgate.project.config import Project
from evalgate.registry.store import DEFAULT_ALIAS, REGISTRY_DIR, Entry, Registry
from evalgate.train.manifest import Manifest, load_manifest


class NotPromotable(Exception):
    """The verdict exists and is intact but does not say PROMOTE (exit 1, not a config error).
    It carries the verdict, whose blocking reasons the caller renders."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"the verdict is {verdict.decision}, not PROMOTE")
        self.verdict = verdict


def check_promotable(project: Project, adapter: Path,
                     verdict_path: Path | None = None) -> tuple[Manifest, Verdict, Path]:
    manifest = load_manifest(adapter)  # also re-hashes the adapter files against it
    verdict_path = verdict_path or gate_dir(project, manifest.run_id) / "report.json"
    if not Path(verdict_path).is_file():
        raise ConfigError(f"no verdict for adapter run {manifest.run_id}", path=verdict_path,
                          fix=f"run `evalgate gate {adapter}` first")
    verdict = load_verdict(verdict_path)
    fix = f"re-run `evalgate gate {adapter}`"
    if verdict.adapter.get("sha256") != manifest.adapter_sha256 or \
            verdict.adapter.get("files") != manifest.adapter_files:
        raise ConfigError("the verdict names other adapter files than these", path=verdict_path,
                          key="adapter", fix=fix)
    if verdict.manifest.get("sha256") != manifest.sha256:
        raise ConfigError("the verdict names another manifest than this one", path=verdict_path,
                          key="manifest", fix=fix)
    suites = {s.name: s.config_sha256 for s in load_suites(project)}
    judged = {name: info["config_sha256"] for name, info in verdict.suites.items()}
    if suites != judged:
        raise ConfigError("the suites changed since the verdict was written", path=verdict_path,
                          key="suites", fix=fix)
    if verdict.decision != PROMOTE:
        raise NotPromotable(verdict)
    again = recompute(verdict, project.root)  # run records re-hashed and re-decided
    if again.decision != PROMOTE or again.checks != verdict.checks:
        raise ConfigError("the verdict does not recompute from its run records",
                          path=verdict_path, fix=fix)
    return manifest, verdict, Path(verdict_path)


def promote(project: Project, adapter: Path, *, alias: str = DEFAULT_ALIAS,
            name: str | None = None, verdict_path: Path | None = None) -> Entry:
    manifest, verdict, verdict_path = check_promotable(project, adapter, verdict_path)
    registry = Registry(project.root / REGISTRY_DIR)
    return registry.promote(name=name or manifest.name, adapter_dir=manifest.adapter_dir,
                            manifest_path=manifest.path, verdict_path=verdict_path,
                            verdict=verdict.to_json(), alias=alias)
