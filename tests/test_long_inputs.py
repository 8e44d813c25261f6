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


def _on_endpoint(project: Path, base_url: str, on_long_input: str, **backend) -> None:
    suite = project / "suites" / "tiny.yaml"
    config = yaml.safe_load(suite.read_text())
    config["on_long_input"] = on_long_input
    suite.write_text(yaml.safe_dump(config, sort_keys=False))
    baseline = project / "baselines" / "prompt.yaml"
    system = yaml.safe_load(baseline.read_text())
    system["backend"] = {"kind": "openai", "base_url": base_url, "model": "tiny",
                         "max_retries": 0, **backend}
    baseline.write_text(yaml.safe_dump(system, sort_keys=False))


def _answer(n: int, body: dict):
    from tests.endpoints import completion

    return 200, {}, completion('{"intent": "status"}'), 0.0


def test_an_endpoint_without_its_window_says_truncate_is_not_applied(long_project: Path,
                                                                      capsys):
    from tests.endpoints import FaultServer

    with FaultServer(_answer) as server:
        _on_endpoint(long_project, server.base_url, "truncate")
        assert main(["eval"]) in (0, 1)
    err = capsys.readouterr().err
    assert "sets `on_long_input: truncate`" in err and "inputs are sent whole" in err
    assert "backend.context_window:" in err and "baselines/prompt.yaml" in err
    longest = max(len(r["messages"][-1]["content"]) for r in server.requests)
    assert longest > len("Where is my order? " * 400)  # sent as it is, as the warning says


def test_an_endpoint_with_its_window_cuts_long_inputs_with_the_local_tokenizer(
        long_project: Path, capsys):
    from tests.endpoints import FaultServer

    with FaultServer(_answer) as server:
        _on_endpoint(long_project, server.base_url, "truncate", context_window=512)
        assert main(["eval"]) in (0, 1)
    captured = capsys.readouterr()
    assert "inputs are sent whole" not in captured.err
    assert "1 of 4 inputs were cut to fit the model's window" in captured.out
    longest = max(len(r["messages"][-1]["content"]) for r in server.requests)
    assert longest < len("Where is my order? " * 400) / 2
    [record_path] = (long_project / "reports" / "runs" / "tiny").glob("prompt-*.json")
    record = json.loads(record_path.read_text())
    cut = {e["id"]: e["truncated_from"] for e in record["examples"]}
    assert cut["ex-0"] is None and cut["ex-2"] > 512


def test_an_endpoint_with_its_window_refuses_long_inputs_before_any_request(
        long_project: Path, capsys):
    from tests.endpoints import FaultServer

    with FaultServer(_answer) as server:
        _on_endpoint(long_project, server.base_url, "error", context_window=512)
        assert main(["eval"]) == 2
    err = capsys.readouterr().err
    assert "'ex-2' (line 4, " in err and "model's window of 512" in err
    assert server.requests == []
