"""The pytest plugin via pytester: suites collected as one item per criterion check, failure
text with value, bound, interval and baseline, the header naming what is gated, JUnit."""

from __future__ import annotations

import json
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
    # One item per registered check that applies, plus the gate-wide criteria_fixed check.
    result.stdout.fnmatch_lines(["suites/tiny.yaml::fields[[]beat_baseline[]]",
                                 "suites/tiny.yaml::schema_valid[[]max_drop[]]",
                                 "suites/tiny.yaml::criteria_fixed",
                                 "*3 tests collected*"])
    assert "notes.yaml" not in result.stdout.str()


def test_without_candidate_items_skip(project: pytest.Pytester):
    result = project.runpytest_inprocess("suites/")
    result.assert_outcomes(skipped=3)


def test_identical_candidate_fails_beat_baseline_with_figures(project: pytest.Pytester):
    result = project.runpytest_inprocess(
        "suites/", "--evalgate-candidate", "adapters/run-1", "--junitxml", "junit.xml")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["evalgate: model * adapter tiny (sft, run run-1*",
                                 "evalgate: baseline best * suites tiny *"])
    # The candidate answers exactly like the baseline on 6 examples: whether it beats it
    # cannot be told (Tango's interval ±0.390), so beat_baseline fails the item as
    # INCONCLUSIVE; max_drop and criteria_fixed (the suites as the manifest pinned them) pass.
    result.assert_outcomes(failed=1, passed=2)
    assert "INCONCLUSIVE: tiny/fields [beat_baseline Δ > +0" in out
    assert "candidate 0.000 [0.000, 0.390]" in out
    assert "best baseline prompt" in out and "Δ +0.000 [-0.390, +0.390]" in out
    junit = ET.parse(project.path / "junit.xml").getroot()
    assert len(junit.findall(".//testcase")) == 3
    [failure] = junit.findall(".//failure")
    assert "cannot tell whether the candidate beats the best baseline (prompt)" in \
        failure.get("message")


def test_explicit_baseline_system(project: pytest.Pytester):
    result = project.runpytest_inprocess(
        "suites/", "--evalgate-candidate", "adapters/run-1",
        "--evalgate-baseline", "baselines/prompt.yaml")
    assert "best baseline prompt" in result.stdout.str()
    result.assert_outcomes(failed=1, passed=2)


def test_baseline_by_name_from_the_project(project: pytest.Pytester):
    result = project.runpytest_inprocess(
        "suites/", "--evalgate-candidate", "adapters/run-1", "--evalgate-baseline", "prompt")
    out = result.stdout.str()
    assert "not found" not in out and "evalgate error" not in out
    assert "best baseline prompt" in out and "Δ +0.000 [-0.390, +0.390]" in out
    # Identical candidate and baseline: beat_baseline is INCONCLUSIVE (a failed item),
    # max_drop and criteria_fixed pass.
    result.assert_outcomes(failed=1, passed=2)


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


def test_changed_criteria_fail_their_own_item(project: pytest.Pytester):
    """A bound loosened after training: the criteria_fixed item fails naming the change, and
    the criterion checks are still decided (the same orchestration as `evalgate gate`)."""
    suite = project.path / "suites" / "tiny.yaml"
    suite.write_text(suite.read_text().replace("max_drop: 0.5", "max_drop: 0.9"))
    result = project.runpytest_inprocess("suites/", "--evalgate-candidate", "adapters/run-1")
    result.assert_outcomes(failed=2, passed=1)
    out = result.stdout.str()
    assert "suites or criteria changed since the adapter was trained" in out
    # A bound is not part of the criterion's scoring fingerprint: the suite's config changed.
    assert "suite 'tiny': its configuration changed (a bound" in out


