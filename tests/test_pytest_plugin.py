"""The pytest plugin via pytester: suites collected as one item per criterion check, failure
text with value, bound, interval and baseline, the header naming what is gated, JUnit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.gate_project import write_gate_project

pytest_plugins = ["pytester"]


@pytest.fixture()
def project(pytester: pytest.Pytester, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    write_gate_project(pytester.path, tiny_model_dir)
    monkeypatch.setenv("EVALGATE_HOME", str(pytester.path / "home"))
    (pytester.path / "suites" / "notes.yaml").write_text("title: not a suite\n")
    return pytester


def test_collects_one_item_per_check_and_only_suites(project: pytest.Pytester):
    result = project.runpytest_inprocess("suites/", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["suites/tiny.yaml::fields[[]beat_baseline[]]",
                                 "suites/tiny.yaml::schema_valid[[]max_drop[]]",
                                 "*2 tests collected*"])
    assert "notes.yaml" not in result.stdout.str()


def test_without_candidate_items_skip(project: pytest.Pytester):
    result = project.runpytest_inprocess("suites/")
    result.assert_outcomes(skipped=2)


def test_identical_candidate_fails_beat_baseline_with_figures(project: pytest.Pytester):
    result = project.runpytest_inprocess(
        "suites/", "--evalgate-candidate", "adapters/run-1", "--junitxml", "junit.xml")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["evalgate: model * adapter tiny (sft, run run-1*",
                                 "evalgate: baseline best * suites tiny *"])
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 1
    assert "FAIL: tiny/fields [beat_baseline Δ > +0" in out
    assert "candidate 0.000 [" in out or "candidate " in out
    assert "best baseline prompt" in out and "Δ +0.000 [+0.000, +0.000]" in out
    junit = ET.parse(project.path / "junit.xml").getroot()
    assert len(junit.findall(".//testcase")) == 2
    assert junit.find(".//failure") is not None


def test_explicit_baseline_system(project: pytest.Pytester):
    result = project.runpytest_inprocess(
        "suites/", "--evalgate-candidate", "adapters/run-1",
        "--evalgate-baseline", "baselines/prompt.yaml")
    assert "best baseline prompt" in result.stdout.str()
    assert result.parseoutcomes()["failed"] >= 1
