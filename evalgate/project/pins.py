"""`evalgate pin`: bring every data pin of a project up to date after an intentional change.

A pin (`sha256:` in a suite, `data.sha256` / `pairs.sha256` in a training config) makes a
changed data file an error instead of a silent change of what a criterion measures. When the
change is intended, this module rewrites the pin lines in place (comments and layout are kept;
only the value changes) and reports every pin: unchanged, set or updated from one hash to the
other. Files are written atomically, and only after every pin has been computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from evalgate.errors import ConfigError
from evalgate.project.config import Project
from evalgate.suite.kinds import suite_kind
from evalgate.util.files import atomic_write_text, sha256_file
from evalgate.util.jsonl import decode_utf8, json_objects, read_bytes
from evalgate.util.yamlio import read_yaml


@dataclass(frozen=True)
class Pin:
    """One pin: the config file and key that hold it, the data file it pins, both hashes."""

    config: Path
    key: str  # dotted: sha256 | data.sha256 | pairs.sha256
    data: Path
    pinned: str | None
    actual: str
    rows: int

    @property
    def changed(self) -> bool:
        return (self.pinned or "").lower() != self.actual


def project_pins(project: Project) -> list[Pin]:
    """Every pin of the project's suites and training configs (each config file once)."""
    pins: list[Pin] = []
    suites = list(project.suite_paths)
    for path in sorted((project.root / "training").glob("*.yaml")):
        raw = read_yaml(path)
        for section in ("data", "pairs"):
            block = raw.get(section)
            if isinstance(block, dict) and "path" in block:
                pins.append(_pin(path, f"{section}.sha256", path.parent / str(block["path"]),
                                 block.get("sha256")))
        suite = raw.get("suite")
        if isinstance(suite, str) and (path.parent / suite).resolve() not in \
                {p.resolve() for p in suites}:
            suites.append(path.parent / suite)
    for path in suites:
        raw = read_yaml(path)
        kind = suite_kind(path, raw)
        if kind.pins is not None:
            pins[:0] = [Pin(path, key, data, None if pinned is None else str(pinned), actual,
                            rows) for key, data, pinned, actual, rows in kind.pins(path, raw)]
            continue
        if "data" not in raw:
            raise ConfigError("the suite names no data file", path=path, key="data",
                              fix="add `data: FILE.jsonl`")
        pins.insert(0, _pin(path, "sha256", path.parent / str(raw["data"]), raw.get("sha256")))
    return pins


def _pin(config: Path, key: str, data: Path, pinned: object) -> Pin:
    if not data.is_file():
        raise ConfigError(f"data file not found: {data}", path=config, key=key.rsplit(".", 1)[0]
                          if "." in key else "data", fix="check the path (relative to the file)")
    rows = _readable_rows(data)
    return Pin(config, key, data, None if pinned is None else str(pinned), sha256_file(data),
               rows)


def _readable_rows(data: Path) -> int:
    """The number of examples in a data file, read as the commands read it: a pin vouches for
    the file, so one that no command could load (not UTF-8, a malformed line, no rows) is
    refused here, naming the line, before any pin is written."""
    raw = read_bytes(data, "the data file")
    try:
        rows = sum(1 for _ in json_objects(decode_utf8(raw, data), data))
    except ConfigError as exc:
        raise ConfigError(exc.message, path=exc.path, key=exc.key, line=exc.line,
                          fix=f"{exc.fix}; nothing was pinned: fix the file, then run "
                              "`evalgate pin` again") from None
    if rows == 0:
        raise ConfigError("the data file has no examples" + ("" if raw else " (no bytes)"),
                          path=data, fix="add one JSON object per line, then run "
                                         "`evalgate pin` again; nothing was pinned")
    return rows


def update_pins(pins: list[Pin]) -> list[Pin]:
    """Rewrite every changed pin in its file; returns the pins that changed."""
    changed = [pin for pin in pins if pin.changed]
    texts: dict[Path, str] = {}
    for pin in changed:
        text = texts.get(pin.config) or pin.config.read_text(encoding="utf-8")
        texts[pin.config] = set_pin(text, pin.key, pin.actual, pin.config)
    for path, text in texts.items():
        atomic_write_text(path, text)
    return changed


_KEY_LINE = (r"^(?P<indent>{indent})(?P<key>{key}):[ \t]*(?P<value>[^#\n]*?)[ \t]*"
             r"(?P<comment>#[^\n]*)?$")


def set_pin(text: str, key: str, digest: str, path: Path) -> str:
    """Set `key` (top level, or one level down as `section.key`) to `digest`, keeping every
    other line as it was; the result is re-read to prove the pin took."""
    parts = key.split(".")
    if len(parts) == 1:
        updated = _set_in_block(text, 0, len(text), "", parts[0], digest, after="data")
    else:
        # An empty flow block (`general_text: {}`) becomes a block holding the pin.
        empty = re.compile(rf"^{re.escape(parts[0])}:[ \t]*\{{[ \t]*\}}[ \t]*(?P<c>#[^\n]*)?$",
                           re.MULTILINE)
        text = empty.sub(lambda m: f"{parts[0]}:{'  ' + m.group('c') if m.group('c') else ''}"
                                   f"\n  {parts[1]}: {digest}", text, count=1)
        section = re.search(rf"^{re.escape(parts[0])}:[ \t]*(#[^\n]*)?$", text, re.MULTILINE)
        if section is None:
            raise ConfigError(f"cannot find the `{parts[0]}:` block to update its pin",
                              path=path, key=key,
                              fix=f"write `{parts[0]}:` as a block and set `sha256: {digest}`")
        start = section.end() + 1
        end = _block_end(text, start)
        child = re.search(r"^([ \t]+)\S", text[start:end], re.MULTILINE)
        if child is None:
            raise ConfigError(f"the `{parts[0]}:` block is empty", path=path, key=key,
                              fix=f"set `sha256: {digest}` under `{parts[0]}:`")
        updated = _set_in_block(text, start, end, child.group(1), parts[1], digest,
                                after="path")
    check = yaml.safe_load(updated)
    value = check
    for part in parts:
        value = value.get(part) if isinstance(value, dict) else None
    if value != digest:
        raise ConfigError("could not update the pin in place", path=path, key=key,
                          fix=f"set `{key}: {digest}` by hand")
    return updated


def _block_end(text: str, start: int) -> int:
    match = re.search(r"^\S", text[start:], re.MULTILINE)
    return start + match.start() if match else len(text)


def _set_in_block(text: str, start: int, end: int, indent: str, key: str, digest: str,
                  after: str) -> str:
    block = text[start:end]
    line = re.compile(_KEY_LINE.format(indent=re.escape(indent), key=re.escape(key)),
                      re.MULTILINE)
    found = line.search(block)
    if found:
        comment = f"  {found.group('comment')}" if found.group("comment") else ""
        new = f"{indent}{key}: {digest}{comment}"
        block = block[:found.start()] + new + block[found.end():]
    else:  # no pin yet: add it under the line that names the file
        anchor = re.compile(_KEY_LINE.format(indent=re.escape(indent), key=re.escape(after)),
                            re.MULTILINE).search(block)
        at = anchor.end() if anchor else 0
        insert = f"\n{indent}{key}: {digest}" if anchor else f"{indent}{key}: {digest}\n"
        block = block[:at] + insert + block[at:]
    return text[:start] + block + text[end:]
