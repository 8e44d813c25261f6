"""`evalgate promote` and `evalgate registry` from a PROMOTE verdict built over hand-made run
records (a real adapter and manifest; no generation needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalgate.cli.main import main
from evalgate.gate.decide import build_verdict, criterion_specs
from evalgate.gate.run import gate_dir, write_reports
from evalgate.project.config import load_project
from evalgate.suite.load import load_suite
from evalgate.train.manifest import load_manifest
from tests.gate_helpers import make_record
from tests.gate_project import write_gate_project


@pytest.fixture()
def promoted_project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    run_dir = write_gate_project(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    suite = load_suite(tmp_path / "suites" / "tiny.yaml")
    data = suite.dataset.sha256
    runs = tmp_path / "reports" / "runs" / "tiny"
    base = make_record("prompt", {"fields": [0] * 6, "schema_valid": [1] * 6}, "tiny", data)
    cand = make_record("tiny-sft", {"fields": [1] * 6, "schema_valid": [1] * 6}, "tiny", data)
    base.save(runs / "prompt-x.json")
    cand.save(runs / "tiny-sft-x.json")
    entry = {"value": 0.0, "low": 0.0, "high": 0.4, "status": "RELATIVE"}
    (tmp_path / "reports" / "baseline.json").write_text(json.dumps({"format": 1, "suites": {
        "tiny": {"config_sha256": suite.config_sha256,
                 "runs": {"prompt": {"path": "reports/runs/tiny/prompt-x.json",
                                     "criteria": {}}},
                 "criteria": {"fields": {"best": "prompt", **entry},
                              "schema_valid": {"best": "prompt", **entry}}}}}))
    project = load_project(tmp_path / "evalgate.yaml")
    verdict = build_verdict(specs=criterion_specs([suite]),
                            candidates={"tiny": (cand, runs / "tiny-sft-x.json")},
                            baseline_path=tmp_path / "reports" / "baseline.json",
                            root=tmp_path, manifest=load_manifest(run_dir), suites=[suite])
    assert verdict.decision == "PROMOTE", verdict.checks
    write_reports(verdict, gate_dir(project, "run-1"))
    return tmp_path, run_dir


def test_promote_registry_list_show_rollback(promoted_project, capsys):
    root, run_dir = promoted_project
    assert main(["promote", str(run_dir)]) == 0
    assert "promoted tiny v1 → alias production" in capsys.readouterr().out
    entry = root / "registry" / "tiny" / "v1"
    assert (entry / "adapter" / "adapter_model.safetensors").is_file()
    assert (entry / "manifest.json").is_file() and (entry / "verdict.json").is_file()
    # Promoting the same adapter again reuses its version; a second alias can point at it.
    assert main(["promote", str(run_dir), "--alias", "staging"]) == 0
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out
    assert "v1" in out and "production" in out and "staging" in out
    assert main(["registry", "show", "tiny"]) == 0
    assert "PROMOTE" in capsys.readouterr().out
    audit = [json.loads(line) for line in (root / "registry" / "audit.jsonl").read_text()
             .splitlines()]
    assert [a["alias"] for a in audit] == ["production", "staging"]
    assert audit[0]["decision"] == "PROMOTE" and audit[0]["adapter_sha256"]
    assert main(["registry", "rollback", "tiny"]) == 2      # nothing earlier to go back to
    assert main(["registry", "show", "tiny", "../../etc"]) == 2


def test_promote_refuses_when_records_or_adapter_changed(promoted_project, capsys):
    root, run_dir = promoted_project
    record = root / "reports" / "runs" / "tiny" / "tiny-sft-x.json"
    record.write_text(record.read_text().replace('"fields": 1.0', '"fields": 0.0', 1))
    assert main(["promote", str(run_dir)]) == 2
    assert "run record changed" in capsys.readouterr().err
    assert not (root / "registry" / "tiny").exists()


def test_promote_without_verdict_is_refused(tmp_path: Path, tiny_model_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch, capsys):
    run_dir = write_gate_project(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    assert main(["promote", str(run_dir)]) == 2
    assert "run `evalgate gate" in capsys.readouterr().err


def test_report_shows_the_verdict_and_writes_per_example_csv(promoted_project, capsys):
    import pandas as pd

    root, run_dir = promoted_project
    assert main(["report", str(run_dir), "--csv", "examples.csv"]) == 0
    out = capsys.readouterr().out
    assert "PROMOTE" in out and "per example: candidate against the best baseline" in out
    frame = pd.read_csv(root / "examples.csv")
    assert len(frame) == 12  # 6 examples × 2 criteria
    fields = frame[frame.criterion == "fields"]
    assert (fields.outcome == "win").all() and set(fields.baseline) == {"prompt"}
    assert (frame[frame.criterion == "schema_valid"].outcome == "tie").all()
    # A record changed after the verdict: the report refuses to join it.
    record = root / "reports" / "runs" / "tiny" / "tiny-sft-x.json"
    record.write_text(record.read_text() + " ")
    assert main(["report", str(run_dir)]) == 2
    assert "changed since the verdict was written" in capsys.readouterr().err
