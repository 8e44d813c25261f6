"""JSONL datasets: strict loading (line numbers in errors), pinning by sha256, overlap checks."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from evalgate.errors import ConfigError
from evalgate.fileio import sha256_file


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


# Word n-grams for near-duplicate checks. Eight words is long enough that two independently
# written texts rarely share one by chance (stock phrases such as "please let me know as soon as
# possible" are shorter), yet short enough that a held-out text reused with a changed greeting,
# order number or a sentence added still shares most of its 8-grams with the copy.
NEAR_DUPLICATE_NGRAM = 8
NEAR_DUPLICATE_CONTAINMENT = 0.5


def word_ngrams(text: str, n: int = NEAR_DUPLICATE_NGRAM) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the `normalize_text` form; empty for texts shorter than n words."""
    words = normalize_text(text).split()
    return frozenset(zip(*(words[i:] for i in range(n))))


@dataclass(frozen=True)
class NearDuplicate:
    """A left text and a right text sharing `containment` of the smaller one's word n-grams."""

    left_id: str
    right_id: str
    containment: float


def near_duplicates(left: Iterable[tuple[str, str]], right: Iterable[tuple[str, str]], *,
                    n: int = NEAR_DUPLICATE_NGRAM,
                    threshold: float = NEAR_DUPLICATE_CONTAINMENT) -> list[NearDuplicate]:
    """Pairs whose word n-gram containment reaches `threshold`.

    Containment is |A ∩ B| / min(|A|, |B|): it flags a held-out text copied into a longer training
    text (and the reverse) where Jaccard similarity would be diluted by the extra words. Texts
    shorter than n words have no n-grams and are left to `exact_overlap`. An inverted index keeps
    this linear in the number of shared n-grams rather than quadratic in the number of texts.
    """
    index: dict[tuple[str, ...], list[int]] = {}
    right_items: list[tuple[str, int]] = []
    for example_id, text in right:
        grams = word_ngrams(text, n)
        for gram in grams:
            index.setdefault(gram, []).append(len(right_items))
        right_items.append((example_id, len(grams)))
    found: list[NearDuplicate] = []
    for left_id, text in left:
        grams = word_ngrams(text, n)
        if not grams:
            continue
        shared: dict[int, int] = {}
        for gram in grams:
            for position in index.get(gram, ()):
                shared[position] = shared.get(position, 0) + 1
        for position, count in shared.items():
            right_id, size = right_items[position]
            containment = count / min(len(grams), size)
            if containment >= threshold:
                found.append(NearDuplicate(left_id, right_id, round(containment, 3)))
    return found


def holdout_split(ids: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(members, non-members): a seeded shuffle puts round(fraction × n) ids aside, each list in
    input order. The same ids, fraction and seed always give the same split."""
    import random

    if not 0 <= fraction < 1:
        raise ValueError(f"holdout fraction must be in [0, 1), got {fraction}")
    order = list(ids)
    random.Random(f"evalgate-holdout:{seed}").shuffle(order)
    held = set(order[:round(fraction * len(order))])
    return [i for i in ids if i not in held], [i for i in ids if i in held]
