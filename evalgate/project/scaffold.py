"""`evalgate init`: a first project written from one file of examples.

What a new user has is a file of examples: an input field and a reference answer, as JSON
lines, a JSON array or a CSV/TSV export of a spreadsheet (read by evalgate.project.examples,
strictly: a ragged row or a broken quote names its line). From it this module infers what a
suite needs (which field is the input, which the reference; JSON-aware
exact match plus a JSON Schema inferred from the references when they are objects, or JSON
strings holding objects; plain exact match otherwise), splits off a held-out set when only one
file is given, and writes a complete project: `evalgate.yaml`, the suite with its data pinned,
prompt and few-shot baselines, the system the adapter is trained and served with, and a
training config. Nothing is written until everything has been inferred and checked, and an
existing file is never overwritten unless asked (`--force`).

The decisions are plain functions (`infer_fields`, `infer_schema`, `plan_project`) so that the
interactive and the flag-driven paths of the CLI share them.
"""

from __future__ import annotations

import ast
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalgate.errors import ConfigError
from evalgate.metrics.exact_match import reference_object
from evalgate.project.examples import Examples, read_examples
from evalgate.stats import wilson_interval
from evalgate.util.files import atomic_write_text
from evalgate.util.overlap import exact_overlap, near_duplicates
from evalgate.util.text import normalize_text

INPUT_NAMES = ("input", "text", "prompt", "question", "query", "ticket", "instruction",
               "message", "document", "content", "source")
REFERENCE_NAMES = ("reference", "expected", "output", "answer", "label", "target",
                   "completion", "response", "gold", "json")
ID_NAMES = ("id", "uid", "example_id", "key")
# A string field with at most this many distinct values, each seen at least twice, is treated
# as a category: the inferred schema lists its values (`enum`).
MAX_ENUM_VALUES = 12


@dataclass(frozen=True)
class Fields:
    """Which example field is which."""

    id: str | None  # None: the rows carry no id; init numbers them
    input: str
    reference: str


@dataclass(frozen=True)
class InitOptions:
    data: Path
    folder: Path
    name: str
    heldout: Path | None = None
    heldout_fraction: float = 0.25
    input_field: str | None = None
    reference_field: str | None = None
    id_field: str | None = None
    model: str = "smollm2-135m-instruct"
    method: str = "sft+dpo"
    seed: int = 1234
    force: bool = False


@dataclass
class ProjectPlan:
    """Every file `init` will write (path relative to the folder → text), and what it inferred."""

    files: dict[str, str] = field(default_factory=dict)
    fields: Fields | None = None
    json_keys: list[str] | None = None
    n_heldout: int = 0
    n_train: int = 0
    max_new_tokens: int = 0
    longest_reference: int = 0
    token_counter: str = ""
    excluded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- reading ---------------------------------------------------------------------------------

def infer_fields(rows: Sequence[dict[str, Any]], path: Path, *, input_field: str | None = None,
                 reference_field: str | None = None, id_field: str | None = None) -> Fields:
    """The input, reference and id fields: given ones are checked, missing ones guessed from
    common names, else from shape (the longest text is the input). Ambiguity is an error that
    lists the fields and the flag to pass."""
    common = [name for name in rows[0] if all(name in row for row in rows)]
    shown = ", ".join(common) or "(none)"
    for given, flag in ((input_field, "--input"), (reference_field, "--reference"),
                        (id_field, "--id-field")):
        if given is not None and given not in common:
            raise ConfigError(f"field '{given}' is not in every example (fields in all of them: "
                              f"{shown})", path=path, fix=f"pass {flag} with one of those")
    ident = id_field or next((n for n in ID_NAMES if n in common), None)
    rest = [n for n in common if n != ident]
    reference = reference_field or next((n for n in REFERENCE_NAMES if n in rest
                                         and n != input_field), None)
    texts = [n for n in rest if n != reference and all(isinstance(r[n], str) for r in rows)]
    source = input_field or next((n for n in INPUT_NAMES if n in texts), None)
    if source is None and len(texts) == 1:
        source = texts[0]
    if reference is None:
        others = [n for n in rest if n != source]
        reference = others[0] if len(others) == 1 else None
    if source is None or reference is None or source == reference:
        raise ConfigError(f"cannot tell which field is the input and which the reference "
                          f"(fields in every example: {shown})", path=path,
                          fix="pass --input FIELD and --reference FIELD")
    bad = next((i for i, r in enumerate(rows) if not isinstance(r[source], str)
                or not r[source].strip()), None)
    if bad is not None:
        raise ConfigError(f"the input field '{source}' must be non-empty text in every example "
                          f"(example {bad + 1} is not)", path=path,
                          fix="fix that example, or pass --input with the text field")
    return Fields(id=ident, input=source, reference=reference)


