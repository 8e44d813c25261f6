"""A tiny gate project: tests/helpers.py's project with relative criteria, a PEFT adapter on
the tiny model and a hand-written training manifest (the fields evalgate.gate relies on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from evalgate.models.loading import adapter_sha256
from evalgate.suite.load import load_suite
from evalgate.train.manifest import suite_fingerprints
from evalgate.util.files import sha256_file
from tests.helpers import example_rows, write_project

RELATIVE_CRITERIA = [
    {"name": "fields", "metric": "exact_match", "reference": "expected",
     "json_keys": ["intent", "order_id"], "beat_baseline": {"margin": 0.0}},
    {"name": "schema_valid", "metric": "json_schema", "schema": "schemas/t.schema.json",
     "max_drop": 0.5},
]


def write_adapter(folder: Path, model_dir: Path) -> Path:
    """A LoRA adapter on the tiny model; B starts at zero, so it answers like the base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    peft = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj",
                                                                                "v_proj"]))
    peft.save_pretrained(folder)
    return folder


def write_manifest(root: Path, run_dir: Path, stage: str = "sft", name: str = "tiny",
                   system: str = "../baselines/prompt.yaml") -> Path:
    suites = [load_suite(root / "suites" / "tiny.yaml")]
    adapter = run_dir / stage
    manifest = {
        "manifest_version": 1, "run_id": run_dir.name, "name": name, "method": stage,
        "adapter": stage, "config_path": "training/tiny.yaml", "config": {"system": system},
        "base_model": {"ref": "tiny", "identity": "tiny-identity", "source": "local"},
        "stages": {stage: {"stage": stage, "adapter": stage,
                           "adapter_sha256": adapter_sha256(adapter),
                           "files": {p.name: sha256_file(p) for p in sorted(adapter.iterdir())
                                     if p.is_file()}}},
        "suites": suite_fingerprints(suites, root),
    }
    path = run_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2))
    return path


def write_gate_project(root: Path, model_dir: Path, rows: int = 6) -> Path:
    """Project + adapters/run-1/{sft/, manifest.json}; returns the run folder."""
    write_project(root, str(model_dir), example_rows(rows),
                  suite_overrides={"criteria": RELATIVE_CRITERIA})
    (root / "training").mkdir(exist_ok=True)
    (root / "training" / "tiny.yaml").write_text(yaml.safe_dump({"name": "tiny"}))
    run_dir = root / "adapters" / "run-1"
    write_adapter(run_dir / "sft", model_dir)
    write_manifest(root, run_dir)
    return run_dir


def relative_project(root: Path, model_dir: Path, monkeypatch: Any) -> Path:
    """A 12-example project whose criteria all have relative bounds, entered as the working
    folder with its own EVALGATE_HOME: where external candidates are gated."""
    write_project(root, str(model_dir), rows=example_rows(12),
                  suite_overrides={"criteria": RELATIVE_CRITERIA})
    monkeypatch.chdir(root)
    monkeypatch.setenv("EVALGATE_HOME", str(root / "home"))
    return root
