"""What the gate judges: a candidate, and the system it is served with.

Three kinds, one shape:

    trained   a run folder `evalgate train` wrote (adapters/<run-id>): its manifest names the
              training YAML, which names the system; the adapter is the final stage. The
              manifest's suite hashes prove the criteria were fixed before training.
    adapter   a PEFT adapter folder trained by another tool (adapter_config.json, no
              manifest), served with the system `--system` names (or a system YAML whose
              `adapter:` points at it). Provenance: the project's evalgate.lock.
    endpoint  a system YAML whose backend is an endpoint serving a fine-tuned model (a vLLM
              LoRA, a hosted fine-tune id). Provenance: the lock. Promoted by reference.

For the last two the training time cannot be verified; the verdict says so and names the lock's
time and hash instead. Without a lock they are refused (exit 2) with how to write one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.project.config import Project
from evalgate.project.lock import Lock, require_lock
from evalgate.systems.prompting import System, load_system
from evalgate.train.manifest import MANIFEST, Manifest, adapter_file_hashes, load_manifest
from evalgate.util.files import sha256_json
from evalgate.util.paths import display_path

TRAINED, ADAPTER, ENDPOINT = "trained", "adapter", "endpoint"
SYSTEM_SUFFIXES = (".yaml", ".yml")
UNVERIFIED = ("the candidate was not trained by evalgate: its training time cannot be "
              "verified; the criteria are proven fixed only since the lock was written")


@dataclass(frozen=True)
class Candidate:
    kind: str
    system: System
    run_id: str  # names reports/gate/<run-id>/
    manifest: Manifest | None = None
    lock: Lock | None = None
    adapter_files: dict[str, str] = field(default_factory=dict)
    adapter_sha256: str | None = None

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest is not None else self.system.name

    def adapter_info(self, root: Path) -> dict[str, Any]:
        """The verdict's `adapter`: what promotion re-hashes (empty for an endpoint)."""
        if self.manifest is not None:
            m = self.manifest
            return {"run_id": m.run_id, "name": m.name, "stage": m.stage,
                    "path": display_path(m.adapter_dir, root), "sha256": m.adapter_sha256,
                    "files": dict(m.adapter_files)}
        if self.kind == ADAPTER:
            return {"run_id": self.run_id, "name": self.system.name, "stage": None,
                    "path": display_path(self.system.adapter_path, root),
                    "sha256": self.adapter_sha256, "files": dict(self.adapter_files)}
        return {}

    def info(self, root: Path) -> dict[str, Any]:
        """The verdict's `candidate`: its kind, how it is served, and its provenance."""
        system = self.system
        data: dict[str, Any] = {
            "kind": self.kind, "name": self.name,
            "system": {"name": system.name,
                       "path": display_path(system.path, root) if system.path else None,
                       "backend": system.config.backend.kind}}
        if self.kind == ENDPOINT:
            backend = system.config.backend
            data["endpoint"] = {"base_url": backend.base_url, "model": backend.model}
        if self.manifest is not None:
            data["provenance"] = {"kind": "manifest"}
        else:
            data["provenance"] = {"kind": "lock", "note": UNVERIFIED,
                                  **(self.lock.provenance(root) if self.lock else {})}
        return data


def candidate_system(manifest: Manifest, project: Project) -> System:
    """The system the adapter was trained with, plus `adapter:` its final stage."""
    config_path = project.root / manifest.raw.get("config_path", "")
    system_ref = (manifest.raw.get("config") or {}).get("system")
    if not system_ref:
        raise ConfigError("the manifest names no system", path=manifest.path, key="config.system",
                          fix="re-run `evalgate train`")
    system_path = (config_path.parent / system_ref).resolve()
    base = load_system(system_path)
    adapter = os.path.relpath(manifest.adapter_dir.resolve(), system_path.parent)
    config = base.config.model_copy(update={"adapter": adapter,
                                            "name": f"{manifest.name}-{manifest.stage}"})
    return System(path=system_path, config=config)


