"""Reading user-written YAML into pydantic models, with errors that name file, key and fix.

Every config model forbids unknown keys: in a gatekeeper a typo in a criterion must be an
error, never a silently ignored line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from evalgate.errors import ConfigError
from evalgate.util.jsonl import decode_utf8

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for everything a user writes: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping; a missing file, a syntax error or a non-mapping is a ConfigError."""
    if not path.is_file():
        raise ConfigError("file not found", path=path, fix="check the path (it is relative to "
                          "the file that names it, or to the current folder on the command line)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", path=path,
                          fix="make it readable (check its permissions)") from exc
    text = decode_utf8(raw, path)  # not UTF-8: an error naming the line and the likely encoding
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", path=path, line=line,
                          fix="fix the YAML syntax at that line") from exc
    except RecursionError as exc:  # [[[[…]]]] thousands deep
        raise ConfigError("invalid YAML: nested too deeply", path=path,
                          fix="flatten the structure (a config needs a few levels)") from exc
    if data is None:
        raise ConfigError("the file is empty (or only comments)", path=path,
                          fix="write the configuration (`name: ...` style keys)")
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of keys to values at the top level", path=path,
                          fix="start the file with `name: ...` style keys")
    return data


def parse_model(model: type[ModelT], data: dict[str, Any], path: Path,
                context: dict[str, Any] | None = None) -> ModelT:
    """Validate `data` as `model`; every pydantic error becomes one line naming its key."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = ".".join(_user_key(data, error["loc"])) or "(top level)"
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = "unknown key (a typo? unknown keys are not allowed)"
            elif error["type"] == "union_tag_invalid":
                context = error.get("ctx", {})
                kind = str(context.get("discriminator", "kind")).strip("'")
                message = (f"unknown {kind} '{context.get('tag')}'; "
                           f"known: {context.get('expected_tags')}")
            lines.append(f"  {key}: {message}")
        raise ConfigError(
            "invalid configuration:\n" + "\n".join(lines),
            path=path,
            fix="correct the keys listed above (see README for the format)",
        ) from exc


def _user_key(data: Any, loc: tuple[Any, ...]) -> list[str]:
    """The key as the user wrote it: pydantic puts a discriminated union's tag into the error
    location (`backend.openai.base_url`); the file says `backend: {kind: openai, base_url:}`."""
    parts, node = [], data
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue
        parts.append(str(part))
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int)
            and part < len(node) else None)
    return parts


def load_yaml_model(model: type[ModelT], path: Path,
                    context: dict[str, Any] | None = None) -> ModelT:
    return parse_model(model, read_yaml(path), path, context)
