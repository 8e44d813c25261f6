"""`evalgate baseline` end to end on the tiny model: prompt, few-shot and RAG over two suites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.util.files import sha256_file
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
        for criterion in suite["criteria"].values():
            best = criterion["best"]
            values = [run["criteria"] for run in suite["runs"].values()]
            assert criterion["value"] == max(v[next(iter(v))]["value"] for v in values) or \
                len(suite["criteria"]) > 1
            assert best in suite["runs"]
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
