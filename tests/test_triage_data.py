"""The triage example task: generator, committed data, schema, suite pin and prompt agree.

Fast (no model): generates both splits once per module and checks them against the files
in the repository, the JSON Schema, suites/triage.yaml and baselines/prompt.yaml.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_triage_data.py"
SUITE = ROOT / "suites" / "triage.yaml"
SCHEMA = ROOT / "suites" / "schemas" / "triage.schema.json"
PROMPT = ROOT / "baselines" / "prompt.yaml"
KEYS = ["intent", "priority", "order_id", "language"]


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_triage_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def splits():
    return gen.generate(gen.SEED)


@pytest.fixture(scope="module")
def everything(splits):
    train, heldout = splits
    return train + heldout


def _fold(text: str) -> str:
    return gen.strip_diacritics(text).lower()


def _keyword(keyword: str) -> re.Pattern:
    """A keyword at the start of a word; suffixes allowed (Turkish: "avukat" in "avukatıma")."""
    return re.compile(r"\b" + re.escape(_fold(keyword)))


def _has(text: str, keyword: str) -> bool:
    return _keyword(keyword).search(_fold(text)) is not None


def test_generator_is_deterministic(splits):
    assert gen.generate(gen.SEED) == splits
    assert gen.generate(gen.SEED + 1) != splits


def test_sizes_and_record_shape(splits):
    train, heldout = splits
    assert (len(train), len(heldout)) == (600, 200)
    for example in train + heldout:
        assert set(example) == {"id", "ticket", "expected", "tags"}
        assert list(example["expected"]) == KEYS
        assert example["ticket"].strip() == example["ticket"] and example["ticket"]


def test_ids_unique_and_disjoint(splits):
    train, heldout = splits
    train_ids = {e["id"] for e in train}
    heldout_ids = {e["id"] for e in heldout}
    assert len(train_ids) == 600 and len(heldout_ids) == 200
    assert not train_ids & heldout_ids
    assert all(i.startswith("tri-train-") for i in train_ids)
    assert all(i.startswith("tri-test-") for i in heldout_ids)


def test_no_text_overlap_between_or_within_splits(splits):
    train, heldout = splits
    train_keys = [gen.normalise(e["ticket"]) for e in train]
    heldout_keys = [gen.normalise(e["ticket"]) for e in heldout]
    assert len(set(train_keys)) == 600 and len(set(heldout_keys)) == 200
    assert not set(train_keys) & set(heldout_keys)


def test_no_near_duplicates_across_splits(splits):
    train, heldout = splits
    train_grams = [gen.trigrams(e["ticket"]) for e in train]
    worst = max(gen.jaccard(gen.trigrams(e["ticket"]), g) for e in heldout for g in train_grams)
    assert worst < gen.MAX_CROSS_SPLIT_JACCARD


def test_heldout_uses_unseen_templates_and_items(splits):
    train, heldout = splits
    unseen = [e for e in heldout if "heldout_template" in e["tags"]]
    assert len(unseen) >= 0.3 * len(heldout)
    held_items = [name for en, tr_nom, _, flags in gen.ITEMS if "H" in flags
                  for name in (en, tr_nom)]
    for example in train:
        assert not any(_has(example["ticket"], name) for name in held_items), example
    assert any(_has(e["ticket"], name) for e in heldout for name in held_items)


def test_expected_objects_validate_against_schema(everything):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for example in everything:
        errors = list(validator.iter_errors(example["expected"]))
        assert not errors, (example["id"], [e.message for e in errors])
    assert schema["additionalProperties"] is False
    assert schema["required"] == KEYS
    assert schema["properties"]["intent"]["enum"] == gen.INTENTS
    assert schema["properties"]["priority"]["enum"] == gen.PRIORITIES
    assert schema["properties"]["language"]["enum"] == gen.LANGUAGES
    bad = {"intent": "order_status", "priority": "low", "order_id": "ORD-12345", "language": "en"}
    assert list(validator.iter_errors(bad))


def test_committed_files_equal_generator_output_and_pin_holds(splits):
    train, heldout = splits
    heldout_bytes = gen.to_jsonl(heldout).encode("utf-8")
    assert gen.HELDOUT_PATH.read_bytes() == heldout_bytes, "run python scripts/make_triage_data.py"
    assert gen.TRAIN_PATH.read_bytes() == gen.to_jsonl(train).encode("utf-8")
    suite = yaml.safe_load(SUITE.read_text(encoding="utf-8"))
    assert (SUITE.parent / suite["data"]).resolve() == gen.HELDOUT_PATH.resolve()
    assert suite["sha256"] == hashlib.sha256(heldout_bytes).hexdigest()
    schemas = [c["schema"] for c in suite["criteria"] if c["metric"] == "json_schema"]
    assert [(SUITE.parent / path).resolve() for path in schemas] == [SCHEMA.resolve()]
    for criterion in suite["criteria"]:
        assert 0 < criterion["min"] <= 1, criterion
        if criterion["metric"] == "exact_match":
            assert set(criterion["json_keys"]) <= set(KEYS)
    fields = {example_field for example_field in re.findall(r"\{(\w+)\}", suite["input"])}
    assert fields <= set(heldout[0])


@pytest.mark.parametrize("split", [0, 1], ids=["train", "heldout"])
def test_labels_are_represented_and_balanced(splits, split):
    examples = splits[split]
    n = len(examples)
    for key, values in (("intent", gen.INTENTS), ("priority", gen.PRIORITIES),
                        ("language", gen.LANGUAGES)):
        counts = collections.Counter(e["expected"][key] for e in examples)
        assert set(counts) == set(values), key
        assert min(counts.values()) >= 0.5 * n / len(values), (key, counts)
    tr_share = sum(e["expected"]["language"] == "tr" for e in examples) / n
    assert abs(tr_share - gen.TR_SHARE) < 0.02
    nulls = sum(e["expected"]["order_id"] is None for e in examples) / n
    assert 0.2 < nulls < 0.5
    tags = collections.Counter(t for e in examples for t in e["tags"])
    for tag in ("typo", "no_diacritics", "multi_intent", "distractor_number", "cue_urgency",
                "cue_repeat", "cue_double_charge", "cue_calm", "cue_legal", "cue_safety"):
        assert tags[tag] >= 3, (tag, tags)


def test_distractor_numbers_never_contain_the_order_digits(everything):
    for example in everything:
        ticket, order_id = example["ticket"], example["expected"]["order_id"]
        if order_id is None:
            assert not re.search(r"(?i)\bord[\s-]?\d", ticket), example
            continue
        digits = order_id[len("ORD-"):]
        runs = re.findall(r"\d+", ticket)
        assert runs.count(digits) == 1, example
        rest = ticket.replace(digits, " ", 1)
        for number in re.findall(r"\+?\d[\d .()/,-]*\d|\d", rest):
            assert digits not in re.sub(r"\D", "", number), (example["id"], number)


def test_priority_follows_the_rules_and_cues_are_visible(everything):
    keywords = {cue: [k for lang in gen.LANGUAGES for k in spec["keywords"][lang]]
                for cue, spec in gen.CUES.items()}
    for example in everything:
        cues = {t[len("cue_"):] for t in example["tags"] if t.startswith("cue_")}
        assert cues <= set(gen.CUES), example
        assert example["expected"]["priority"] == gen.apply_priority_rules(
            example["expected"]["intent"], cues)
        text = example["ticket"]
        for cue in cues:
            assert any(_has(text, k) for k in keywords[cue]), (example["id"], cue)
        # Unambiguous cue words appear only when the cue is meant ("not urgent" is calm).
        calm_free = text
        for k in keywords["calm"]:
            calm_free = _keyword(k).sub(" ", _fold(calm_free))
        for cue in ("urgency", "legal", "safety", "calm"):
            source = calm_free if cue == "urgency" else text
            present = any(_has(source, k) for k in keywords[cue])
            assert present == (cue in cues), (example["id"], cue, text)


def test_every_cue_sentence_carries_a_keyword():
    for cue, spec in gen.CUES.items():
        for lang in gen.LANGUAGES:
            for sentence in spec["sentences"][lang]:
                assert any(_has(sentence, k) for k in spec["keywords"][lang]), (cue, sentence)
    for lang in gen.LANGUAGES:
        for template in gen.TEMPLATES[lang]["payment_issue"]:
            if template.startswith("[D"):
                keys = gen.CUES["double_charge"]["keywords"][lang]
                assert any(_has(template, k) for k in keys), template


def test_prompt_states_the_generator_rules():
    prompt = yaml.safe_load(PROMPT.read_text(encoding="utf-8"))
    assert prompt["name"] == "prompt" and prompt["kind"] == "prompt"
    triage = prompt["prompts"]["triage"]
    assert set(triage) == {"system", "user"}
    placeholders = set(re.findall(r"\{([A-Za-z_]\w*)\}", triage["system"] + triage["user"]))
    assert placeholders == {"input"}
    system = triage["system"]
    for intent in gen.INTENTS:
        assert f"- {intent}:" in system, intent
    for level in ("low", "normal", "high"):
        intents = [i for i in gen.INTENTS if gen.BASE_PRIORITY[i] == level]
        line = re.search(rf"\b{level} = ([a-z_, ]+)", system)
        assert line and {s.strip() for s in line.group(1).split(",")} == set(intents), level
    folded = _fold(system)
    for cue, spec in gen.CUES.items():
        for lang in gen.LANGUAGES:
            for keyword in spec["keywords"][lang]:
                assert _fold(keyword) in folded, (cue, keyword)
    for example in ("ORD-123456", "#123456", "null", '"tr"', '"en"'):
        assert example in system