# --- the suite's criteria ----------------------------------------------------------------------

def json_references(rows: Sequence[dict[str, Any]], field_name: str) -> list[dict] | None:
    """The references as objects when every one is an object or a JSON string holding one
    (`reference_note` says why when only some are)."""
    objects = [_object(row[field_name]) for row in rows]
    return None if any(o is None for o in objects) else objects  # type: ignore[return-value]


def _object(value: Any) -> dict[str, Any] | None:
    try:
        return reference_object(value)
    except (ValueError, RecursionError):  # a 5,000-digit number, [[[[…]]]] nesting
        return None


def reference_note(sources: Sequence[Examples], field_name: str) -> str | None:
    """Why exact match was chosen when that is a surprise: some references are JSON objects
    (or strings holding one) and the others are not, or some look like objects (they start
    with `{`) and do not parse. Names the rows of each kind and what to change; None when the
    references are all objects or all plainly text."""
    objects: list[tuple[Examples, int]] = []
    others: list[tuple[Examples, int]] = []
    broken: list[tuple[Examples, int]] = []
    for source in sources:
        for index, row in enumerate(source.rows):
            value = row[field_name]
            if _object(value) is not None:
                objects.append((source, index))
                continue
            others.append((source, index))
            if isinstance(value, str) and value.lstrip().startswith("{"):
                broken.append((source, index))
    if not others or not (objects or broken):
        return None
    total = len(objects) + len(others)
    plain = ("plain text" if all(isinstance(s.rows[i][field_name], str) for s, i in others)
             else "not objects")
    text = (f"{len(objects)} of {total} references ('{field_name}') "
            f"{'is a JSON object' if len(objects) == 1 else 'are JSON objects'} and "
            f"{len(others)} {'is' if len(others) == 1 else 'are'} {plain}; exact match was "
            "chosen (each whole reference compared as text). ")
    if objects:
        text += f"JSON objects: {_rows_named(objects)}. "
    text += f"{plain.capitalize()}: {_rows_named(others)}. "
    if broken:
        source, index = broken[0]
        text += (f"{len(broken)} of them {'starts' if len(broken) == 1 else 'start'} with "
                 f"'{{' but {'is' if len(broken) == 1 else 'are'} not valid JSON (first: "
                 f"{source.path.name} {source.unit} {source.numbers[index]}: "
                 f"{_why_not_json(source.rows[index][field_name])}). ")
    if any(isinstance(s.rows[i][field_name], dict) for s, i in objects):
        text += ("The object references are written to data/ as one-line JSON text, as exact "
                 "match compares them. ")
    return text + ("For JSON-aware criteria (each field compared, and a schema), make every "
                   "reference a JSON object (or a string holding one) and run init again "
                   "with --force.")


def _rows_named(found: Sequence[tuple[Examples, int]], limit: int = 5) -> str:
    """'a.jsonl lines 2, 4, 9 and 12 more': the first rows of a kind, by file."""
    by_file: dict[Path, tuple[Examples, list[int]]] = {}
    for source, index in found[:limit]:
        by_file.setdefault(source.path, (source, []))[1].append(source.numbers[index])
    named = "; ".join(f"{source.path.name} {source.unit}{'s' if len(numbers) > 1 else ''} "
                      f"{', '.join(map(str, numbers))}" for source, numbers in by_file.values())
    return named + (f" and {len(found) - limit} more" if len(found) > limit else "")


