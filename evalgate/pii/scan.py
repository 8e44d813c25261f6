"""Personal data in a JSONL dataset: every string field is scanned, whatever its nesting, and a
scrubbed copy can be written with each value replaced by a placeholder.

Why placeholders that are consistent across the file (`<PHONE_2>` wherever that number was,
however it was written) rather than one `<PHONE>`: the scrubbed data still says that two
tickets came from the same customer, which a model may need to learn (a repeated complaint),
without the model being able to memorise who the customer is.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.pii.detect import KINDS, Finding, Kind, find_pii, normalise
from evalgate.pii.mask import mask
from evalgate.util.files import atomic_write_text
from evalgate.util.jsonl import decode_utf8, read_json_lines

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


@dataclass(frozen=True)
class Occurrence:
    """One finding in the file: the line and field path (`messages[1].content`) it is in."""

    line: int
    field: str
    finding: Finding
    key: str  # normalise(finding): the same value written two ways has the same key


@dataclass(frozen=True)
class FieldSummary:
    """The findings of one kind in one field, as a table row shows them (no plain values)."""

    field: str
    kind: Kind
    count: int
    distinct: int
    lines: tuple[int, ...]
    examples: tuple[str, ...]  # masked, one per distinct value, at most three


@dataclass(frozen=True)
class ScanReport:
    """What a scan of one file found: every occurrence, in file order."""

    path: Path
    rows: int
    strings: int
    occurrences: tuple[Occurrence, ...]

    @property
    def found(self) -> bool:
        return bool(self.occurrences)

    @property
    def distinct(self) -> int:
        return len({(o.finding.kind, o.key) for o in self.occurrences})

    @property
    def rows_with_pii(self) -> int:
        return len({o.line for o in self.occurrences})

    def kind_counts(self) -> dict[Kind, tuple[int, int]]:
        """(occurrences, distinct values) for every kind, zeros included."""
        counts: dict[Kind, tuple[int, int]] = {}
        for kind in KINDS:
            of_kind = [o for o in self.occurrences if o.finding.kind == kind]
            counts[kind] = (len(of_kind), len({o.key for o in of_kind}))
        return counts

    def by_field(self) -> list[FieldSummary]:
        """One row per field and kind, fields in the order they first appear."""
        groups: dict[tuple[str, Kind], list[Occurrence]] = {}
        for occurrence in self.occurrences:
            groups.setdefault((occurrence.field, occurrence.finding.kind), []).append(occurrence)
        summaries = []
        for (field, kind), found in groups.items():
            examples: dict[str, str] = {}
            for occurrence in found:
                if len(examples) < 3:
                    examples.setdefault(occurrence.key, mask(occurrence.finding))
            summaries.append(FieldSummary(
                field=field, kind=kind, count=len(found),
                distinct=len({o.key for o in found}),
                lines=tuple(sorted({o.line for o in found})),
                examples=tuple(examples.values())))
        return summaries


@dataclass(frozen=True)
class ScrubResult:
    """A scrubbed copy written: where, how many values were replaced and by how many
    placeholders (one per distinct value)."""

    path: Path
    replaced: int
    placeholders: int


def scan_file(path: Path) -> ScanReport:
    """Scan every string of every row of a JSONL file. Bad input (missing, not UTF-8, broken
    JSON, a line that is not an object, no rows) is a ConfigError naming the file and line."""
    rows = _read_rows(path)
    occurrences: list[Occurrence] = []
    strings = 0
    for line, row in rows:
        with _nesting_limit(path, line):
            for field, text in iter_strings(row):
                strings += 1
                occurrences.extend(Occurrence(line=line, field=field, finding=finding,
                                              key=normalise(finding))
                                   for finding in find_pii(text))
    return ScanReport(path=path, rows=len(rows), strings=strings,
                      occurrences=tuple(occurrences))


def iter_strings(value: Any, field: str = "") -> Iterator[tuple[str, str]]:
    """(field path, string) for every string in a JSON value, depth first in document order:
    `ticket`, `expected.order_id`, `messages[1].content`, `meta["first name"]`. Keys are not
    scanned: they are a schema, not data."""
    if isinstance(value, str):
        yield field, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_strings(item, _child(field, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_strings(item, f"{field}[{index}]")


def check_scrub_target(src: Path, dst: Path, *, overwrite_source: bool = False) -> None:
    """Refuse a destination that would destroy data: the source itself (unless explicitly
    allowed: a scrub cannot be undone) or a folder."""
    if dst.is_dir():
        raise ConfigError("the scrub destination is a folder", path=dst,
                          fix="give a file name, e.g. " + str(dst / _scrubbed_name(src)))
    if _same_file(src, dst) and not overwrite_source:
        raise ConfigError(
            "the scrubbed copy would overwrite the file being scanned", path=dst,
            fix=f"write it to another file (e.g. --scrub {src.with_name(_scrubbed_name(src))}),"
                " or add --overwrite-source to replace the original (it cannot be undone)")


def scrub_file(src: Path, dst: Path, *, overwrite_source: bool = False) -> ScrubResult:
    """Write a copy of `src` to `dst` (atomically) with every finding replaced by a placeholder
    per kind and value (`<EMAIL_1>`, `<PHONE_2>`: the same normalised value gets the same
    placeholder everywhere in the file, numbered in order of first appearance). Lines without
    personal data are copied as they are, blank lines included (line breaks become \\n), so
    line numbers still match and a diff shows only what was scrubbed."""
    check_scrub_target(src, dst, overwrite_source=overwrite_source)
    rows = _read_rows(src)
    # The text again, to copy untouched lines as they are (read_json_lines returns objects).
    source_text = decode_utf8(src.read_bytes(), src)
    out = source_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    names: dict[tuple[str, str], str] = {}
    replaced = 0

    def scrub(text: str) -> str:
        nonlocal replaced
        findings = find_pii(text)
        labels = [_placeholder(finding, names) for finding in findings]  # numbered in order
        for finding, label in zip(reversed(findings), reversed(labels)):
            # from the end, so the offsets of earlier findings stay valid
            text = text[:finding.start] + label + text[finding.end:]
        replaced += len(findings)
        return text

    # Placeholders are numbered in reading order, so rows are scrubbed first to last.
    for line, row in rows:
        before = replaced
        with _nesting_limit(src, line):
            scrubbed = _map_strings(row, scrub)
        if replaced != before:
            out[line - 1] = json.dumps(scrubbed, ensure_ascii=False)
    atomic_write_text(dst, "\n".join(out))
    return ScrubResult(path=dst, replaced=replaced, placeholders=len(names))


def _placeholder(finding: Finding, names: dict[tuple[str, str], str]) -> str:
    key = (finding.kind, normalise(finding))
    if key not in names:
        number = sum(1 for kind, _ in names if kind == finding.kind) + 1
        names[key] = f"<{finding.kind.upper()}_{number}>"
    return names[key]


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """`value` with every string passed through `change`, the structure and key order kept."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


