"""Inputs longer than the model's window: named before any model loads, or cut on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalgate.cli import main
from evalgate.util.files import sha256_file
from tests.helpers import example_rows, write_project


@pytest.fixture()
def long_project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    rows = example_rows(4)
    rows[2]["ticket"] = "Where is my order? " * 400  # far past the tiny model's 512 tokens
    write_project(tmp_path, str(tiny_model_dir), rows)
    data = tmp_path / "suites" / "data" / "heldout.jsonl"
    data.write_text("\n" + data.read_text())  # a blank first line: ex-2 is on line 4
    suite = tmp_path / "suites" / "tiny.yaml"
    config = yaml.safe_load(suite.read_text())
    config["sha256"] = sha256_file(data)
    suite.write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path


def test_a_long_input_is_named_before_any_model_loads(long_project: Path, capsys, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the length check")

    monkeypatch.setattr("evalgate.eval.run.load_model", no_model)
    assert main(["eval"]) == 2
    err = capsys.readouterr().err
    assert "heldout.jsonl:4" in err and "'ex-2' (line 4, " in err
    assert "1 example(s) of suite 'tiny' do not fit" in err
    assert "model's window of 512" in err and "max_new_tokens=8" in err
    assert "on_long_input: truncate" in err and "Traceback" not in err


def test_truncate_cuts_the_input_records_it_and_warns(long_project: Path, capsys):
    suite = long_project / "suites" / "tiny.yaml"
    config = yaml.safe_load(suite.read_text())
    config["on_long_input"] = "truncate"
    suite.write_text(yaml.safe_dump(config, sort_keys=False))
    assert main(["eval"]) == 1  # the run completes; the random tiny model fails the criteria
    out = capsys.readouterr().out
    assert "1 of 4 inputs were cut to fit the model's window" in out
    [record_path] = (long_project / "reports" / "runs" / "tiny").glob("prompt-*.json")
    record = json.loads(record_path.read_text())
    cut = {e["id"]: e["truncated_from"] for e in record["examples"]}
    assert cut["ex-0"] is None and cut["ex-2"] > 512
    [example] = [e for e in record["examples"] if e["id"] == "ex-2"]
    assert example["prompt_tokens"] + record["generation"]["max_new_tokens"] <= 512
    assert record["stats"]["truncated"] == 1