def _why_not_json(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        why = f"{exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    else:
        return "valid JSON, but not an object"
    try:
        python = isinstance(ast.literal_eval(text.strip()), dict)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        python = False
    if python:
        why += "; it reads as a Python dict: write references with json.dumps, not str()"
    return why


def _objects_as_text(rows: Sequence[dict[str, Any]], field_name: str) -> list[dict[str, Any]]:
    return [{**row, field_name: reference_text(row[field_name])}
            if isinstance(row[field_name], dict) else row for row in rows]


def infer_schema(objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A JSON Schema every reference object satisfies: each key's JSON types, `enum` for
    category-like strings, the keys present in all objects required, no other keys allowed."""
    keys: list[str] = []
    for obj in objects:
        keys.extend(k for k in obj if k not in keys)
    properties: dict[str, Any] = {}
    for key in keys:
        values = [obj[key] for obj in objects if key in obj]
        types = sorted({_json_type(v) for v in values}, key=_TYPE_ORDER.index)
        if "integer" in types and "number" in types:
            types.remove("integer")
        spec: dict[str, Any] = {"type": types[0] if len(types) == 1 else types}
        strings = [v for v in values if isinstance(v, str)]
        distinct = sorted(set(strings))
        if strings and len(distinct) <= MAX_ENUM_VALUES and len(strings) >= 2 * len(distinct):
            spec["enum"] = distinct + ([None] if "null" in types else [])
        properties[key] = spec
    required = [k for k in keys if all(k in obj for obj in objects)]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": properties, "required": required, "additionalProperties": False}


_TYPE_ORDER = ["string", "integer", "number", "boolean", "null", "object", "array"]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def reference_text(value: Any) -> str:
    """The answer as the model should write it: objects as one-line JSON (as training does)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def max_new_tokens_for(lengths: Sequence[int]) -> int:
    """The longest reference plus a margin (a quarter, at least 16 tokens), rounded up to 16:
    room for a model's spacing or a code fence without rewarding rambling."""
    longest = max(lengths)
    return int(math.ceil((longest + max(16, longest // 4)) / 16) * 16)


def smallest_n_to_clear(bound: float) -> int:
    """The fewest examples at which a perfect score's 95% interval clears `bound`."""
    n = 1
    while wilson_interval(n, n)[0] < bound and n < 100_000:
        n += 1
    return n


# --- the plan ----------------------------------------------------------------------------------

def plan_project(options: InitOptions,
                 count_tokens: Callable[[list[str]], list[int]] | None = None,
                 counter_name: str = "") -> ProjectPlan:
    """Everything `init` writes, decided before anything is written."""
    sources = [read_examples(options.data)]
    rows = list(sources[0].rows)
    fields = infer_fields(rows, options.data, input_field=options.input_field,
                          reference_field=options.reference_field, id_field=options.id_field)
    heldout_rows: list[dict[str, Any]] = []
    if options.heldout is not None:
        sources.append(read_examples(options.heldout))
        heldout_rows = list(sources[1].rows)
        infer_fields(heldout_rows, options.heldout, input_field=fields.input,
                     reference_field=fields.reference, id_field=fields.id)
    notes = [source.note for source in sources if source.note]
    mixed = reference_note(sources, fields.reference)
    if mixed is not None:  # plain exact match: an object reference is compared as its text
        notes.append(mixed)
        rows = _objects_as_text(rows, fields.reference)
        heldout_rows = _objects_as_text(heldout_rows, fields.reference)
    if options.heldout is not None:
        train_rows = rows
    else:
        if len(rows) < 4:
            raise ConfigError(f"{len(rows)} examples are too few to split into training and "
                              "held-out sets", path=options.data,
                              fix="add examples (dozens at least), or pass --heldout FILE")
        heldout_rows, train_rows = split_rows(rows, fields.input, options.heldout_fraction,
                                              options.seed)
    id_field = fields.id or "id"
    heldout_rows = _with_ids(heldout_rows, fields.id, "heldout")
    train_rows = _with_ids(train_rows, fields.id, "train")
    _check_unique_ids(heldout_rows + train_rows, id_field, options)

    plan = ProjectPlan(fields=Fields(id_field, fields.input, fields.reference),
                       n_heldout=len(heldout_rows), n_train=len(train_rows), notes=notes)
    plan.excluded = overlapping_training_ids(train_rows, heldout_rows, id_field, fields.input)
    if plan.excluded:
        plan.notes.append(f"{len(plan.excluded)} training example(s) nearly repeat a held-out "
                          "one; they are left out of training (`data.exclude`)")
    objects = json_references(heldout_rows + train_rows, fields.reference)
    if objects is not None:
        keys = [k for k in objects[0] if all(k in o for o in objects)]
        if not keys:
            raise ConfigError(f"the reference objects in '{fields.reference}' share no key",
                              path=options.data, fix="give every reference the same fields")
        plan.json_keys = keys
    answers = [reference_text(reference_object(r[fields.reference])
                              if objects is not None else r[fields.reference])
               for r in heldout_rows + train_rows]
    if count_tokens is not None:
        lengths = count_tokens(answers)
        plan.token_counter = counter_name
    else:  # about 2 characters per token: generous for English, close for Turkish
        lengths = [max(1, math.ceil(len(a) / 2)) for a in answers]
        plan.token_counter = "estimated at 2 characters per token (tokenizer unavailable)"
    plan.max_new_tokens = max_new_tokens_for(lengths)
    plan.longest_reference = max(lengths)

    heldout_text = _jsonl(heldout_rows)
    train_text = _jsonl(train_rows)
    name = options.name
    files = plan.files
    files["data/heldout.jsonl"] = heldout_text
    files["data/train.jsonl"] = train_text
    files[f"suites/{name}.yaml"] = _suite_yaml(name, plan, heldout_text,
                                               json_schema=objects is not None)
    if objects is not None:
        files[f"suites/schemas/{name}.schema.json"] = json.dumps(
            infer_schema(objects), indent=2, ensure_ascii=False) + "\n"
    instructions = _instructions(plan)
    files["baselines/prompt.yaml"] = _system_yaml("prompt", "prompt", name, instructions, plan)
    files["baselines/few_shot.yaml"] = _system_yaml("few_shot", "few_shot", name, instructions,
                                                    plan)
    files[f"systems/{name}_adapter.yaml"] = _system_yaml(f"{name}_adapter", "adapter", name,
                                                         instructions, plan)
    files[f"training/{name}.yaml"] = _training_yaml(name, plan, train_text, options)
    files["evalgate.yaml"] = _project_yaml(name, options.model)
    files[GITIGNORE] = "".join(f"{line}\n" for line in IGNORED)

    bounds = [(FIELDS_MIN, "fields_exact" if plan.json_keys else "exact")]
    if plan.json_keys:
        bounds.append((SCHEMA_MIN, "schema_valid"))
    for bound, what in bounds:
        needed = smallest_n_to_clear(bound)
        if plan.n_heldout < needed:
            plan.notes.append(
                f"{plan.n_heldout} held-out examples: even a perfect score cannot prove "
                f"{what} ≥ {bound:g} (a 95% interval needs at least {needed}); add held-out "
                "examples or lower the bound")
    existing = [rel for rel in files if (options.folder / rel).exists() and rel != GITIGNORE]
    if existing and not options.force:
        raise ConfigError(f"{', '.join(existing)} already exist(s) in {options.folder}",
                          path=options.folder / existing[0],
                          fix="choose an empty folder (--dir), or pass --force to overwrite")
    return plan


def write_project(plan: ProjectPlan, folder: Path) -> list[Path]:
    """Write every planned file atomically (data first, so no config names a missing file)."""
    written = []
    order = sorted(plan.files, key=lambda rel: (not rel.startswith("data/"),
                                               rel == "evalgate.yaml", rel))
    for rel in order:
        path = folder / rel
        text = plan.files[rel]
        if rel == GITIGNORE and path.is_file():  # a project's own ignore file is extended
            have = path.read_text(encoding="utf-8")
            missing = [line for line in IGNORED if line not in have.splitlines()]
            if not missing:
                continue
            text = have + ("" if have.endswith("\n") or not have else "\n") + "".join(
                f"{line}\n" for line in missing)
        atomic_write_text(path, text)
        written.append(path)
    return written


GITIGNORE = ".gitignore"
# Outputs, not sources; anchored at the project root so no source folder of the same name
# (a package called `reports`, say) is ever ignored.
IGNORED = ("/adapters/", "/.evalgate/", "/reports/")
FIELDS_MIN = 0.8
SCHEMA_MIN = 0.9


def split_rows(rows: list[dict[str, Any]], input_field: str, fraction: float,
               seed: int) -> tuple[list[dict], list[dict]]:
    """(held-out, training): a seeded shuffle of groups of rows whose inputs are equal after
    normalisation, so a repeated example never lands on both sides."""
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(normalize_text(row[input_field]), []).append(index)
    order = list(groups.values())
    random.Random(f"evalgate-init:{seed}").shuffle(order)
    wanted = max(1, round(fraction * len(rows)))
    held: set[int] = set()
    for group in order:
        if len(held) >= wanted:
            break
        held.update(group)
    if len(held) == len(rows):
        raise ConfigError("every example has the same input, so none is left for training",
                          fix="add distinct examples")
    return ([r for i, r in enumerate(rows) if i in held],
            [r for i, r in enumerate(rows) if i not in held])


def overlapping_training_ids(train: list[dict], heldout: list[dict], id_field: str,
                             input_field: str) -> list[str]:
    """Training ids whose input equals or nearly repeats a held-out input: the same guard
    `evalgate train` applies, settled here by leaving them out."""
    left = [(str(r[id_field]), r[input_field]) for r in train]
    right = [(str(r[id_field]), r[input_field]) for r in heldout]
    found = {a for a, _ in exact_overlap(left, right)}
    found |= {d.left_id for d in near_duplicates(left, right)}
    return sorted(found)


def _with_ids(rows: list[dict[str, Any]], id_field: str | None, prefix: str) -> list[dict]:
    if id_field is not None:
        return rows
    return [{"id": f"{prefix}-{i:04d}", **row} for i, row in enumerate(rows, start=1)]


def _check_unique_ids(rows: list[dict[str, Any]], id_field: str, options: InitOptions) -> None:
    seen: set[str] = set()
    for row in rows:
        value = str(row[id_field])
        if value in seen:
            raise ConfigError(f"example id '{value}' occurs twice (across training and "
                              "held-out data)", path=options.heldout or options.data,
                              fix=f"give every example a unique '{id_field}'")
        seen.add(value)


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def _instructions(plan: ProjectPlan) -> str:
    if plan.json_keys:
        keys = ", ".join(f'"{k}"' for k in plan.json_keys)
        return ("Answer with exactly one JSON object on one line and nothing else, with the "
                f"keys {keys}.")
    return "Answer with the answer only, on one line, and nothing else."


def _suite_yaml(name: str, plan: ProjectPlan, heldout_text: str, *, json_schema: bool) -> str:
    fields = plan.fields
    assert fields is not None
    criteria: list[dict[str, Any]] = []
    if plan.json_keys:
        criteria.append({"name": "fields_exact", "metric": "exact_match",
                         "reference": fields.reference, "json_keys": plan.json_keys,
                         "normalize": ["strip"], "min": FIELDS_MIN,
                         "beat_baseline": {"margin": 0.0}})
        criteria.append({"name": "schema_valid", "metric": "json_schema",
                         "schema": f"schemas/{name}.schema.json", "extract": "first_object",
                         "min": SCHEMA_MIN})
    else:
        criteria.append({"name": "exact", "metric": "exact_match",
                         "reference": fields.reference,
                         "normalize": ["strip", "case", "whitespace"], "min": FIELDS_MIN,
                         "beat_baseline": {"margin": 0.0}})
    suite = {"name": name,
             "description": f"Held-out examples written by `evalgate init` ({plan.n_heldout}).",
             "data": "../data/heldout.jsonl", "sha256": _sha(heldout_text),
             "id_field": fields.id, "input": "{" + fields.input + "}",
             "generation": {"max_new_tokens": plan.max_new_tokens, "stop": []},
             "criteria": criteria}
    return (f"# The suite: what \"better\" means, fixed before any training. Bounds are first\n"
            f"# suggestions: set them to what your task needs, then commit this file.\n"
            f"# max_new_tokens: the longest reference is {plan.longest_reference} tokens "
            f"({plan.token_counter}), plus a margin.\n" + _dump(suite))


def _system_yaml(system_name: str, kind: str, suite: str, instructions: str,
                 plan: ProjectPlan) -> str:
    fields = plan.fields
    assert fields is not None
    template: dict[str, Any] = {"system": instructions, "user": "{input}"}
    if kind == "few_shot":
        template["few_shot"] = {"pool": "../data/train.jsonl", "k": 4, "select": "nearest",
                                "id_field": fields.id, "input": "{" + fields.input + "}",
                                "output": "{" + fields.reference + "}"}
    heading = {
        "prompt": "# Baseline: the instructions alone.",
        "few_shot": "# Baseline: the instructions plus the 4 most similar training examples.",
        "adapter": "# The prompt the adapter is trained AND served with (training/"
                   f"{suite}.yaml names this file).",
    }[kind]
    return heading + "\n" + _dump({"name": system_name, "kind": kind,
                                   "prompts": {suite: template}})


def _training_yaml(name: str, plan: ProjectPlan, train_text: str, options: InitOptions) -> str:
    fields = plan.fields
    assert fields is not None
    members = max(1, round(plan.n_train * 0.9))
    steps = min(300, max(30, math.ceil(3 * members / 4)))  # about three epochs at batch 4
    config: dict[str, Any] = {
        "name": name, "suite": f"../suites/{name}.yaml",
        "system": f"../systems/{name}_adapter.yaml", "method": options.method,
        "seed": options.seed,
        "data": {"path": "../data/train.jsonl", "sha256": _sha(train_text),
                 "id_field": fields.id, "format": "fields", "input": "{" + fields.input + "}",
                 "target": "{" + fields.reference + "}", "exclude": plan.excluded},
        "holdout": {"fraction": 0.1},
        "quantization": "none", "dtype": "auto",
        "lora": {"r": 16, "alpha": 32, "dropout": 0.05, "targets": "all-linear"},
        "sft": {"max_steps": steps, "batch_size": 4, "learning_rate": 1.0e-3,
                "warmup_steps": 3, "max_length": 512, "save_steps": 10},
    }
    if "dpo" in options.method or "kto" in options.method:
        stage = "dpo" if "dpo" in options.method else "kto"
        config[stage] = {"max_steps": 10, "batch_size": 2, "learning_rate": 5.0e-5,
                         "max_length": 512, "save_steps": 5}
        config["pairs"] = {"source": "auto", "negatives": "policy", "max_prompts": 48}
    return ("# Training: SFT on data/train.jsonl (10% kept aside as non-members), then the\n"
            "# preference stage on the model's own failing answers, if the method has one.\n"
            "# `evalgate train` writes adapters/<run-id>/ and points adapters/" + name
            + " at it.\n" + _dump(config))


def _project_yaml(name: str, model: str) -> str:
    config = {"name": name, "model": {"base": model, "dtype": "auto", "quantization": "none",
                                      "device": "auto"},
              "suites": [f"suites/{name}.yaml"],
              "baselines": ["baselines/prompt.yaml", "baselines/few_shot.yaml"],
              "cache": ".evalgate/cache.sqlite", "reports": "reports"}
    return ("# Written by `evalgate init`. Paths are relative to this file; every key is "
            "checked.\n" + _dump(config))
