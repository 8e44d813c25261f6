"""evalgate.yaml → a validated Project: the model, suites, baselines and where outputs go."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from evalgate.errors import ConfigError
from evalgate.suite.criteria import Name
from evalgate.util.yamlio import StrictModel, load_yaml_model

PROJECT_FILE = "evalgate.yaml"
DEFAULT_MODEL = "smollm2-135m-instruct"


class ModelConfig(StrictModel):
    base: str = Field(DEFAULT_MODEL, description="alias, local folder or hub id")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    quantization: Literal["none", "nf4"] = "none"
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")


class EngineConfig(StrictModel):
    token_budget: int = Field(8192, ge=64, description="padded tokens per batch")
    max_batch: int = Field(64, ge=1, le=1024)


class ProjectConfig(StrictModel):
    name: Name
    model: ModelConfig = Field(default_factory=ModelConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    suites: list[str] = Field(default_factory=list)
    baselines: list[str] = Field(default_factory=list)
    cache: str = ".evalgate/cache.sqlite"
    reports: str = "reports"


@dataclass(frozen=True)
class Project:
    root: Path
    path: Path
    config: ProjectConfig
    # `evalgate run --quick`: evaluate only each suite's first N examples (None: all of them).
    example_limit: int | None = None

    @property
    def cache_path(self) -> Path:
        return self.root / self.config.cache

    @property
    def reports_dir(self) -> Path:
        return self.root / self.config.reports

    @property
    def suite_paths(self) -> list[Path]:
        return [self.root / p for p in self.config.suites]

    @property
    def baseline_paths(self) -> list[Path]:
        return [self.root / p for p in self.config.baselines]

    def resolve_model_ref(self, ref: str) -> str:
        """A relative local path in evalgate.yaml is relative to the project root."""
        candidate = self.root / ref
        return str(candidate) if not os.path.isabs(ref) and candidate.exists() else ref


def find_project_file(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def load_project(path: Path | None = None, start: Path | None = None) -> Project:
    """Load the given evalgate.yaml, or the nearest one at or above `start` (default: cwd)."""
    if path is None:
        start = (start or Path.cwd()).resolve()
        path = find_project_file(start)
        if path is None:
            raise ConfigError(f"no {PROJECT_FILE} in {start} or any parent folder",
                              fix="run from a project folder, pass --project PATH, or write "
                                  f"a {PROJECT_FILE} (see the README's project format)")
    path = Path(path).resolve()
    if path.is_dir():  # `--project .` or `--project ~/projects/triage`: the file inside it
        folder, path = path, path / PROJECT_FILE
        if not path.is_file():
            raise ConfigError(f"no {PROJECT_FILE} in this folder", path=folder,
                              fix=f"pass the project folder (the one holding {PROJECT_FILE}) "
                                  "or the file itself; to start a project here, run "
                                  "`evalgate init EXAMPLES.jsonl --dir "
                                  f"{_quoted(folder)}`")
    elif not path.exists():
        raise ConfigError("project file not found", path=path,
                          fix=f"pass an existing {PROJECT_FILE} or the folder holding it")
    config = load_yaml_model(ProjectConfig, path)
    return Project(root=path.parent, path=path, config=config)


def _quoted(folder: Path) -> str:
    """The folder as a shell argument: relative to here when inside it, quoted if needed."""
    import shlex

    try:
        shown = str(folder.relative_to(Path.cwd())) or "."
    except ValueError:
        shown = str(folder)
    return shlex.quote(shown)
