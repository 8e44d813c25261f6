"""`evalgate gate` end to end on the tiny model: criteria pinned at training, reports written,
an identical candidate never promoted, the verdict recomputed from records alone."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.gate import load_verdict, recompute
from tests.gate_project import write_gate_project


@pytest.fixture()
def gate_project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    run_dir = write_gate_project(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path, run_dir


def test_identical_candidate_is_rejected_and_verdict_recomputes(gate_project, capsys):
    root, run_dir = gate_project
    assert main(["gate", str(run_dir)]) == 1
    captured = capsys.readouterr()
    assert "baseline record is missing" in captured.err      # baselines were run for us
    out = captured.out
    assert "INCONCLUSIVE" in out and "cannot tell whether the candidate beats the best " \
        "baseline (prompt)" in out
    report_dir = root / "reports" / "gate" / "run-1"
    for name in ("report.json", "report.md", "report.html", "junit.xml"):
        assert (report_dir / name).is_file(), name
    verdict = load_verdict(report_dir / "report.json")
    assert verdict.decision == "INCONCLUSIVE" and not verdict.allow_changed_criteria
    # Identical on 6 examples: Δ 0 with Tango's interval ±0.390, which cannot tell a gain
    # (never PASS) but is surely within a drop of 0.5.
    beat = next(c for c in verdict.checks if c.kind == "beat_baseline")
    assert beat.delta.value == 0 and beat.status == "INCONCLUSIVE"
    assert beat.delta.low == pytest.approx(-0.390, abs=1e-3)
    drop = next(c for c in verdict.checks if c.kind == "max_drop")
    assert drop.status == "PASS" and drop.delta.high == pytest.approx(0.390, abs=1e-3)
    fixed = next(c for c in verdict.checks if c.kind == "criteria_fixed")
    assert fixed.status == "PASS" and fixed.notes == ()
    again = recompute(verdict, root)
    assert again.checks == verdict.checks and again.decision == verdict.decision
    assert verdict.records["tiny"]["candidate"]["path"].startswith("reports/runs/tiny/tiny-sft-")
    html = (report_dir / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    junit = ET.parse(report_dir / "junit.xml").getroot()
    assert int(junit.get("tests")) == len(verdict.checks)
    assert junit.find(".//failure").get("type") == "INCONCLUSIVE"
    # Second run: everything cached, the same verdict.
    assert main(["gate", str(run_dir)]) == 1
    assert load_verdict(report_dir / "report.json").checks == verdict.checks
    # An INCONCLUSIVE verdict cannot be promoted.
    assert main(["promote", str(run_dir)]) == 1
    assert "not promoted" in capsys.readouterr().err
    assert not (root / "registry" / "tiny").exists()


def test_changed_criteria_refused_unless_allowed(gate_project, capsys):
    root, run_dir = gate_project
    suite_path = root / "suites" / "tiny.yaml"
    suite = yaml.safe_load(suite_path.read_text())
    suite["criteria"][0]["beat_baseline"] = {"margin": 0.2}
    suite["criteria"][1]["extract"] = "whole"
    suite_path.write_text(yaml.safe_dump(suite))
    assert main(["gate", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "changed since the adapter was trained" in err
    assert "criterion 'schema_valid' changed" in err and "--allow-changed-criteria" in err
    assert not (root / "reports" / "gate").exists()
    assert main(["gate", str(run_dir), "--allow-changed-criteria"]) == 1
    verdict = json.loads((root / "reports" / "gate" / "run-1" / "report.json").read_text())
    assert verdict["allow_changed_criteria"] is True and verdict["changed_criteria"]
    assert "--allow-changed-criteria" in (root / "reports" / "gate" / "run-1" /
                                          "report.md").read_text()


def test_tampered_adapter_is_refused(gate_project, capsys):
    root, run_dir = gate_project
    with open(run_dir / "sft" / "adapter_config.json", "a") as handle:
        handle.write(" ")
    assert main(["gate", str(run_dir)]) == 2
    assert "adapter files differ from the manifest" in capsys.readouterr().err
