"""A new user's first project, through the CLI alone, on a tiny model: `evalgate init` on one
JSONL file whose references are JSON strings → `check` → `run` (baselines, real SFT, gate,
promotion) → registry entry and alias → a second promotion → `registry rollback`; and the same
project with an untrained adapter, which must never be promoted and must leave the registry as
it was.

The task is one the random base cannot do and SFT learns in seconds: a ticket → {"intent": …}.
The tiny model gets large embeddings (`initializer_range=0.5`), since LoRA does not train the
embeddings or norms and a standard init leaves the output distribution almost flat.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from tests.tiny import build_tiny_llama


def _examples(path: Path, count: int = 200) -> Path:
    rows = []
    for i in range(count):
        intent = ("refund", "status")[i % 2]
        ticket = f"Please refund order {i}" if intent == "refund" else f"Where is order {i}"
        rows.append({"ticket": ticket, "reference": json.dumps({"intent": intent})})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _tree(folder: Path) -> list[tuple[str, bytes]]:
    if not folder.exists():
        return []
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else b"")
                  for p in folder.rglob("*"))


@pytest.fixture()
def first_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    build_tiny_llama(tmp_path / "model", hidden_size=32, initializer_range=0.5)
    _examples(tmp_path / "tickets.jsonl")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "tickets.jsonl", "--name", "tickets", "--model", "model",
                 "--method", "sft", "--heldout-fraction", "0.3", "--no-tokenizer",
                 "--yes"]) == 0
    out = capsys.readouterr().out
    assert "JSON fields intent + schema" in out and "evalgate baseline" in out
    # What a user does next: read the suggested bounds and settings, adjust them to the task.
    _edit(tmp_path / "suites" / "tickets.yaml",
          lambda s: s["criteria"][1].update({"min": 0.8}))
    _edit(tmp_path / "evalgate.yaml", lambda p: p["model"].update({"dtype": "float32"}))
    _edit(tmp_path / "training" / "tickets.yaml", lambda t: (
        t.update({"dtype": "float32"}),
        t["sft"].update({"learning_rate": 0.01, "max_length": 256})))
    assert main(["check"]) == 0
    assert "no model weights were loaded" in capsys.readouterr().out
    return tmp_path


def test_init_to_promoted_adapter_and_rollback(first_project: Path, capsys):
    root = first_project
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "PROMOTE" in out and "tickets v1 → production" in out
    entry = root / "registry" / "tickets" / "v1"
    assert sorted(p.name for p in (entry / "adapter").iterdir()) == sorted(
        json.loads((entry / "manifest.json").read_text())["stages"]["sft"]["files"])
    assert not (entry / "adapter" / "evalgate-stage.json").exists()
    assert main(["registry", "show", "tickets"]) == 0
    assert "files match their hashes" in capsys.readouterr().out

    # A second adapter (another seed) earns its own PROMOTE and moves the alias to v2 ...
    _edit(root / "training" / "tickets.yaml", lambda t: t.update({"seed": 99}))
    assert main(["run"]) == 0
    assert "tickets v2 → production" in capsys.readouterr().out
    # ... and a rollback moves it back to v1, with both moves in the audit log.
    assert main(["registry", "rollback", "tickets"]) == 0
    assert "tickets:production → v1" in capsys.readouterr().out
    alias = json.loads((root / "registry" / "tickets" / "aliases" / "production.json")
                       .read_text())
    assert alias["version"] == "v1"
    audit = [json.loads(line) for line in (root / "registry" / "audit.jsonl").read_text()
             .splitlines()]
    assert [(a["action"], a["version"]) for a in audit] == [
        ("promote", "v1"), ("promote", "v2"), ("rollback", "v1")]
    assert main(["registry", "list"]) == 0
    listing = capsys.readouterr().out
    assert "v1" in listing and "v2" in listing


def test_an_untrained_adapter_is_never_promoted(first_project: Path, capsys):
    root = first_project
    # One step at a vanishing learning rate: the adapter answers like the base model.
    _edit(root / "training" / "tickets.yaml", lambda t: t["sft"].update(
        {"max_steps": 1, "learning_rate": 1.0e-12, "warmup_steps": 0}))
    before = _tree(root / "registry")
    assert main(["run"]) == 1
    out = capsys.readouterr().out
    assert "REJECT" in out and "PROMOTE" not in out.split("summary")[-1]
    assert _tree(root / "registry") == before == []
    run_dir = next(p for p in (root / "adapters").iterdir() if not p.is_symlink())
    assert main(["promote", str(run_dir)]) == 1
    assert "not promoted" in capsys.readouterr().err
    assert _tree(root / "registry") == []
