"""JSONL datasets: strict loading (line numbers in errors), pinning by sha256, overlap checks."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.fileio import sha256_file


@dataclass(frozen=True)
class Dataset:
    """Examples of one JSONL file, in file order, with the file's hash."""

    path: Path
    sha256: str
    examples: tuple[dict[str, Any], ...]
    id_field: str

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
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ConfigError(
            f"data file {path} changed: its sha256 is {digest}, the pin says {expected_sha256}",
            path=pinned_by or path, key=pin_key,
            fix=f"if the change is intended, set `{pin_key}: {digest}` (criteria results from "
                "the old data will no longer compare)",
        )
    examples: list[dict[str, Any]] = []
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
    if not examples:
        raise ConfigError("dataset is empty", path=path,
                          fix="add at least one example (one JSON object per line)")
    return Dataset(path=path, sha256=digest, examples=tuple(examples), id_field=id_field)


_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive form used for overlap checks."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACE.sub(" ", _PUNCT.sub(" ", stripped)).strip()


def exact_overlap(left: Iterable[tuple[str, str]],
                  right: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Pairs of (left id, right id) whose texts are equal after `normalize_text`."""
    index: dict[str, list[str]] = {}
    for example_id, text in right:
        index.setdefault(normalize_text(text), []).append(example_id)
    return [(left_id, right_id) for left_id, text in left
            for right_id in index.get(normalize_text(text), [])]
