"""Candidates evalgate did not train: a plain PEFT adapter (with --system) and a system whose
backend is an endpoint serving a fine-tuned model. Criteria still come first: evalgate.lock is
required, checked, and named in the verdict as the provenance; promotion copies the adapter by
hash or registers the endpoint by reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.gate import load_verdict, recompute
from tests.endpoints import FaultServer, completion
from tests.gate_project import relative_project, write_adapter


@pytest.fixture()
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return relative_project(tmp_path, tiny_model_dir, monkeypatch)


def _gate_dir(root: Path) -> Path:
    [folder] = (root / "reports" / "gate").iterdir()
    return folder


def test_external_adapter_needs_a_lock_then_is_gated_with_the_lock_as_provenance(
        project: Path, tiny_model_dir: Path, capsys):
    adapter = write_adapter(project / "elsewhere" / "my-lora", tiny_model_dir)
    # Without --system: which prompts would it be served with?
    assert main(["gate", str(adapter)]) == 2
    assert "--system" in capsys.readouterr().err
    # Without a lock: criteria must be written down first.
    assert main(["gate", str(adapter), "--system", "baselines/prompt.yaml"]) == 2
    err = capsys.readouterr().err
    assert "no evalgate.lock" in err and "evalgate lock" in err
    assert not (project / "reports" / "gate").exists()

    assert main(["lock"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "evalgate.lock" in out and "tiny" in out
    lock = json.loads((project / "evalgate.lock").read_text())
    assert set(lock["suites"]) == {"tiny"} and set(lock["baselines"]) == {"prompt"}
    assert main(["lock", "--check"]) == 0

    # An untrained LoRA answers like the base model: on 12 examples whether it beats the
    # prompt cannot be told (INCONCLUSIVE), with the lock as provenance.
    assert main(["gate", str(adapter), "--system", "baselines/prompt.yaml"]) == 1
    out = capsys.readouterr().out
    assert "external adapter" in out and "training time not verifiable" in out
    folder = _gate_dir(project)
    assert folder.name.startswith("my-lora-")
    verdict = load_verdict(folder / "report.json")
    assert verdict.decision == "INCONCLUSIVE"
    assert verdict.candidate["kind"] == "adapter"
    assert verdict.candidate["provenance"]["kind"] == "lock"
    assert verdict.candidate["provenance"]["sha256"] == \
        __import__("hashlib").sha256((project / "evalgate.lock").read_bytes()).hexdigest()
    assert "cannot be verified" in verdict.candidate["provenance"]["note"]
    assert verdict.manifest == {} and verdict.adapter["files"]["adapter_config.json"]
    fixed = next(c for c in verdict.checks if c.kind == "criteria_fixed")
    assert fixed.status == "PASS" and fixed.criterion == "criteria fixed by evalgate.lock"
    assert recompute(verdict, project).checks == verdict.checks
    markdown = (folder / "report.md").read_text()
    assert "external adapter" in markdown and "lock:" in markdown
    assert "training time" in (folder / "report.html").read_text()
    # An INCONCLUSIVE verdict is not promoted.
    assert main(["promote", str(adapter), "--system", "baselines/prompt.yaml"]) == 1
    assert not (project / "registry" / "tiny").exists()


def test_suites_changed_since_the_lock_are_refused(project: Path, tiny_model_dir: Path, capsys):
    adapter = write_adapter(project / "my-lora", tiny_model_dir)
    assert main(["lock"]) == 0
    suite_path = project / "suites" / "tiny.yaml"
    suite = yaml.safe_load(suite_path.read_text())
    suite["criteria"][1]["max_drop"] = 0.9  # a bar lowered after the fact
    suite_path.write_text(yaml.safe_dump(suite))
    capsys.readouterr()
    assert main(["gate", str(adapter), "--system", "baselines/prompt.yaml"]) == 2
    err = capsys.readouterr().err
    assert "changed since the lock was written" in err and "suite 'tiny': its configuration changed" in err
    # `evalgate lock` will not paper over it without --update, and --check fails in CI.
    assert main(["lock"]) == 2 and main(["lock", "--check"]) == 2
    assert "lock --update" in capsys.readouterr().err
    assert main(["check"]) == 2  # `evalgate check` says so too, before any model loads
    assert "differs from evalgate.lock" in capsys.readouterr().err
    assert main(["lock", "--update"]) == 0
    assert main(["check"]) == 0


def _perfect_answers(n: int, body: dict):
    """A 'fine-tuned endpoint' that reads the order id from the ticket and answers right."""
    ticket = body["messages"][-1]["content"]
    order = re.search(r"ORD-\d+", ticket).group(0)
    return 200, {}, completion(json.dumps({"intent": "status", "order_id": order})), 0.0


def test_endpoint_candidate_is_promoted_by_reference(project: Path, capsys):
    with FaultServer(_perfect_answers) as server:
        system = project / "candidates" / "served-ft.yaml"
        system.parent.mkdir()
        system.write_text(yaml.safe_dump({
            "name": "served-ft", "kind": "prompt",
            "prompts": {"tiny": {"user": "Ticket: {input}"}},
            "backend": {"kind": "openai", "base_url": server.base_url,
                        "model": "ft:triage-v3"}}))
        assert main(["gate", str(system)]) == 2  # no lock yet
        assert "no evalgate.lock" in capsys.readouterr().err
        assert main(["lock"]) == 0
        assert main(["gate", str(system)]) == 0
        out = capsys.readouterr().out
        assert "PROMOTE" in out and "endpoint ft:triage-v3" in out
        verdict = load_verdict(_gate_dir(project) / "report.json")
        assert verdict.candidate["kind"] == "endpoint"
        assert verdict.candidate["endpoint"] == {"base_url": server.base_url,
                                                 "model": "ft:triage-v3"}
        assert verdict.adapter == {} and verdict.base_model["backend"] == "openai"

        assert main(["promote", str(system), "--name", "triage"]) == 0
        out = capsys.readouterr().out
        assert "promoted triage v1" in out and "endpoint ft:triage-v3" in out
        entry = project / "registry" / "triage" / "v1"
        assert not (entry / "adapter").exists()
        assert (entry / "evalgate.lock").is_file() and (entry / "verdict.json").is_file()
        info = json.loads((entry / "entry.json").read_text())
        assert info["kind"] == "endpoint" and info["endpoint"]["model"] == "ft:triage-v3"
        assert main(["registry", "list"]) == 0
        assert "endpoint ft:triage-v3" in capsys.readouterr().out
        # The same endpoint again reuses its version; the audit log says what moved.
        assert main(["promote", str(system), "--name", "triage", "--alias", "staging"]) == 0
        audit = [json.loads(line) for line in
                 (project / "registry" / "audit.jsonl").read_text().splitlines()]
        assert [a["version"] for a in audit] == ["v1", "v1"]
        assert audit[0]["kind"] == "endpoint" and audit[0]["lock_sha256"]
        # Pointing the system at another model makes the verdict not this candidate's.
        config = yaml.safe_load(system.read_text())
        config["backend"]["model"] = "ft:triage-v4"
        system.write_text(yaml.safe_dump(config))
        assert main(["promote", str(system), "--name", "triage"]) == 2
        assert "no verdict" in capsys.readouterr().err


def test_endpoint_candidate_on_a_capability_suite_is_inconclusive_not_passed(
        project: Path, capsys):
    """Suites that need log-probs cannot measure an endpoint: each criterion says so."""
    from evalgate.checks import Status
    from evalgate.eval.records import save_unmeasured
    from evalgate.gate.decide import decide_criterion, criterion_spec
    from evalgate.project import load_project
    from evalgate.suite import load_suite
    from evalgate.suite.kinds import SUITE_KINDS, _register_builtin, unmet_needs
    from evalgate.systems.prompting import load_system

    _register_builtin()
    system = project / "served.yaml"
    system.write_text(yaml.safe_dump({
        "name": "served", "backend": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                      "model": "m"}}))
    served = load_system(system)
    reason = unmet_needs(SUITE_KINDS["capability"], served)
    assert "log-probs" in reason
    assert "manifest" in unmet_needs(SUITE_KINDS["leakage"], load_system(
        project / "baselines" / "prompt.yaml"))
    suite = load_suite(project / "suites" / "tiny.yaml")
    record, path = save_unmeasured(load_project(project), suite, served, reason)
    assert path.is_file() and record.stats["unmeasured"] == reason
    spec = criterion_spec("tiny", suite.config.criteria[0])
    [result] = decide_criterion(spec, record, None)[:1]
    assert result.status is Status.INCONCLUSIVE and result.notes == (reason,)


def test_a_promoted_external_adapter_is_copied_by_hash_with_the_lock(
        project: Path, tiny_model_dir: Path, capsys):
    """A PROMOTE verdict (built over hand-made records: no generation needed) for a PEFT adapter
    evalgate did not train: promote copies exactly its files and the lock, and refuses once a
    file changes."""
    from evalgate.checks import Status
    from evalgate.gate.candidate import resolve_candidate
    from evalgate.gate.decide import build_verdict, criterion_specs
    from evalgate.gate.run import gate_checks, gate_dir, write_reports
    from evalgate.project import load_project
    from evalgate.suite import load_suite
    from tests.gate_helpers import make_record

    adapter = write_adapter(project / "my-lora", tiny_model_dir)
    assert main(["lock"]) == 0
    loaded = load_project(project)
    candidate = resolve_candidate(loaded, adapter, project / "baselines" / "prompt.yaml")
    suite = load_suite(project / "suites" / "tiny.yaml")
    runs = project / "reports" / "runs" / "tiny"
    data = suite.dataset.sha256
    base = make_record("prompt", {"fields": [0] * 12, "schema_valid": [1] * 12}, "tiny", data)
    cand = make_record("my-lora", {"fields": [1] * 12, "schema_valid": [1] * 12}, "tiny", data)
    base.save(runs / "prompt-x.json")
    cand.save(runs / "my-lora-x.json")
    (project / "reports" / "baseline.json").write_text(json.dumps({"format": 1, "suites": {
        "tiny": {"config_sha256": suite.config_sha256,
                 "runs": {"prompt": {"path": "reports/runs/tiny/prompt-x.json", "criteria": {}}},
                 "criteria": {name: {"best": "prompt"} for name in ("fields", "schema_valid")}}}}))
    verdict = build_verdict(
        specs=criterion_specs([suite]), candidates={"tiny": (cand, runs / "my-lora-x.json")},
        baseline_path=project / "reports" / "baseline.json", root=project, suites=[suite],
        candidate=candidate, gate_checks=gate_checks(None, [suite], False, lock=candidate.lock))
    assert verdict.decision == "PROMOTE" and all(c.status is Status.PASS for c in verdict.checks)
    write_reports(verdict, gate_dir(loaded, candidate.run_id))

    assert main(["promote", str(adapter), "--system", "baselines/prompt.yaml",
                 "--name", "triage"]) == 0
    assert "(external)" in capsys.readouterr().out
    entry = project / "registry" / "triage" / "v1"
    assert sorted(p.name for p in (entry / "adapter").iterdir()) == sorted(
        verdict.adapter["files"])
    assert (entry / "evalgate.lock").read_bytes() == (project / "evalgate.lock").read_bytes()
    assert not (entry / "manifest.json").exists()
    assert main(["registry", "show", "triage"]) == 0
    audit = json.loads((project / "registry" / "audit.jsonl").read_text().splitlines()[-1])
    assert audit["kind"] == "adapter" and audit["adapter_sha256"] == verdict.adapter["sha256"]
    # A changed adapter file is another candidate: its verdict is not this one's.
    with open(adapter / "adapter_config.json", "a") as handle:
        handle.write("\n")
    assert main(["promote", str(adapter), "--system", "baselines/prompt.yaml"]) == 2
    assert "no verdict" in capsys.readouterr().err
