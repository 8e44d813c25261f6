"""The policy QA example suite: generator, committed data, suite pin and corpus agree.

Fast (no model). Every question must be answerable from its gold document: one accepted answer
occurs in it under the suite's own `contains` metric (same normalisation, whole words).
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from evalgate.metrics.contains import Contains
from evalgate.metrics.exact_match import normalize
from evalgate.suite.load import load_suite

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_policy_qa.py"
SUITE = ROOT / "suites" / "policy_qa.yaml"
DATA = ROOT / "suites" / "data" / "policy_qa.jsonl"
DOCS = ROOT / "docs" / "policies"
OPTIONS = ("case", "punctuation", "whitespace")


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_policy_qa", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def examples() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def docs() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md"))}


def test_generator_reproduces_committed_file_byte_for_byte():
    first = gen.render(gen.build())
    second = gen.render(gen.build())
    assert first == second, "the generator is not deterministic"
    assert DATA.read_bytes() == first.encode("utf-8"), (
        "suites/data/policy_qa.jsonl is out of date: run scripts/make_policy_qa.py and update "
        "the sha256 in suites/policy_qa.yaml")


def test_suite_pins_the_data_and_loads():
    config = yaml.safe_load(SUITE.read_text(encoding="utf-8"))
    assert config["sha256"] == hashlib.sha256(DATA.read_bytes()).hexdigest(), (
        "set `sha256:` in suites/policy_qa.yaml to the data file's new hash")
    suite = load_suite(SUITE)  # the product's own loader: pin, fields, criteria, metric
    assert len(suite.dataset) == gen.N_QUESTIONS
    [criterion] = suite.config.criteria
    assert criterion.metric == "contains" and criterion.reference == "answers"
    assert tuple(criterion.normalize) == OPTIONS


def test_generator_normalisation_is_the_metric_normalisation(examples, docs):
    texts = [answer for example in examples for answer in example["answers"]]
    texts += [example["question"] for example in examples] + list(docs.values())
    for text in texts:
        assert gen.normalize(text) == normalize(text, OPTIONS), text


def test_ids_unique_and_questions_distinct(examples):
    ids = [example["id"] for example in examples]
    assert len(ids) == len(set(ids)) == gen.N_QUESTIONS
    assert all(re.fullmatch(r"pq-\d{3}", example_id) for example_id in ids)
    questions = [normalize(example["question"], OPTIONS) for example in examples]
    assert len(questions) == len(set(questions)), "duplicate questions"


def test_fields_and_language_mix(examples):
    for example in examples:
        assert set(example) == {"id", "question", "answers", "gold_doc", "language", "topic"}
        assert example["answers"] and all(isinstance(a, str) and a for a in example["answers"])
        assert example["language"] == example["gold_doc"].rsplit(".", 2)[-2]
    languages = collections.Counter(example["language"] for example in examples)
    assert set(languages) == {"en", "tr"}
    assert 0.55 <= languages["en"] / len(examples) <= 0.65


def test_corpus_is_bilingual_and_sized(docs):
    assert 8 <= len(docs) <= 12
    assert {name.rsplit(".", 2)[-2] for name in docs} == {"en", "tr"}
    for name, text in docs.items():
        assert 300 <= len(text.split()) <= 900, name
        assert re.search(r"(?m)^## ", text), f"{name} has no section headings"


def test_every_gold_doc_exists_and_answers_its_question(examples, docs):
    metric = Contains(reference_field="answers", options=OPTIONS)
    for example in examples:
        assert example["gold_doc"] in docs, f"{example['id']}: {example['gold_doc']} missing"
        score = metric.score(example, docs[example["gold_doc"]])
        assert score.value == 1.0, (
            f"{example['id']}: no accepted answer occurs in {example['gold_doc']}")


def test_no_answer_is_a_bare_number(examples):
    # "14" would match any output that happens to contain 14; the unit must be part of it.
    # Clock times are the one exception: "15:30" normalises to "1530", which only an output
    # naming that time (15:30, 15.30) contains as a whole word.
    for example in examples:
        for answer in example["answers"]:
            if re.fullmatch(r"\d{2}:\d{2}", answer):
                continue
            assert not normalize(answer, OPTIONS).replace(" ", "").isdigit(), (
                f"{example['id']}: answer {answer!r} has no unit")


def test_every_document_is_used(examples, docs):
    used = {example["gold_doc"] for example in examples}
    assert used == set(docs), f"documents without questions: {sorted(set(docs) - used)}"
