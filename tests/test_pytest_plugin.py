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


def test_baseline_by_name_from_the_project(project: pytest.Pytester):
    result = project.runpytest_inprocess(
        "suites/", "--evalgate-candidate", "adapters/run-1", "--evalgate-baseline", "prompt")
    out = result.stdout.str()
    assert "not found" not in out and "evalgate error" not in out
    assert "best baseline prompt" in out and "Δ +0.000 [+0.000, +0.000]" in out
    # Identical candidate and baseline: beat_baseline fails, max_drop passes.
    result.assert_outcomes(failed=1, passed=1)


@pytest.mark.parametrize("args, named, problem", [
    (["--evalgate-candidate", "adapters/run-1", "--evalgate-baseline", "promt"],
     "--evalgate-baseline 'promt'", "no baseline has this name"),
    (["--evalgate-baseline", "promt"], "--evalgate-baseline 'promt'",
     "no baseline has this name"),
    (["--evalgate-candidate", "adapters/run-1", "--evalgate-baseline", "baselines/nope.yaml"],
     "--evalgate-baseline 'baselines/nope.yaml'", "no such file"),
    (["--evalgate-candidate", "adapters/run-9"], "--evalgate-candidate 'adapters/run-9'",
     "no such file or folder"),
    (["--evalgate-candidate", "suites/data"], "--evalgate-candidate 'suites/data'",
     "no manifest.json"),
    (["--evalgate-candidate", "baselines/nope.yaml"],
     "--evalgate-candidate 'baselines/nope.yaml'", "no such file or folder"),
])
def test_bad_option_value_is_a_usage_error_not_failed_tests(project: pytest.Pytester, args,
                                                            named, problem):
    result = project.runpytest_inprocess("suites/", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert f"ERROR: {named}: " in err and problem in err
    assert "fix: pass" in err
    if named.startswith("--evalgate-baseline"):
        assert "known baselines (evalgate.yaml): prompt" in err
    outcomes = result.parseoutcomes() if "passed" in result.stdout.str() else {}
    assert not outcomes.get("failed") and not outcomes.get("passed")
