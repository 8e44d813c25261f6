"""A tiny training project: the tests/helpers.py project plus a system, training pool and config."""

from __future__ import annotations

from pathlib import Path

import yaml

from evalgate.util.files import sha256_file
from tests.helpers import write_jsonl, write_project

INTENTS = ("status", "refund")


def training_rows(count: int = 24) -> list[dict]:
    """Rows unlike the held-out ones (those ask "Where is my order ...?")."""
    rows = []
    for i in range(count):
        intent = INTENTS[i % 2]
        order = f"ORD-{200000 + i}"
        ticket = (f"Parcel {order} has not arrived yet" if intent == "status"
                  else f"Please refund {order} now")
        rows.append({"id": f"tr-{i:03d}", "ticket": ticket,
                     "expected": {"intent": intent, "order_id": order}})
    return rows


def write_train_project(root: Path, model: Path, *, rows: list[dict] | None = None,
                        overrides: dict | None = None, name: str = "tiny",
                        heldout: list[dict] | None = None) -> Path:
    """Project + systems/tiny_adapter.yaml + training/data/train.jsonl + training/<name>.yaml.

    Returns the training config path. `overrides` update the config's top-level keys."""
    write_project(root, str(model), heldout)
    (root / "systems").mkdir(exist_ok=True)
    (root / "systems" / "tiny_adapter.yaml").write_text(yaml.safe_dump({
        "name": "tiny_adapter", "kind": "prompt",
        "prompts": {"tiny": {"system": "Answer with JSON.", "user": "Ticket: {input}"}},
    }, sort_keys=False))
    data = write_jsonl(root / "training" / "data" / "train.jsonl",
                       training_rows() if rows is None else rows)
    config = {
        "name": name,
        "suite": "../suites/tiny.yaml",
        "system": "../systems/tiny_adapter.yaml",
        "method": "sft",
        "seed": 7,
        "data": {"path": "data/train.jsonl", "sha256": sha256_file(data),
                 "input": "{ticket}", "target": "{expected}"},
        "holdout": {"fraction": 0.25},
        "quantization": "none",
        "dtype": "float32",
        "gradient_checkpointing": False,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "sft": {"max_steps": 3, "batch_size": 4, "learning_rate": 0.01, "max_length": 128,
                "save_steps": 2},
    }
    config.update(overrides or {})
    path = root / "training" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
