"""A project: `evalgate.yaml` and what it names. `config.py` loads it, `scaffold.py` writes a
first one (`evalgate init`), `pins.py` updates data pins, `check.py` validates everything."""

from evalgate.project.config import (
    DEFAULT_MODEL,
    PROJECT_FILE,
    Project,
    ProjectConfig,
    find_project_file,
    load_project,
)

__all__ = ["DEFAULT_MODEL", "PROJECT_FILE", "Project", "ProjectConfig", "find_project_file",
           "load_project"]
