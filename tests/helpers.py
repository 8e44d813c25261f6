"""Writing small example projects for tests."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from evalgate.util.files import sha256_file

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"intent": {"enum": ["refund", "status"]},
                   "order_id": {"type": ["string", "null"]}},
    "required": ["intent", "order_id"],
    "additionalProperties": False,
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def example_rows(count: int = 6) -> list[dict]:
    return [{"id": f"ex-{i}", "ticket": f"Where is my order ORD-{100000 + i}?",
             "expected": {"intent": "status", "order_id": f"ORD-{100000 + i}"}}
            for i in range(count)]


def write_project(root: Path, model: str, rows: list[dict] | None = None,
                  suite_overrides: dict | None = None) -> Path:
    """A complete project: evalgate.yaml, one suite with both criteria, one prompt baseline."""
    rows = example_rows() if rows is None else rows
    data = write_jsonl(root / "suites" / "data" / "heldout.jsonl", rows)
    (root / "suites" / "schemas").mkdir(parents=True, exist_ok=True)
    (root / "suites" / "schemas" / "t.schema.json").write_text(json.dumps(SCHEMA))
    suite = {
        "name": "tiny",
        "data": "data/heldout.jsonl",
        "sha256": sha256_file(data),
        "input": "{ticket}",
        "generation": {"max_new_tokens": 8},
        "criteria": [
            {"name": "fields", "metric": "exact_match", "reference": "expected",
             "json_keys": ["intent", "order_id"], "min": 0.5},
            {"name": "schema_valid", "metric": "json_schema", "schema": "schemas/t.schema.json",
             "min": 0.5},
        ],
    }
    suite.update(suite_overrides or {})
    (root / "suites" / "tiny.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    (root / "baselines").mkdir(exist_ok=True)
    (root / "baselines" / "prompt.yaml").write_text(yaml.safe_dump({
        "name": "prompt", "kind": "prompt",
        "prompts": {"tiny": {"system": 'Answer with JSON like {"intent": "status"}.',
                             "user": "Ticket: {input}"}},
    }, sort_keys=False))
    (root / "evalgate.yaml").write_text(yaml.safe_dump({
        "name": "tiny-project",
        "model": {"base": model, "dtype": "float32"},
        "suites": ["suites/tiny.yaml"],
        "baselines": ["baselines/prompt.yaml"],
    }, sort_keys=False))
    return root