@contextmanager
def _nesting_limit(path: Path, line: int) -> Iterator[None]:
    """A row that JSON could parse but that is nested deeper than the walk can recurse (some
    hundreds of levels) is bad input naming its line, not a crash."""
    try:
        yield
    except RecursionError:
        raise ConfigError("the row is nested too deeply to scan", path=path, line=line,
                          fix="flatten the row (no dataset needs hundreds of nested levels)"
                          ) from None


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.exists():
        raise ConfigError("file not found", path=path,
                          fix="check the path (a JSONL file: one JSON object per line)")
    if path.is_dir():
        raise ConfigError("this is a folder, not a JSONL file", path=path,
                          fix="name one .jsonl file, e.g. " + str(path / "train.jsonl"))
    rows = read_json_lines(path)
    if not rows:
        raise ConfigError("the file has no rows (it is empty or only blank lines)", path=path,
                          fix="point at a JSONL file with one JSON object per line")
    return rows


def _child(field: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{field}.{key}" if field else key
    return f"{field}[{json.dumps(key, ensure_ascii=False)}]"


def _scrubbed_name(src: Path) -> str:
    return f"{src.stem}.scrubbed{src.suffix or '.jsonl'}"


def _same_file(src: Path, dst: Path) -> bool:
    if dst.exists() and src.exists():
        return os.path.samefile(src, dst)
    return src.resolve() == dst.resolve()