def resolve_candidate(project: Project, target: Path, system_path: Path | None = None
                      ) -> Candidate:
    """A training run folder, a PEFT adapter folder (with `system_path`), or a system YAML."""
    target = Path(target)
    if not target.exists():
        raise ConfigError("no such file or folder", path=target,
                          fix="pass a training run folder (adapters/<run-id>), a PEFT adapter "
                              "folder with --system, or a system YAML")
    if target.is_file() and target.suffix in SYSTEM_SUFFIXES:
        if system_path is not None:
            raise ConfigError("--system is for adapter folders; a system YAML is a candidate "
                              "of its own", path=system_path,
                              fix="pass either the system YAML or an adapter with --system")
        return _from_system(project, load_system(target))
    if _manifest_beside(target):
        if system_path is not None:
            raise ConfigError("--system is for adapters not trained by evalgate; this run's "
                              "manifest names the system it was trained with", path=system_path,
                              fix="drop --system")
        manifest = load_manifest(target)
        return Candidate(TRAINED, candidate_system(manifest, project), manifest.run_id,
                         manifest=manifest)
    folder = target if target.is_dir() else target.parent
    if not (folder / "adapter_config.json").is_file():
        raise ConfigError(
            "not a candidate: no manifest.json (a run `evalgate train` finished), no "
            "adapter_config.json (a PEFT adapter) and not a system YAML", path=target,
            fix="pass adapters/<run-id>, a folder PeftModel.save_pretrained wrote (with "
                "--system SYSTEM.yaml), or a system YAML")
    if system_path is None:
        raise ConfigError(
            "a PEFT adapter evalgate did not train needs the system it is served with",
            path=folder, fix="add --system baselines/<system>.yaml (its prompts are used with "
                             "the adapter on top of the base model)")
    served = load_system(system_path)
    if served.config.backend.kind != "local":
        raise ConfigError("an adapter folder runs on the local backend; this system names an "
                          f"{served.config.backend.kind} endpoint", path=system_path,
                          key="backend",
                          fix="use a local system, or gate the endpoint's system YAML itself")
    adapter = os.path.relpath(folder.resolve(), served.folder.resolve())
    config = served.config.model_copy(update={"adapter": adapter,
                                              "name": f"{folder.name}-{served.name}"})
    return _from_system(project, System(path=served.path, config=config))


def _from_system(project: Project, system: System) -> Candidate:
    backend = system.config.backend
    why = "a candidate evalgate did not train is gated against the criteria locked before it"
    if backend.kind != "local":
        lock = require_lock(project, why)
        identity = {"base_url": backend.base_url, "model": backend.model}
        return Candidate(ENDPOINT, system, _safe(f"{system.name}-{sha256_json(identity)[:12]}"),
                         lock=lock)
    adapter = system.adapter_path
    if adapter is None:
        raise ConfigError("this system has no adapter and no endpoint: it is a baseline, not a "
                          "candidate", path=system.path, key="adapter",
                          fix="set `adapter:` to a PEFT adapter folder or `backend:` to an "
                              "endpoint serving the fine-tuned model")
    if _manifest_beside(adapter):
        manifest = load_manifest(adapter)
        return Candidate(TRAINED, system, manifest.run_id, manifest=manifest)
    lock = require_lock(project, why)
    from evalgate.models.loading import adapter_sha256

    digest = adapter_sha256(adapter)
    return Candidate(ADAPTER, system, _safe(f"{adapter.name}-{digest[:12]}"), lock=lock,
                     adapter_files=adapter_file_hashes(adapter), adapter_sha256=digest)


def _manifest_beside(path: Path) -> bool:
    path = Path(path)
    if path.name == MANIFEST:
        return path.is_file()
    return (path / MANIFEST).is_file() or (path.parent / MANIFEST).is_file()


def _safe(name: str) -> str:
    """A folder name for reports/gate/: letters, digits, '-', '_' and '.' only."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return cleaned[:100] or "candidate"
