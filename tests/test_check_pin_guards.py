"""`evalgate check` and `evalgate pin` refuse what the real commands would refuse: a prompt too
long for the model's window, a data file no command could read; each error said once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalgate.cli import main
from evalgate.util.files import sha256_file
from tests.helpers import example_rows, write_project

LONG = "Where is my order? " * 55_000  # ~1 MB: far past the tiny model's 512 positions


@pytest.fixture()
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_project(tmp_path, str(tiny_model_dir), example_rows(4))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path


def _set_rows(project: Path, rows: list[dict], **suite_keys) -> None:
    """Rewrite the held-out data and re-pin it (as a user would after `evalgate pin`)."""
    from tests.helpers import write_jsonl

    data = write_jsonl(project / "suites" / "data" / "heldout.jsonl", rows)
    suite = project / "suites" / "tiny.yaml"
    config = yaml.safe_load(suite.read_text())
    config.update(sha256=sha256_file(data), **suite_keys)
    suite.write_text(yaml.safe_dump(config, sort_keys=False))


def test_check_refuses_the_long_row_that_eval_refuses(project: Path, capsys):
    rows = example_rows(4)
    rows[3]["ticket"] = LONG
    _set_rows(project, rows)
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    assert "lengths" in captured.out
    check_err = captured.err
    assert "heldout.jsonl:4" in check_err and "'ex-3' (line 4, " in check_err
    assert "do not fit" in check_err and "on_long_input: truncate" in check_err
    assert main(["eval"]) == 2  # the very error the real command gives
    eval_err = capsys.readouterr().err
    assert check_err.split("do not fit")[0].split("error: ")[-1] in eval_err


def test_check_says_how_many_inputs_truncate_will_cut(project: Path, capsys):
    rows = example_rows(4)
    rows[1]["ticket"] = LONG
    _set_rows(project, rows, on_long_input="truncate")
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "1 of 4 inputs will be cut to fit the model's window of 512 tokens" in out


def test_check_says_every_prompt_fits(project: Path, capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "every prompt of 1 baseline(s) fits the model's window of 512 tokens" in out
    assert "no model weights were loaded" in out


@pytest.mark.parametrize(("content", "says"), [
    (b'{"id": "ex-9", "ticket": "x", "expected": {}}\n{"id": broken\n', ":2: malformed JSON"),
    (b'{"id": "ex-9", "ticket": "Sipari\xfe", "expected": {}}\n', ":1: not UTF-8 text"),
    (b"\n\n", "the data file has no examples"),
    (b"", "the data file has no examples (no bytes)"),
])
def test_pin_refuses_data_no_command_could_read(project: Path, capsys, content: bytes,
                                                says: str):
    suite = project / "suites" / "tiny.yaml"
    before = suite.read_bytes()
    (project / "suites" / "data" / "heldout.jsonl").write_bytes(content)
    capsys.readouterr()
    assert main(["pin"]) == 2
    err = capsys.readouterr().err
    assert "heldout.jsonl" in err and says in err and "Traceback" not in err
    assert "evalgate pin` again" in err  # the fix says what to do once the file is repaired
    assert suite.read_bytes() == before  # nothing pinned
    assert main(["pin", "--dry-run"]) == 2


def test_check_says_each_error_once(tmp_path: Path, tiny_model_dir: Path, capsys,
                                    monkeypatch: pytest.MonkeyPatch):
    """A broken data file fails the suite and the training config that names it: the error is
    printed once, and the second file points at the first."""
    from tests.train_helpers import write_train_project

    project = tmp_path
    write_train_project(project, tiny_model_dir)
    monkeypatch.chdir(project)
    monkeypatch.setenv("EVALGATE_HOME", str(project / "home"))
    data = project / "suites" / "data" / "heldout.jsonl"
    data.write_bytes(data.read_bytes() + b'{"id": broken\n')
    capsys.readouterr()
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == len(set(errors)), captured.err
    assert captured.err.count("changed: its sha256 is") == 1
    assert "same problem as suites/tiny.yaml (suite)" in captured.out


def test_check_reads_candidate_systems_before_their_adapter_exists(project: Path, capsys):
    systems = project / "systems"
    systems.mkdir()
    (systems / "candidate.yaml").write_text(yaml.safe_dump({
        "name": "candidate", "kind": "adapter", "adapter": "../adapters/tiny",
        "prompts": {"tiny": {"user": "Ticket: {input}"}}}))
    (systems / "typo.yaml").write_text(yaml.safe_dump({
        "name": "typo", "kind": "adapter", "adaptor": "../adapters/tiny",
        "prompts": {"tiny": {"user": "Ticket: {input}"}}}))
    capsys.readouterr()
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    assert "adapters/tiny (not trained yet)" in captured.out
    assert "systems/typo.yaml" in captured.err and "adaptor: unknown key" in captured.err
