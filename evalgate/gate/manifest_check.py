"""The adapter's training manifest, as the gate reads it, and the "criteria fixed before
training" check.

`evalgate train` writes `adapters/<run-id>/manifest.json` (evalgate.train.manifest). The gate
relies on these fields only:

    run_id, name                     the run's identity
    adapter                          the final stage's folder name (e.g. "dpo"), in the run folder
    stages.<adapter>.adapter_sha256  hash of that folder (evalgate.models.loading.adapter_sha256)
    stages.<adapter>.files           {file name: sha256} of that folder
    config_path, config.system       the training YAML (relative to the project root) and the
                                     system YAML it names (relative to the training YAML): the
                                     prompt the adapter was trained with and is served with
    base_model                       {ref, identity, source}
    suites.<name>                    {path, config_sha256, data_sha256, criteria: {name: fp}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.project.config import Project
from evalgate.suite.load import Suite
from evalgate.systems.prompting import System, load_system
from evalgate.util.files import sha256_file

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    path: Path
    sha256: str
    run_dir: Path
    run_id: str
    name: str
    stage: str
    adapter_sha256: str
    adapter_files: dict[str, str]
    suites: dict[str, Any]
    base_model: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    @property
    def adapter_dir(self) -> Path:
        return self.run_dir / self.stage


def find_manifest(adapter: Path) -> Path:
    """ADAPTER is the run folder (adapters/<run-id>), a stage folder in it, or manifest.json."""
    adapter = Path(adapter)
    for candidate in (adapter if adapter.name == MANIFEST else adapter / MANIFEST,
                      adapter.parent / MANIFEST):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no {MANIFEST} for adapter {adapter}", path=adapter,
                      fix="pass the run folder `evalgate train` wrote (adapters/<run-id>); a "
                          "run without a manifest did not finish")


def load_manifest(adapter: Path) -> Manifest:
    """Read and check the manifest; the adapter files must still be the ones it names."""
    path = find_manifest(adapter)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        stage = raw["adapter"]
        stage_info = raw["stages"][stage]
        manifest = Manifest(
            path=path, sha256=sha256_file(path), run_dir=path.parent, run_id=str(raw["run_id"]),
            name=str(raw["name"]), stage=str(stage),
            adapter_sha256=str(stage_info["adapter_sha256"]),
            adapter_files=dict(stage_info["files"]), suites=dict(raw["suites"]),
            base_model=dict(raw.get("base_model") or {}), raw=raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"not a readable training manifest: {exc!r}", path=path,
                          fix="re-run `evalgate train` to write it again") from exc
    if os.sep in manifest.stage or manifest.stage in ("", ".", ".."):
        raise ConfigError(f"adapter '{manifest.stage}' is not a folder name", path=path,
                          key="adapter", fix="re-run `evalgate train`")
    verify_adapter_files(manifest)
    return manifest


def adapter_file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


def verify_adapter_files(manifest: Manifest) -> None:
    folder = manifest.adapter_dir
    if not folder.is_dir():
        raise ConfigError(f"adapter folder {folder} is missing", path=manifest.path,
                          key="adapter", fix="re-run `evalgate train`")
    actual = adapter_file_hashes(folder)
    changed = sorted(name for name, digest in manifest.adapter_files.items()
                     if actual.get(name) != digest)
    if changed:
        raise ConfigError(f"adapter files differ from the manifest: {', '.join(changed)}",
                          path=folder, fix="the adapter was modified after training; re-train "
                                           "it (`evalgate train --restart`)")


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


def changed_criteria(manifest: Manifest, suites: list[Suite]) -> list[str]:
    """What differs between the suites now and the suites at training time, in plain words."""
    changes = []
    pinned = manifest.suites
    for suite in suites:
        then = pinned.get(suite.name)
        if then is None:
            changes.append(f"suite '{suite.name}' was added after training")
            continue
        if then.get("data_sha256") not in (None, suite.dataset.sha256):
            changes.append(f"suite '{suite.name}': its data changed")
        before, now = dict(then.get("criteria") or {}), dict(suite.fingerprints)
        for name in sorted(set(before) | set(now)):
            if name not in before:
                changes.append(f"suite '{suite.name}': criterion '{name}' was added")
            elif name not in now:
                changes.append(f"suite '{suite.name}': criterion '{name}' was removed")
            elif before[name] != now[name]:
                changes.append(f"suite '{suite.name}': criterion '{name}' changed (metric, "
                               "reference or options)")
        if then.get("config_sha256") != suite.config_sha256 and not any(
                c.startswith(f"suite '{suite.name}'") for c in changes):
            changes.append(f"suite '{suite.name}': its configuration changed (a bound, the "
                           "input template or generation settings)")
    names = {suite.name for suite in suites}
    changes.extend(f"suite '{name}' was removed since training" for name in sorted(pinned)
                   if name not in names)
    return changes
