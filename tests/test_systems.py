"""Prompt, few-shot and RAG systems: rendering, selection, guards."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from transformers import AutoTokenizer

from evalgate.errors import ConfigError
from evalgate.eval.run import render_prompt
from evalgate.suite.load import load_suite
from evalgate.systems.prompting import load_system
from tests.helpers import example_rows, write_jsonl, write_project


def _pool_rows() -> list[dict]:
    return [
        {"id": "p-1", "ticket": "I want my money back for the shoes",
         "expected": {"intent": "refund", "order_id": None}},
        {"id": "p-2", "ticket": "Where is my parcel ORD-555555?",
         "expected": {"intent": "status", "order_id": "ORD-555555"}},
        {"id": "p-3", "ticket": "Refund the jacket please",
         "expected": {"intent": "refund", "order_id": None}},
    ]


def _write_system(root: Path, name: str, entry: dict, kind: str) -> Path:
    path = root / "baselines" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "kind": kind, "prompts": {"tiny": entry}}))
    return path


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write_project(tmp_path, "unused")
    write_jsonl(tmp_path / "training" / "pool.jsonl", _pool_rows())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\nShoes can be returned within 30 days.\n")
    (docs / "shipping.md").write_text("# Shipping\nParcels arrive in 2 to 4 working days.\n")
    return tmp_path


FEW_SHOT = {"system": "Triage tickets.", "user": "Ticket: {input}",
            "few_shot": {"pool": "../training/pool.jsonl", "k": 2, "input": "{ticket}",
                         "output": "{expected}"}}


def test_nearest_few_shot_puts_the_most_similar_example_last(project: Path):
    system = load_system(_write_system(project, "fs", FEW_SHOT, "few_shot"))
    prepared = system.prepare(load_suite(project / "suites" / "tiny.yaml"))
    prompt = prepared.build("Where is my order ORD-100001?")
    roles = [m["role"] for m in prompt.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert prompt.messages[3]["content"] == "Ticket: Where is my parcel ORD-555555?"
    assert prompt.messages[4]["content"] == '{"intent": "status", "order_id": "ORD-555555"}'
    assert prompt.messages[-1]["content"] == "Ticket: Where is my order ORD-100001?"


def test_few_shot_renders_through_the_chat_template(project: Path, tiny_model_dir: Path):
    system = load_system(_write_system(project, "fs", FEW_SHOT, "few_shot"))
    prompt = system.prepare(load_suite(project / "suites" / "tiny.yaml")).build("Refund?")
    text = render_prompt(AutoTokenizer.from_pretrained(tiny_model_dir), prompt.messages)
    assert text.count("<|im_start|>assistant\n") == 3  # two shots + the generation prompt
    assert text.endswith("Ticket: Refund?<|im_end|>\n<|im_start|>assistant\n")


def test_fixed_few_shot_keeps_the_given_order(project: Path):
    entry = {**FEW_SHOT, "few_shot": {**FEW_SHOT["few_shot"], "select": "fixed",
                                      "ids": ["p-3", "p-1"]}}
    system = load_system(_write_system(project, "fs", entry, "few_shot"))
    prompt = system.prepare(load_suite(project / "suites" / "tiny.yaml")).build("x")
    assert prompt.messages[1]["content"] == "Ticket: Refund the jacket please"
    assert prompt.messages[3]["content"] == "Ticket: I want my money back for the shoes"


def test_pool_overlapping_held_out_data_is_an_error_naming_ids(project: Path):
    rows = _pool_rows() + [example_rows()[2]]  # ex-2 is in the suite
    rows.append({**example_rows()[4], "id": "p-copy"})  # same text, other id
    write_jsonl(project / "training" / "pool.jsonl", rows)
    system = load_system(_write_system(project, "fs", FEW_SHOT, "few_shot"))
    with pytest.raises(ConfigError, match="overlaps the held-out data") as info:
        system.prepare(load_suite(project / "suites" / "tiny.yaml"))
    assert "ex-2" in str(info.value) and "p-copy = ex-4" in str(info.value)


def test_k_larger_than_pool_or_corpus(project: Path):
    entry = {**FEW_SHOT, "few_shot": {**FEW_SHOT["few_shot"], "k": 9}}
    system = load_system(_write_system(project, "fs", entry, "few_shot"))
    with pytest.raises(ConfigError, match="pool has only 3"):
        system.prepare(load_suite(project / "suites" / "tiny.yaml"))
    rag = {"user": "{context}\n{input}", "retrieval": {"docs": "../docs", "k": 5}}
    system = load_system(_write_system(project, "rag", rag, "rag"))
    with pytest.raises(ConfigError, match="only 2 chunks"):
        system.prepare(load_suite(project / "suites" / "tiny.yaml"))


def test_rag_puts_sources_in_context_and_records_ids(project: Path):
    rag = {"system": "Answer from the context.", "user": "Context:\n{context}\n\nQ: {input}",
           "retrieval": {"docs": "../docs", "k": 1}}
    system = load_system(_write_system(project, "rag", rag, "rag"))
    prepared = system.prepare(load_suite(project / "suites" / "tiny.yaml"))
    prompt = prepared.build("Can I return shoes?")
    assert prompt.retrieved == ("returns.md#0",)
    assert "[returns.md#0]\nReturns\nShoes can be returned" in prompt.messages[-1]["content"]
    empty = prepared.build("zzz qqq")
    assert empty.retrieved == () and "(no matching passage found)" in empty.messages[-1]["content"]


@pytest.mark.parametrize("entry, kind, message", [
    ({"user": "{input}", "retrieval": {"docs": "../docs"}}, "rag", "has no {context}"),
    ({"user": "{input} {ticket}"}, "prompt", "unknown field(s) ticket"),
    ({"user": "{input}"}, "rag", "kind: rag needs `retrieval`"),
    ({"user": "{context} {input}", "retrieval": {"docs": "../nope"}}, "rag", "document folder"),
])
def test_bad_system_configs(project: Path, entry, kind, message):
    path = _write_system(project, "bad", entry, kind)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("{", r"\{").replace("}", r"\}")):
        load_system(path).prepare(load_suite(project / "suites" / "tiny.yaml"))


def test_editing_another_suites_prompt_keeps_this_suites_identity(project: Path):
    """Cached outputs are keyed per suite prompt: adding a prompt for a new suite to a baseline
    must not throw away the outputs it already has for the others."""
    suite = load_suite(project / "suites" / "tiny.yaml")
    path = _write_system(project, "fs", FEW_SHOT, "few_shot")
    before = load_system(path).prepare(suite).config_sha256
    config = yaml.safe_load(path.read_text())
    config["prompts"]["other_suite"] = {**FEW_SHOT, "system": "Answer briefly."}
    path.write_text(yaml.safe_dump(config))
    assert load_system(path).prepare(suite).config_sha256 == before
    config["prompts"]["tiny"]["system"] = "Triage tickets carefully."
    path.write_text(yaml.safe_dump(config))
    assert load_system(path).prepare(suite).config_sha256 != before


def test_every_system_kind_is_documented_and_the_examples_use_known_kinds():
    """The README and the example files agree on what a system `kind` can be (a new user met
    `kind: adapter` in the examples and found it nowhere in the docs)."""
    import typing

    import yaml

    from evalgate.systems import SystemConfig

    root = Path(__file__).resolve().parent.parent
    kinds = typing.get_args(SystemConfig.model_fields["kind"].annotation)
    readme = (root / "README.md").read_text(encoding="utf-8")
    for kind in kinds:
        assert f"`{kind}`" in readme, f"README does not document system kind {kind!r}"
    used = {yaml.safe_load(path.read_text(encoding="utf-8")).get("kind", "prompt")
            for folder in ("baselines", "systems") for path in (root / folder).glob("*.yaml")}
    assert used <= set(kinds) and "adapter" in used
