"""JSONL datasets: strict loading (line numbers in errors) and pinning by sha256.

Also the one UTF-8 decoder for user files (`decode_utf8`, used by the YAML reader too): a file
saved in another encoding is an error naming the line and column of the first bad byte and,
when cheap to tell, the encoding it looks like, never a UnicodeDecodeError traceback.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from evalgate.errors import ConfigError

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
    raw = read_bytes(path, "the data file")
    digest = hashlib.sha256(raw).hexdigest()
    # Decoded before the pin is compared: a file saved in another encoding must be re-saved,
    # not re-pinned.
    text = decode_utf8(raw, path)
    if expected_sha256 is not None and not _SHA256.match(expected_sha256):
        raise ConfigError(
            f"the pin `{expected_sha256}` is not a sha256 (64 hex digits); the data file "
            f"{path.name} hashes to {digest}", path=pinned_by or path, key=pin_key,
            fix=f"set `{pin_key}: {digest}` (or run `evalgate pin`)")
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ConfigError(
            f"data file {os.path.normpath(path)} changed: its sha256 is {digest}, the pin says "
            f"{expected_sha256}",
            path=pinned_by or path, key=pin_key,
            fix=f"if the change is intended, run `evalgate pin` or set `{pin_key}: {digest}` "
                "(criteria results from the old data will no longer compare)",
        )
    examples: list[dict[str, Any]] = []
    lines: list[int] = []
    seen: dict[str, int] = {}
    for number, example in json_objects(text, path):
        for field in (id_field, *required):
            if field not in example:
                raise ConfigError(f"missing field '{field}'", path=path, line=number,
                                  fix=f"add '{field}' to every example")
        example_id = str(example[id_field])
        if example_id in seen:
            raise ConfigError(
                f"duplicate example id '{_short(example_id)}' (first on line "
                f"{seen[example_id]})", path=path, line=number,
                fix="give every example a unique id")
        seen[example_id] = number
        examples.append(example)
        lines.append(number)
    if not examples:
        raise ConfigError("dataset is empty: " + ("the file has no bytes" if not raw else
                                                  "the file has only blank lines"), path=path,
                          fix="add at least one example (one JSON object per line)")
    return Dataset(path=path, sha256=digest, examples=tuple(examples), id_field=id_field,
                   lines=tuple(lines))


def read_json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL file, without pinning: for
    files a user hands over once (`evalgate init`). Errors as in `load_jsonl`."""
    return list(json_objects(decode_utf8(read_bytes(path), path), path))


def read_bytes(path: Path, what: str = "the file") -> bytes:
    """A user's file as bytes; an unreadable one (permissions, a folder) is a ConfigError
    naming it, never an OSError traceback."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", path=path,
                          fix="check the path and the file's permissions") from exc


def json_objects(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line parsed as one JSON object, with its line number; anything else is
    a ConfigError naming the file and line."""
    # The line breaks of text-mode reading (\n, \r\n, \r), not str.splitlines(): that also
    # splits at U+2028 and friends, which JSON strings may hold unescaped.
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"),
                                  start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=path,
                              line=number, fix="make each line one JSON object") from exc
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, [[[[…]]]] nesting
            problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise ConfigError(f"unreadable JSON: {problem}", path=path, line=number,
                              fix="make each line one plain JSON object") from exc
        if not isinstance(value, dict):
            raise ConfigError("each line must be a JSON object", path=path, line=number,
                              fix='write lines like {"id": "...", ...}')
        yield number, value


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# (BOM, name): UTF-32 first, its little-endian BOM starts with UTF-16's.
_FOREIGN_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                 (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
_SAVE_AS_UTF8 = "save the file as UTF-8"
# Bytes that are Turkish letters in Windows-1254 (Ğ İ Ş ğ ı ş) and rare Icelandic ones in
# Latin-1 (Ð Ý Þ ð ý þ): their presence tips the guess towards Turkish.
_CP1254_LETTERS = frozenset(b"\xd0\xdd\xde\xf0\xfd\xfe")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def decode_utf8(raw: bytes, path: Path) -> str:
    """`raw` as UTF-8 text (a UTF-8 byte-order mark is dropped). Anything else is a ConfigError
    naming the line and column of the first bad byte and the encoding the file looks like."""
    raw = raw.removeprefix(codecs.BOM_UTF8)
    for bom, name in _FOREIGN_BOMS:
        if raw.startswith(bom):
            raise ConfigError(f"the file is {name} text (it starts with a {name} byte-order "
                              "mark), not UTF-8", path=path, line=1,
                              fix=f"{_SAVE_AS_UTF8} (PowerShell: `Out-File -Encoding utf8`; "
                                  "an editor: save with encoding UTF-8)")
    if raw.startswith(b"\x1f\x8b"):
        raise ConfigError("the file is gzip-compressed, not text", path=path, line=1,
                          fix="decompress it (`gunzip`) and point at the plain file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
        starts = [raw.rfind(b"\n", 0, bad), raw.rfind(b"\r", 0, bad)]
        line_start = max(starts) + 1
        breaks = [i for i in (raw.find(b"\n", bad), raw.find(b"\r", bad)) if i >= 0]
        line_bytes = raw[line_start:min(breaks, default=len(raw))]
        number = len(_LINE_BREAK.findall(raw, 0, line_start)) + 1
        column = len(raw[line_start:bad].decode("utf-8", errors="replace")) + 1
        message = f"not UTF-8 text: byte 0x{raw[bad]:02X} at column {column} is not valid UTF-8"
        raise ConfigError(message, path=path, line=number,
                          fix=_encoding_fix(line_bytes, bad - line_start,
                                            utf8_before=not raw[:bad].isascii())) from None


def _encoding_fix(line: bytes, offset: int, *, utf8_before: bool) -> str:
    """What to do about a line that is not UTF-8, with the encoding it most likely is in and
    the line around the bad byte read in that encoding, so the user can recognise it."""
    if b"\x00" in line:
        return (f"{_SAVE_AS_UTF8}: NUL bytes mean it is UTF-16 text without a byte-order mark, "
                "or not a text file at all")
    high = {byte for byte in line if byte >= 0x80}
    guesses = [("cp1254", "Windows-1254 (Turkish)")] if high & _CP1254_LETTERS else []
    guesses += [("cp1252", "Windows-1252 (Western European)"), ("latin-1", "Latin-1")]
    for codec, name in guesses:
        try:
            text = line.decode(codec)
        except UnicodeDecodeError:
            continue
        at = len(line[:offset].decode(codec))
        left, right = max(0, at - 30), at + 30
        snippet = (("…" if left else "") + text[left:right] +
                   ("…" if right < len(text) else "")).replace("`", "'")
        if utf8_before:  # the lines above decoded as UTF-8: only some text came from elsewhere
            return (f"the file is UTF-8 before this byte, so this text was pasted or saved in "
                    f"another encoding (as {name} it reads `{snippet}`): retype it or re-save "
                    "the file as UTF-8")
        return f"{_SAVE_AS_UTF8} (it looks like {name}, where this line reads `{snippet}`)"
    return _SAVE_AS_UTF8
