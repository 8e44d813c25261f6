"""`evalgate baseline` end to end on the tiny model: prompt, few-shot and RAG over two suites."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.eval.baselines import build_baseline_record
from evalgate.eval.records import CriterionResult
from evalgate.suite import load_suite
from evalgate.util.files import sha256_file
from tests.gate_helpers import make_record
from tests.helpers import write_jsonl, write_project


@pytest.fixture()
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_project(tmp_path, str(tiny_model_dir))
    write_jsonl(tmp_path / "training" / "pool.jsonl", [
        {"id": f"p-{i}", "ticket": f"Refund order ORD-20000{i}",
         "expected": {"intent": "refund", "order_id": f"ORD-20000{i}"}} for i in range(4)])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\nShoes can be returned within 30 days.\n")
    (docs / "shipping.md").write_text("# Shipping\nParcels arrive in 2 to 4 working days.\n")
    qa = write_jsonl(tmp_path / "suites" / "data" / "qa.jsonl", [
        {"id": "q1", "question": "How long can shoes be returned?", "answers": ["30 days"],
         "gold_doc": "returns.md"},
        {"id": "q2", "question": "How many working days do parcels take?",
         "answers": ["2 to 4 working days"], "gold_doc": "shipping.md"},
        {"id": "q3", "question": "Can shoes be returned?", "answers": ["30 days"],
         "gold_doc": "shipping.md"},
    ])
    (tmp_path / "suites" / "qa.yaml").write_text(yaml.safe_dump({
        "name": "qa", "data": "data/qa.jsonl", "sha256": sha256_file(qa),
        "input": "{question}", "gold_doc_field": "gold_doc",
        "generation": {"max_new_tokens": 6},
        "criteria": [{"name": "answer", "metric": "contains", "reference": "answers",
                      "min": 0.5}]}))
    baselines = tmp_path / "baselines"
    (baselines / "few_shot.yaml").write_text(yaml.safe_dump({
        "name": "few_shot", "kind": "few_shot", "prompts": {
            "tiny": {"user": "Ticket: {input}", "few_shot": {
                "pool": "../training/pool.jsonl", "k": 2, "input": "{ticket}",
                "output": "{expected}"}},
            "qa": {"user": "{input}", "few_shot": {
                "pool": "../training/pool.jsonl", "k": 1, "select": "fixed", "ids": ["p-0"],
                "input": "{ticket}", "output": "{expected}"}}}}))
    (baselines / "rag.yaml").write_text(yaml.safe_dump({
        "name": "rag", "kind": "rag", "prompts": {"default": {
            "user": "Context:\n{context}\n\n{input}",
            "retrieval": {"docs": "../docs", "k": 1}}}}))
    (baselines / "prompt.yaml").write_text(yaml.safe_dump({
        "name": "prompt", "prompts": {"default": {"system": "Be brief.", "user": "{input}"}}}))
    config = yaml.safe_load((tmp_path / "evalgate.yaml").read_text())
    config["suites"] = ["suites/tiny.yaml", "suites/qa.yaml"]
    config["baselines"] = ["baselines/prompt.yaml", "baselines/few_shot.yaml",
                           "baselines/rag.yaml"]
    (tmp_path / "evalgate.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path


def test_baseline_runs_every_pair_and_records_the_best(project: Path, capsys):
    assert main(["baseline"]) == 0
    out = capsys.readouterr().out
    assert "baselines on tiny" in out and "baselines on qa" in out and "★" in out
    record = json.loads((project / "reports" / "baseline.json").read_text())
    assert set(record["suites"]) == {"tiny", "qa"}
    for suite in record["suites"].values():
        assert set(suite["runs"]) == {"prompt", "few_shot", "rag"}
        for name, run in suite["runs"].items():
            assert (project / run["path"]).is_file()
        # Per criterion, the best is the highest value (every criterion here has a `min`),
        # ties to the baseline listed first in evalgate.yaml.
        for name, criterion in suite["criteria"].items():
            values = {system: run["criteria"][name]["value"]
                      for system, run in suite["runs"].items()}
            expected = next(s for s in ("prompt", "few_shot", "rag")
                            if values[s] == max(values.values()))
            assert criterion["best"] == expected and criterion["value"] == values[expected]
    # Gold documents: q1 and q2 retrieve theirs, q3's gold is deliberately another file.
    rag = record["suites"]["qa"]["runs"]["rag"]["retrieval"]
    assert rag["k"] == 1 and rag["recall_at_k"] == pytest.approx(2 / 3)
    rag_record = json.loads((project / record["suites"]["qa"]["runs"]["rag"]["path"]).read_text())
    assert [e["retrieved"] for e in rag_record["examples"]] == [
        ["returns.md#0"], ["shipping.md#0"], ["returns.md#0"]]
    assert "recall@k" in out

    assert main(["baseline"]) == 0
    assert "27 of 27 examples cached" in capsys.readouterr().out


def test_baseline_with_overlapping_pool_fails_before_any_run(project: Path, capsys):
    write_jsonl(project / "training" / "pool.jsonl", [
        {"id": "ex-1", "ticket": "x", "expected": {"intent": "refund", "order_id": None}},
        {"id": "p-9", "ticket": "y", "expected": {"intent": "refund", "order_id": None}}])
    assert main(["baseline"]) == 2
    assert "overlaps the held-out data" in capsys.readouterr().err
    assert not (project / "reports" / "runs").exists()


def _criterion(name: str, value: float) -> CriterionResult:
    return CriterionResult(name=name, metric="exact_match", value=value, low=value - 0.1,
                           high=value + 0.1, n=10, interval="wilson", bound="", status="PASS")


def test_best_baseline_is_chosen_per_criterion_and_direction(tmp_path: Path):
    """Each criterion picks its own best: the highest value for a `min` criterion, the lowest
    for a `max`-only one (lower is better), ties to the baseline listed first."""
    write_project(tmp_path, "unused", suite_overrides={"criteria": [
        {"name": "fields", "metric": "exact_match", "reference": "expected",
         "json_keys": ["intent"], "min": 0.5},
        {"name": "errors", "metric": "exact_match", "reference": "expected",
         "json_keys": ["order_id"], "max": 0.3},
        {"name": "tied", "metric": "json_schema", "schema": "schemas/t.schema.json",
         "min": 0.5}]})
    suite = load_suite(tmp_path / "suites" / "tiny.yaml")
    values = {"prompt": (0.2, 0.6, 0.7), "few_shot": (0.9, 0.4, 0.7), "rag": (0.5, 0.1, 0.7)}
    runs = {}
    for system, (fields, errors, tied) in values.items():
        record = replace(make_record(system, {"fields": [1]}, suite="tiny"), criteria=(
            _criterion("fields", fields), _criterion("errors", errors), _criterion("tied", tied)))
        runs[("tiny", system)] = (record, tmp_path / f"{system}.json")
    best = build_baseline_record([suite], runs, tmp_path).suites["tiny"]["criteria"]
    assert {name: entry["best"] for name, entry in best.items()} == {
        "fields": "few_shot", "errors": "rag", "tied": "prompt"}
    assert best["errors"]["higher_is_better"] is False and best["errors"]["value"] == 0.1
