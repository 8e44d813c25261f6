"""`evalgate run` end to end on the tiny project: baseline → train (3 SFT steps) → gate →
(no) promote, with the closing summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalgate.cli import main
from tests.train_helpers import write_train_project


def test_run_pipeline_end_to_end(tmp_path: Path, tiny_model_dir: Path,
                                 monkeypatch: pytest.MonkeyPatch, capsys):
    write_train_project(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    code = main(["run", "--quick"])
    out = capsys.readouterr().out
    assert code == 1, out                      # the suite has no beat_baseline: never promoted
    assert "evalgate run: summary" in out and "REJECT" in out
    assert "beat_baseline" in out
    assert (tmp_path / "reports" / "baseline.json").is_file()
    reports = list((tmp_path / "reports" / "gate").glob("*/report.json"))
    assert len(reports) == 1
    verdict = json.loads(reports[0].read_text())
    assert verdict["decision"] == "REJECT" and verdict["adapter"]["stage"] == "sft"
    assert not (tmp_path / "registry").exists()
