"""The manifest of a training run: everything needed to say what an adapter is and how it came
to be, written last (atomically) so that its presence means "this run finished".

It records the base model and its weights hash, the hashes of the training data, pairs and the
non-member split (and both id lists, for the leakage checks), the full resolved config and
seeds, library versions, the chat template's hash, the git commit, per-step metrics and adapter
file hashes per stage, and the hash of every suite and criterion of the project at training
time: the gate compares those with the suites it runs to prove the criteria were fixed before
the adapter was trained.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalgate import __version__
from evalgate.errors import ConfigError
from evalgate.suite.load import Suite
from evalgate.util.clock import utc_now
from evalgate.util.files import atomic_write_json, sha256_file, sha256_json

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
LIBRARIES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"evalgate": __version__,
                                       "python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Path) -> dict[str, Any] | None:
    """HEAD commit and whether tracked files differ from it; None outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              check=True, timeout=20).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def suite_fingerprints(suites: Sequence[Suite], root: Path) -> dict[str, Any]:
    """Per suite: its config hash (criteria and data hash included) and each criterion's."""
    result = {}
    for suite in suites:
        try:
            shown = str(suite.path.resolve().relative_to(root))
        except ValueError:
            shown = str(suite.path)
        result[suite.name] = {"path": shown, "config_sha256": suite.config_sha256,
                              "data_sha256": suite.dataset.sha256,
                              "criteria": dict(suite.fingerprints)}
    return result


def now() -> str:
    return utc_now()


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> Path:
    path = run_dir / MANIFEST
    atomic_write_json(path, {"manifest_version": MANIFEST_VERSION, **manifest})
    return path


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The raw manifest of a finished run (None when unfinished), for reusing the run."""
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def ids_sha256(ids: Sequence[str]) -> str:
    return sha256_json(list(ids))


# --- reading, as the gate and the registry do -----------------------------------------------
#
# The gate relies on these fields only (every manifest_version so far has them):
#
#     run_id, name                     the run's identity
#     adapter                          the final stage's folder name (e.g. "dpo"), in the run folder
#     stages.<adapter>.adapter_sha256  hash of that folder (evalgate.models.loading.adapter_sha256)
#     stages.<adapter>.files           {file name: sha256} of that folder
#     config_path, config.system       the training YAML (relative to the project root) and the
#                                      system YAML it names (relative to the training YAML)
#     base_model                       {ref, identity, source}
#     suites.<name>                    {path, config_sha256, data_sha256, criteria: {name: fp}}
#
# and reads, where present (added without a version bump: absent means the old meaning):
#
#     hardware.processes               processes that trained the run (`accelerate launch`);
#                                      absent in manifests written before it: one


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

    @property
    def processes(self) -> int:
        """How many processes trained the adapter (their batches add up to one step)."""
        hardware = self.raw.get("hardware") or {}
        return int(hardware.get("processes") or 1)


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
        version = int(raw.get("manifest_version", 1))
        if version > MANIFEST_VERSION:
            raise ConfigError(f"manifest_version {version} was written by a newer evalgate "
                              f"(this one reads up to {MANIFEST_VERSION})", path=path,
                              fix="upgrade evalgate to gate this adapter")
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


