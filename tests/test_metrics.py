"""Exact match (plain and JSON-aware), JSON extraction and schema compliance."""

from __future__ import annotations

from jsonschema import Draft202012Validator

from evalgate.metrics.exact_match import ExactMatch, normalize
from evalgate.metrics.json_extract import extract_json
from evalgate.metrics.json_schema import JsonSchemaCompliance

SCHEMA = {
    "type": "object",
    "properties": {"intent": {"enum": ["refund", "status"]}, "order_id": {"type": ["string", "null"]}},
    "required": ["intent", "order_id"],
    "additionalProperties": False,
}


def test_normalize_options_apply_only_when_chosen():
    assert normalize("  Hello,   World! ", ["strip"]) == "Hello,   World!"
    assert normalize("  Hello,   World! ", ["whitespace"]) == "Hello, World!"
    assert normalize("Hello, World!", ["case", "punctuation"]) == "hello world"
    assert normalize("Sipariş İADE", ["case", "accents"]) == "siparis iade"


def test_plain_exact_match_with_list_of_references():
    metric = ExactMatch(reference_field="answer", options=("strip", "case"))
    assert metric.score({"answer": "Paris"}, "  paris ").value == 1.0
    assert metric.score({"answer": ["30 days", "thirty days"]}, "Thirty days").value == 1.0
    assert metric.score({"answer": "Paris"}, "Lyon").value == 0.0


def test_json_exact_match_scores_all_keys_and_reports_each():
    metric = ExactMatch(reference_field="expected", options=("strip",),
                        json_keys=("intent", "order_id"))
    example = {"expected": {"intent": "refund", "order_id": None}}
    full = metric.score(example, 'Sure: {"intent": "refund", "order_id": null} done')
    half = metric.score(example, '{"intent": "refund", "order_id": "ORD-1"}')
    broken = metric.score(example, "I cannot help")
    assert (full.value, half.value, broken.value) == (1.0, 0.0, 0.0)
    assert half.details["keys"] == {"intent": 1, "order_id": 0}
    assert broken.details["parsed"] is False
    summary = metric.summarize([full, half, broken])
    assert summary["parse_rate"] == 2 / 3
    assert summary["intent_accuracy"] == 2 / 3
    assert summary["order_id_accuracy"] == 1 / 3


def test_json_exact_match_missing_key_is_a_miss_even_if_reference_is_null():
    metric = ExactMatch(reference_field="expected", options=(), json_keys=("order_id",))
    assert metric.score({"expected": {"order_id": None}}, "{}").value == 0.0


def test_extract_first_object_skips_non_objects_and_prose():
    assert extract_json('```json\n{"a": 1}\n```', "first_object") == (True, {"a": 1})
    assert extract_json('{bad {"a": {"b": 2}}', "first_object") == (True, {"a": {"b": 2}})
    assert extract_json("[1, 2]", "first_object") == (False, None)
    assert extract_json(' {"a": 1} ', "whole") == (True, {"a": 1})
    assert extract_json('x {"a": 1}', "whole") == (False, None)


def test_schema_compliance_separates_parse_and_validation():
    metric = JsonSchemaCompliance(validator=Draft202012Validator(SCHEMA))
    good = metric.score({}, '{"intent": "refund", "order_id": null}')
    invalid = metric.score({}, '{"intent": "cancel", "order_id": null}')
    unparsable = metric.score({}, "no json here")
    assert (good.value, invalid.value, unparsable.value) == (1.0, 0.0, 0.0)
    assert invalid.details["parsed"] and "intent" in invalid.details["error"]
    summary = metric.summarize([good, invalid, unparsable])
    assert summary == {"parse_rate": 2 / 3, "valid_rate": 1 / 3}


def test_contains_matches_whole_words_only():
    from evalgate.metrics.contains import Contains

    metric = Contains(reference_field="answers", options=("case", "punctuation", "whitespace"))
    example = {"answers": ["4 hours", "4 saat"]}
    assert metric.score(example, "Urgent tickets get a reply within 4 hours.").value == 1.0
    assert metric.score(example, "Yanıt süresi: 4 SAAT.").value == 1.0
    assert metric.score(example, "We answer within 24 hours").value == 0.0
    assert metric.score({"answers": "destek@kuzey.com"}, "Write to destek@kuzey.com!").value == 1.0
