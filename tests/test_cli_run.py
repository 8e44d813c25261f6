"""`evalgate run` end to end on the tiny project: baseline → train → gate → (no) promote, with
the closing summary; and the `--quick` profile (fewer examples, fewer steps, never promoted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalgate.cli.main import main
from tests.train_helpers import write_train_project


def test_run_pipeline_end_to_end(tmp_path: Path, tiny_model_dir: Path,
                                 monkeypatch: pytest.MonkeyPatch, capsys):
    write_train_project(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    code = main(["run"])
    out = capsys.readouterr().out
    assert code == 1, out                      # the suite has no beat_baseline: never promoted
    assert "evalgate run: summary" in out and "REJECT" in out
    assert "beat_baseline" in out and "quick look" not in out
    assert (tmp_path / "reports" / "baseline.json").is_file()
    reports = list((tmp_path / "reports" / "gate").glob("*/report.json"))
    assert len(reports) == 1
    verdict = json.loads(reports[0].read_text())
    assert verdict["decision"] == "REJECT" and verdict["adapter"]["stage"] == "sft"
    manifest = json.loads((tmp_path / "adapters" / verdict["adapter"]["run_id"]
                           / "manifest.json").read_text())
    assert manifest["stages"]["sft"]["steps"] == 3  # the config's full step count
    assert not (tmp_path / "registry").exists()


def test_quick_run_end_to_end(tmp_path: Path, tiny_model_dir: Path,
                              monkeypatch: pytest.MonkeyPatch, capsys):
    write_train_project(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("evalgate.cli.run.QUICK_EXAMPLES", 4)
    code = main(["run", "--quick"])
    out = capsys.readouterr().out
    assert code == 1, out                      # the suite has no beat_baseline: never promoted
    assert "evalgate run: summary" in out and "REJECT" in out
    assert "beat_baseline" in out and "quick look" in out
    quick = tmp_path / "reports" / "quick"
    assert (quick / "baseline.json").is_file()
    assert not (tmp_path / "reports" / "baseline.json").exists()
    records = [json.loads(p.read_text()) for p in (quick / "runs").rglob("*.json")]
    assert records and all(r["suite"]["n"] == 4 for r in records)
    [report] = list((quick / "gate").glob("*/report.json"))
    verdict = json.loads(report.read_text())
    assert verdict["decision"] == "REJECT" and verdict["adapter"]["stage"] == "sft"
    manifest = json.loads((tmp_path / "adapters" / verdict["adapter"]["run_id"]
                           / "manifest.json").read_text())
    assert manifest["name"].endswith("-quick")
    assert manifest["stages"]["sft"]["steps"] == 2  # an eighth of 3 steps, at least 2
    assert not (tmp_path / "registry").exists()
