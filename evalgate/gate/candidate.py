"""The system a trained adapter is judged with: the one it was trained with (its manifest names
the training YAML, which names the system), plus `adapter:` its final stage."""

from __future__ import annotations

import os

from evalgate.errors import ConfigError
from evalgate.project.config import Project
from evalgate.systems.prompting import System, load_system
from evalgate.train.manifest import Manifest


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
