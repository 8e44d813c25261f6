"""The file of examples a new user hands `evalgate init`, read strictly.

JSON lines, one JSON array of objects, or CSV/TSV with a header row (by suffix, or by content
when a file clearly is delimited text): rows in file order, each with the line (or array item)
it came from, so every problem names where it is. The stdlib `csv` reader in strict mode, not
pandas: pandas quietly reshapes a broken file (a ragged row becomes the index, short rows are
padded, a repeated column is renamed) where init must name the row. Anything else is a
ConfigError saying what the file looks like and what init reads.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalgate.errors import ConfigError
from evalgate.metrics.base import describe_value
from evalgate.util.jsonl import decode_utf8, json_objects, read_bytes


@dataclass(frozen=True, eq=False)
class Examples:
    """The examples of one file as `init` read it: rows in file order, where each one is
    (`unit` and `numbers`: "line 12" in JSON lines and CSV, "item 3" in a JSON array), and,
    for a file that is not JSON lines, a note saying how it was read."""

    path: Path
    rows: tuple[dict[str, Any], ...]
    numbers: tuple[int, ...]
    unit: str = "line"
    note: str = ""


_WRITTEN_AS_JSONL = "the project's data files are written as JSON lines, which suites read"
_WHAT_INIT_READS = ("give JSON lines (one object per line, e.g. {\"input\": \"…\", "
                    "\"reference\": \"…\"}), a JSON array of such objects, or a CSV/TSV file "
                    "with a header row (.csv, .tsv)")
# suffix → delimiter: a file named so is read as delimited text (unless it holds JSON lines).
_DELIMITED = {".csv": ",", ".tsv": "\t"}
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}


def read_examples(path: Path) -> Examples:
    """Every example of a JSON lines, JSON array, CSV or TSV file (by name, or by content
    when the name says nothing: a `.jsonl` that is really CSV is read as CSV, with a note).
    Errors name the file, the line and the fix."""
    if not path.is_file():
        raise ConfigError("examples file not found", path=path,
                          fix="pass a JSONL (or CSV) file with one example per line")
    text = decode_utf8(read_bytes(path), path)
    suffix = path.suffix.lower()
    if not text.strip():
        raise ConfigError("the examples file is empty", path=path,
                          fix="add a header row and one example per row" if suffix in _DELIMITED
                          else "add examples, one JSON object per line")
    first_number, first = next((n, line) for n, line in enumerate(_lines(text), start=1)
                               if line.strip())
    if suffix in _DELIMITED and not (first.lstrip().startswith("{") and _is_json(first)):
        return _read_delimited(text, path, _delimiter(text, _DELIMITED[suffix]), by_name=True)
    start = first.lstrip()[:1]
    if start == "[":  # one array (on one line or many), or lines that are each one
        try:
            return _read_array(json.loads(text), path)
        except (ValueError, RecursionError) as exc:
            if not _is_json(first):  # no line is a value on its own: one array, broken
                where = (f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
                         if isinstance(exc, json.JSONDecodeError) else "nested too deeply")
                raise ConfigError(
                    f"the file starts like one JSON array but is not valid JSON ({where})",
                    path=path, line=getattr(exc, "lineno", None),
                    fix="correct the JSON there (a trailing comma, a missing quote), or write "
                        "one object per line") from None
    if _is_json(first):  # JSON lines; errors on later lines name them
        examples = _read_json_lines(text, path)
        if suffix in _DELIMITED:
            return dataclasses.replace(examples, note=f"read {path.name} as JSON lines (its "
                                       "content is JSON, whatever its name says)")
        return examples
    if start == "{":
        values = _json_values(text)
        if values and all(isinstance(value, dict) for value in values):
            raise ConfigError(_pretty_printed(values), path=path, line=first_number,
                              fix=_pretty_printed_fix(values, path))
        return _read_json_lines(text, path)  # names the first malformed line
    delimiter = _delimiter(text, "\t" if "\t" in first else ",")
    if _looks_delimited(text, path, delimiter):
        return _read_delimited(text, path, delimiter, by_name=False)
    shown = first.strip()
    shown = shown if len(shown) <= 50 else shown[:49] + "…"
    raise ConfigError(f"this is not JSON lines: line {first_number} is plain text "
                      f"(`{shown}`), not a JSON object", path=path, line=first_number,
                      fix=_WHAT_INIT_READS)


def _lines(text: str) -> list[str]:
    # The line breaks of text-mode reading, as `json_objects` counts them.
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except (ValueError, RecursionError):
        return False
    return True


def _json_values(text: str) -> list[Any] | None:
    """The JSON values the text holds one after another (however laid out), or None when it
    is not a sequence of JSON values."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at] in " \t\r\n":
            at += 1
        if at == len(text):
            return values
        try:
            value, at = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):
            return None
        values.append(value)


def _read_json_lines(text: str, path: Path) -> Examples:
    found = list(json_objects(text, path))
    return Examples(path, tuple(row for _, row in found), tuple(n for n, _ in found))


def _read_array(items: list[Any], path: Path) -> Examples:
    if not items:
        raise ConfigError("the file is an empty JSON array", path=path,
                          fix="add examples: objects with an input and a reference field")
    bad = next((i for i, item in enumerate(items) if not isinstance(item, dict)), None)
    if bad is not None:
        raise ConfigError(f"the file is one JSON array, and its item {bad + 1} is "
                          f"{describe_value(items[bad])}, not an object", path=path,
                          fix="make every item an object with an input and a reference field, "
                              'e.g. {"input": "…", "reference": "…"}')
    return Examples(path, tuple(items), tuple(range(1, len(items) + 1)), unit="item",
                    note=f"read {path.name} as one JSON array of {len(items)} objects (not "
                         f"JSON lines); {_WRITTEN_AS_JSONL}")


