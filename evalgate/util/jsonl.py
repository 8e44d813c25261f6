"""JSONL datasets: strict loading (line numbers in errors) and pinning by sha256."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from evalgate.errors import ConfigError
from evalgate.util.files import sha256_file

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

# A data pin as users write it. YAML reads `sha256: 0000` as the number 0, so any scalar is
# taken as text here and checked against the file's real hash when the data loads, where the
# error can name both hashes (a pattern error could only say "should match ^[0-9a-f]{64}$").
Sha256Pin = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float))
                                           else v)]


@dataclass(frozen=True)
class Dataset:
    """Examples of one JSONL file, in file order, with the file's hash."""

    path: Path
    sha256: str
    examples: tuple[dict[str, Any], ...]
    id_field: str
    lines: tuple[int, ...] = ()  # the file line of each example (errors name it)

    def line_of(self, index: int) -> int | None:
        return self.lines[index] if index < len(self.lines) else None

    def __len__(self) -> int:
        return len(self.examples)

    def ids(self) -> list[str]:
        return [str(example[self.id_field]) for example in self.examples]


def load_jsonl(path: Path, *, id_field: str = "id", required: Sequence[str] = (),
               expected_sha256: str | None = None, pin_key: str = "sha256",
               pinned_by: Path | None = None) -> Dataset:
    """Load a JSONL file; every problem is a ConfigError naming the file, line and fix.

    With `expected_sha256` the file must hash to it: data must never change silently under a
    criterion. `pinned_by` is the config file holding the pin (named in the error).
    """
    if not path.is_file():
        raise ConfigError("data file not found", path=path,
                          fix="check the `data:` path (relative to the suite file)")
    digest = sha256_file(path)
    if expected_sha256 is not None and not _SHA256.match(expected_sha256):
        raise ConfigError(
            f"the pin `{expected_sha256}` is not a sha256 (64 hex digits); the data file "
            f"{path.name} hashes to {digest}", path=pinned_by or path, key=pin_key,
            fix=f"set `{pin_key}: {digest}` (or run `evalgate pin`)")
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ConfigError(
            f"data file {os.path.normpath(path)} changed: its sha256 is {digest}, the pin says {expected_sha256}",
            path=pinned_by or path, key=pin_key,
            fix=f"if the change is intended, run `evalgate pin` or set `{pin_key}: {digest}` "
                "(criteria results from the old data will no longer compare)",
        )
    examples: list[dict[str, Any]] = []
    lines: list[int] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                example = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=path,
                                  line=number, fix="make each line one JSON object") from exc
            if not isinstance(example, dict):
                raise ConfigError("each line must be a JSON object", path=path, line=number,
                                  fix='write lines like {"id": "...", ...}')
            for field in (id_field, *required):
                if field not in example:
                    raise ConfigError(f"missing field '{field}'", path=path, line=number,
                                      fix=f"add '{field}' to every example")
            example_id = str(example[id_field])
            if example_id in seen:
                raise ConfigError(
                    f"duplicate example id '{example_id}' (first on line {seen[example_id]})",
                    path=path, line=number, fix="give every example a unique id")
            seen[example_id] = number
            examples.append(example)
            lines.append(number)
    if not examples:
        raise ConfigError("dataset is empty", path=path,
                          fix="add at least one example (one JSON object per line)")
    return Dataset(path=path, sha256=digest, examples=tuple(examples), id_field=id_field,
                   lines=tuple(lines))
