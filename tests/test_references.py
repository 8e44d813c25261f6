"""References the way users store them: objects, JSON strings, plain text; and the check that
runs on every example before any model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalgate.cli.main import main
from evalgate.errors import ConfigError
from evalgate.metrics.contains import Contains
from evalgate.metrics.exact_match import ExactMatch
from evalgate.suite.load import load_suite
from evalgate.util.files import sha256_file
from tests.helpers import write_project

JSON_MODE = ExactMatch(reference_field="expected", options=("strip",),
                       json_keys=("intent", "order_id"))


def test_a_json_string_reference_scores_like_the_object():
    output = 'Sure: {"intent": "refund", "order_id": "ORD-1"}'
    as_object = {"expected": {"intent": "refund", "order_id": "ORD-1"}}
    as_string = {"expected": json.dumps(as_object["expected"])}
    assert JSON_MODE.score(as_object, output).value == 1.0
    assert JSON_MODE.score(as_string, output).value == 1.0
    assert JSON_MODE.reference_problem(as_string) is None
    wrong = {"expected": json.dumps({"intent": "status", "order_id": "ORD-1"})}
    assert JSON_MODE.score(wrong, output).details["keys"] == {"intent": 0, "order_id": 1}


@pytest.mark.parametrize("reference, says", [
    ("not json at all", "must be a JSON object"),
    ('["a", "b"]', "must be a JSON object"),
    (None, "but it is null"),
    ({"intent": "refund"}, "no key 'order_id'"),
    (json.dumps({"intent": "refund"}), "no key 'order_id'"),
])
def test_json_mode_names_what_is_wrong_with_a_reference(reference, says):
    problem = JSON_MODE.reference_problem({"expected": reference})
    assert problem is not None and says in problem.message


def test_plain_mode_refuses_an_object_and_says_to_use_json_keys():
    plain = ExactMatch(reference_field="answer", options=("strip",))
    problem = plain.reference_problem({"answer": {"a": 1}})
    assert problem is not None and "json_keys" in problem.fix
    assert plain.reference_problem({"answer": ["Paris", "paris"]}) is None
    assert plain.reference_problem({"answer": 42}) is None
    assert "boolean" in plain.reference_problem({"answer": True}).message


def test_contains_needs_a_non_empty_answer():
    contains = Contains(reference_field="answer", options=("case",))
    assert contains.reference_problem({"answer": ["14 days"]}) is None
    assert contains.reference_problem({"answer": ""}) is not None
    assert contains.reference_problem({"answer": []}) is not None


def test_suite_with_json_string_references_loads_and_scores(tmp_path: Path):
    rows = [{"id": f"ex-{i}", "ticket": f"Where is ORD-{i}?",
             "expected": json.dumps({"intent": "status", "order_id": f"ORD-{i}"})}
            for i in range(3)]
    write_project(tmp_path, "unused-model", rows)
    suite = load_suite(tmp_path / "suites" / "tiny.yaml")
    output = json.dumps({"intent": "status", "order_id": "ORD-1"})
    assert suite.metrics["fields"].score(suite.dataset.examples[1], output).value == 1.0


def test_a_bad_reference_is_exit_2_naming_file_line_and_fix(tmp_path: Path, capsys,
                                                            monkeypatch: pytest.MonkeyPatch):
    rows = [{"id": "a", "ticket": "t", "expected": {"intent": "status", "order_id": "O-1"}},
            {"id": "b", "ticket": "t", "expected": "{'intent': 'status'}"}]  # Python, not JSON
    write_project(tmp_path, "no-such-model-is-ever-loaded", rows)
    data = tmp_path / "suites" / "data" / "heldout.jsonl"
    pin = sha256_file(data)
    data.write_text(data.read_text().replace("\n", "\n\n", 1))  # a blank line: line 3, not 2
    suite_yaml = tmp_path / "suites" / "tiny.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace(pin, sha256_file(data)))
    with pytest.raises(ConfigError) as caught:
        load_suite(tmp_path / "suites" / "tiny.yaml")
    error = caught.value
    assert error.path == str(data) and error.line == 3
    assert "example 'b'" in str(error) and "criterion 'fields'" in str(error)
    # Through the CLI: exit 2 before any model is loaded (the model name does not exist).
    monkeypatch.chdir(tmp_path)
    assert main(["eval"]) == 2
    err = capsys.readouterr().err
    assert "heldout.jsonl:3" in err and "fix:" in err and "Traceback" not in err