def test_one_suite_file_at_a_time_is_not_a_removed_suite(tmp_path: Path, tiny_model_dir: Path):
    """pytest judges suite files one by one: the other suites the manifest pinned were not
    removed, only not asked about (the whole-project gate still says when one is)."""
    from evalgate.checks import GateEvidence
    from evalgate.checks.provenance import CriteriaFixed
    from evalgate.suite import load_suite
    from evalgate.train.manifest import load_manifest

    run_dir = write_gate_project(tmp_path, tiny_model_dir)
    manifest_path = run_dir / "manifest.json"
    data = json.loads(manifest_path.read_text())
    data["suites"]["other"] = dict(data["suites"]["tiny"], path="suites/other.yaml")
    manifest_path.write_text(json.dumps(data))
    manifest = load_manifest(run_dir)
    suite = load_suite(tmp_path / "suites" / "tiny.yaml")
    check = CriteriaFixed()
    result = check.decide(GateEvidence(manifest, (suite,), partial=True))
    assert result.status == "PASS" and result.notes == ()
    from evalgate.errors import ConfigError
    with pytest.raises(ConfigError, match="suite 'other' was removed since training"):
        check.decide(GateEvidence(manifest, (suite,)))


def test_capability_suite_and_an_adapter_evalgate_did_not_train(project: pytest.Pytester,
                                                                 tiny_model_dir: Path):
    """What `evalgate gate OUTSIDE --system S` judges, pytest judges: a PEFT adapter trained by
    another tool, served with a system, checked against evalgate.lock; and suites of every
    kind are collected (a capability suite has `kind:` and `questions:`, no `data:`)."""
    import yaml

    from evalgate.cli.main import main
    from tests.gate_project import write_adapter
    from tests.test_capability_gate import _capability_suite

    root = project.path
    _capability_suite(root)
    config = yaml.safe_load((root / "evalgate.yaml").read_text())
    config["suites"].append("suites/knowledge.yaml")
    (root / "evalgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    write_adapter(root / "outside", tiny_model_dir)  # an untrained LoRA: the base model
    assert main(["pin", "--project", str(root)]) == 0

    collected = project.runpytest_inprocess("suites/", "--collect-only", "-q")
    collected.stdout.fnmatch_lines(["suites/knowledge.yaml::accuracy[[]capability_regression[]]",
                                    "suites/knowledge.yaml::answer_kl[[]max[]]",
                                    "suites/knowledge.yaml::criteria_fixed"])

    # No --evalgate-system: the same refusal as the gate, as a usage error with the fix.
    refused = project.runpytest_inprocess("suites/", "--evalgate-candidate", "outside")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs the system it is served with" in refused.stderr.str()
    assert "add --evalgate-system baselines/" in refused.stderr.str()
    assert " --system" not in refused.stderr.str()
    # No lock yet: criteria must be written down before an outside candidate is judged.
    unlocked = project.runpytest_inprocess("suites/", "--evalgate-candidate", "outside",
                                           "--evalgate-system", "baselines/prompt.yaml")
    assert unlocked.ret == pytest.ExitCode.USAGE_ERROR
    assert "evalgate lock" in unlocked.stderr.str()

    assert main(["lock", "--project", str(root)]) == 0
    result = project.runpytest_inprocess("suites/", "--evalgate-candidate", "outside",
                                         "--evalgate-system", "baselines/prompt.yaml", "-rA")
    out = result.stdout.str()
    assert "not trained by evalgate" in out and "criteria from evalgate.lock" in out
    # The base model's own answers: every continuous capability signal passes, accuracy on a
    # random tiny model has no power (INCONCLUSIVE fails its item), beat_baseline fails, and
    # both criteria_fixed items pass against the lock.
    assert "PASSED suites/knowledge.yaml::criteria_fixed" in out
    assert "PASSED suites/tiny.yaml::criteria_fixed" in out
    for name in ("gold_logprob[max_drop]", "agreement[min]", "answer_kl[max]"):
        assert f"PASSED suites/knowledge.yaml::{name}" in out
    assert "FAILED suites/tiny.yaml::fields[beat_baseline]" in out
    assert "FAILED suites/knowledge.yaml::accuracy[capability_regression]" in out
    assert "no power" in out