def _pretty_printed(values: list[dict[str, Any]]) -> str:
    what = ("one JSON object" if len(values) == 1
            else f"{len(values)} JSON objects")
    return (f"the file holds {what} spread over several lines (pretty-printed JSON), not one "
            "example per line")


def _pretty_printed_fix(values: list[dict[str, Any]], path: Path) -> str:
    lists = [key for key, value in values[0].items() if isinstance(value, list) and value
             and all(isinstance(item, dict) for item in value)] if len(values) == 1 else []
    select = "."
    if len(lists) == 1:
        key = lists[0]
        select = (f".{key}[]" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key)
                  else f".[{json.dumps(key)}][]")
    # never the input's own name: `jq … a.jsonl > a.jsonl` empties the file
    target = path.stem + (".lines.jsonl" if path.suffix.lower() == ".jsonl" else ".jsonl")
    under = f" (the examples are the list under '{lists[0]}')" if len(lists) == 1 else ""
    return f"write one object per line, e.g. `jq -c '{select}' {path.name} > {target}`{under}"


def _delimiter(text: str, default: str) -> str:
    """The delimiter of a header row: the default when it holds one, else a tab or a
    semicolon (a spreadsheet's CSV export in many locales) when it holds that."""
    header = next(line for line in _lines(text) if line.strip())
    return next((d for d in (default, ",", "\t", ";") if d in header), default)


def _looks_delimited(text: str, path: Path, delimiter: str) -> bool:
    """A header row of at least two distinct, non-empty names, and rows below it of the same
    width: CSV or TSV by content, whatever the file is called."""
    try:
        records = _records(text, path, delimiter)[:6]
    except ConfigError:
        return False
    if len(records) < 2:
        return False
    header = [cell.strip() for cell in records[0][1]]
    return (len(header) >= 2 and all(header) and len(set(header)) == len(header)
            and all(len(cells) == len(header) for _, cells in records[1:]))


def _records(text: str, path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line the record starts on, cells) for every non-blank record. The stdlib reader, not
    pandas: pandas quietly reshapes a ragged file (one extra field on every row becomes an
    index column, a short row is padded, a repeated column is renamed `a.1`) and cannot say
    on which line a record with a quoted line break starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True,
                        skipinitialspace=True)
    records: list[tuple[int, list[str]]] = []
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return records
        except csv.Error as exc:
            kind = "TSV" if delimiter == "\t" else "CSV"
            problem = (f"a quoted field that starts in the row on line {start} is never closed"
                       if "end of data" in str(exc) else
                       f"{exc} (in the row that starts on line {start})")
            raise ConfigError(f"unreadable {kind}: {problem}", path=path, line=start,
                              fix="a field holding the delimiter, a quote or a line break must "
                                  'be in double quotes, with quotes inside it doubled ("")'
                              ) from None
        end = reader.line_num
        if any(cell.strip() for cell in cells):
            records.append((start, cells))


def _read_delimited(text: str, path: Path, delimiter: str, *, by_name: bool) -> Examples:
    """A CSV or TSV file with a header row, read strictly: a row wider or narrower than the
    header, a nameless or repeated column, a broken quote is an error naming its line."""
    kind = "TSV" if delimiter == "\t" else "CSV"
    records = _records(text, path, delimiter)
    header_line, header = records[0][0], [cell.strip() for cell in records[0][1]]
    unused = [i for i, name in enumerate(header) if not name
              and all(i >= len(cells) or not cells[i].strip() for _, cells in records[1:])]
    for i, name in enumerate(header):
        if i in unused:
            continue
        if not name:
            raise ConfigError(f"column {i + 1} of the header has no name", path=path,
                              line=header_line, fix="name every column in the header row")
        if header.index(name) != i:
            raise ConfigError(f"column '{name}' appears twice in the header (columns "
                              f"{header.index(name) + 1} and {i + 1})", path=path,
                              line=header_line, fix="give every column its own name")
    if len(records) == 1:
        raise ConfigError(f"the {kind} file has a header row (columns "
                          f"{', '.join(n for n in header if n)}) but no examples below it",
                          path=path, line=header_line,
                          fix="add one example per row below the header")
    rows = []
    for line, cells in records[1:]:
        if len(cells) > len(header) and not any(c.strip() for c in cells[len(header):]):
            cells = cells[:len(header)]  # trailing delimiters: nothing is lost
        if len(cells) != len(header):
            raise ConfigError(
                f"this row has {_count(len(cells), 'field')}, but the header has "
                f"{len(header)} ({', '.join(header)})", path=path, line=line,
                fix=("put a field holding the delimiter in double quotes, e.g. \"Hello, world\""
                     if len(cells) > len(header) else
                     "fill in the missing fields; a line break inside a field splits the row "
                     "unless the field is in double quotes"))
        rows.append({name: cell for i, (name, cell) in enumerate(zip(header, cells))
                     if i not in unused})
    columns = [name for i, name in enumerate(header) if i not in unused]
    how = f"{kind}" if delimiter in ",\t" else f"{kind} ({_DELIMITER_NAMES[delimiter]}-separated)"
    why = "" if by_name else (f" (its content is {_DELIMITER_NAMES[delimiter]}-separated with a "
                              f"header row, whatever its name says)")
    return Examples(path, tuple(rows), tuple(line for line, _ in records[1:]),
                    note=f"read {path.name} as {how}{why}: {len(rows)} rows, columns "
                         f"{', '.join(columns)}; {_WRITTEN_AS_JSONL}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
