"""Bad input: every mistake is a ConfigError naming the file, the key or line, and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalgate.errors import ConfigError
from evalgate.project.config import load_project
from evalgate.suite.load import load_suite
from evalgate.systems.prompting import load_system
from evalgate.util.jsonl import load_jsonl
from tests.helpers import example_rows, write_jsonl, write_project


def _suite_yaml(root: Path) -> Path:
    return root / "suites" / "tiny.yaml"


def _edit_suite(root: Path, **changes) -> Path:
    path = _suite_yaml(root)
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_valid_project_loads(tmp_path: Path):
    write_project(tmp_path, "unused-model")
    project = load_project(start=tmp_path / "suites")
    assert project.root == tmp_path.resolve()
    suite = load_suite(project.suite_paths[0])
    assert len(suite.dataset) == 6 and set(suite.metrics) == {"fields", "schema_valid"}
    assert load_system(project.baseline_paths[0]).name == "prompt"


def test_malformed_jsonl_names_the_line(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a"}\n{"id": "b",\n')
    with pytest.raises(ConfigError) as info:
        load_jsonl(path)
    assert f"{path}:2" in str(info.value) and "malformed JSON" in str(info.value)


@pytest.mark.parametrize("rows, message", [
    ([{"id": "a", "ticket": "x"}, {"id": "a", "ticket": "y"}], "duplicate example id 'a'"),
    ([{"id": "a"}], "missing field 'ticket'"),
    ([], "dataset is empty"),
])
def test_bad_datasets(tmp_path: Path, rows, message):
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(ConfigError, match=message) as info:
        load_jsonl(path, required=["ticket"])
    assert "fix:" in str(info.value)


def test_changed_data_without_new_pin_is_refused(tmp_path: Path):
    write_project(tmp_path, "m")
    data = tmp_path / "suites" / "data" / "heldout.jsonl"
    write_jsonl(data, example_rows(5))
    with pytest.raises(ConfigError) as info:
        load_suite(_suite_yaml(tmp_path))
    text = str(info.value)
    assert "changed" in text and "[sha256]" in text and "set `sha256:" in text


def test_missing_pin_tells_the_hash_to_add(tmp_path: Path):
    write_project(tmp_path, "m")
    path = _suite_yaml(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["sha256"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="add `sha256: [0-9a-f]{64}`"):
        load_suite(path)


def test_unknown_criterion_and_typo_key(tmp_path: Path):
    write_project(tmp_path, "m")
    _edit_suite(tmp_path, criteria=[{"name": "x", "metric": "bleu", "min": 0.1}])
    with pytest.raises(ConfigError, match="criteria.0") as info:
        load_suite(_suite_yaml(tmp_path))
    assert "bleu" in str(info.value)
    _edit_suite(tmp_path, criteria=[{"name": "x", "metric": "exact_match", "mni": 0.1,
                                     "min": 0.2}])
    with pytest.raises(ConfigError, match="mni: unknown key"):
        load_suite(_suite_yaml(tmp_path))


def test_criterion_without_bound_is_refused(tmp_path: Path):
    write_project(tmp_path, "m")
    _edit_suite(tmp_path, criteria=[{"name": "x", "metric": "exact_match",
                                     "reference": "expected"}])
    with pytest.raises(ConfigError, match="needs a bound"):
        load_suite(_suite_yaml(tmp_path))


def test_missing_schema_file(tmp_path: Path):
    write_project(tmp_path, "m")
    _edit_suite(tmp_path, criteria=[{"name": "s", "metric": "json_schema",
                                     "schema": "schemas/missing.json", "min": 0.9}])
    with pytest.raises(ConfigError, match="schema file not found") as info:
        load_suite(_suite_yaml(tmp_path))
    assert "criteria[s].schema" in str(info.value)


def test_input_template_field_missing_from_data(tmp_path: Path):
    write_project(tmp_path, "m")
    _edit_suite(tmp_path, input="{question}")
    with pytest.raises(ConfigError, match="missing field 'question'") as info:
        load_suite(_suite_yaml(tmp_path))
    assert ":1" in str(info.value)


def test_system_template_with_unknown_placeholder(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "p", "prompts": {"default": {"user": "{ticket}"}}}))
    with pytest.raises(ConfigError, match="prompts.default.user"):
        load_system(path)


def test_system_with_missing_adapter_folder(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "p", "adapter": "adapters/nope"}))
    with pytest.raises(ConfigError, match=r"\[adapter\]"):
        load_system(path)


def test_no_project_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="no evalgate.yaml"):
        load_project(start=tmp_path)


def test_project_unknown_key(tmp_path: Path):
    (tmp_path / "evalgate.yaml").write_text("name: x\nmodle: foo\n")
    with pytest.raises(ConfigError, match="modle: unknown key"):
        load_project(start=tmp_path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    (tmp_path / "evalgate.yaml").write_text("name: x\nsuites: [a\nbaselines: []\n")
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        load_project(start=tmp_path)
    assert "evalgate.yaml:" in str(info.value)


def test_suite_kind_defaults_to_task_and_an_unknown_kind_names_the_known_ones(tmp_path: Path):
    write_project(tmp_path, "unused-model")
    path = _suite_yaml(tmp_path)
    default = load_suite(path).config_sha256
    _edit_suite(tmp_path, kind="task")
    assert load_suite(path).config_sha256 == default  # the same suite, the same hashes
    _edit_suite(tmp_path, kind="capabilty")
    with pytest.raises(ConfigError) as caught:
        load_suite(path)
    error = caught.value
    assert error.key == "kind" and "unknown suite kind 'capabilty'" in str(error)
    assert "task (held-out examples scored by criteria)" in error.fix
