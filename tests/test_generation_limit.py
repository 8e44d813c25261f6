"""Outputs cut at `max_new_tokens`: the run record counts them (from each output's finish reason,
kept in the cache) and `evalgate eval` / `evalgate baseline` warn with their share, cached runs
included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.eval.records import load_record
from tests.helpers import example_rows, write_project


def _flat(text: str) -> str:
    """Rich wraps long lines to the terminal width; compare with whitespace collapsed."""
    return " ".join(text.split())


def _set_generation(root: Path, **generation) -> None:
    suite = root / "suites" / "tiny.yaml"
    config = yaml.safe_load(suite.read_text())
    config["generation"] = generation
    suite.write_text(yaml.safe_dump(config, sort_keys=False))


def _record(root: Path, max_new_tokens: int, stop: list[str]):
    for path in (root / "reports" / "runs" / "tiny").glob("*.json"):
        generation = json.loads(path.read_text())["generation"]
        if generation["max_new_tokens"] == max_new_tokens and generation["stop"] == stop:
            return load_record(path)
    raise AssertionError(f"no run record with max_new_tokens={max_new_tokens}, stop={stop}")


@pytest.fixture()
def chdir_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path


def test_every_output_at_the_limit_warns_with_the_share_cached_or_not(
        chdir_home: Path, tiny_model_dir: Path, capsys):
    # The fixture's model answers with a constant token and never emits EOS: all 6 outputs run
    # into max_new_tokens: 8.
    root = write_project(chdir_home, str(tiny_model_dir))
    warning = ("6 of 6 outputs (100.0%) stopped at max_new_tokens=8 in suite tiny — answers "
               "may be cut off; raise `generation.max_new_tokens` in suites/tiny.yaml")
    main(["eval"])
    out = _flat(capsys.readouterr().out)
    assert f"warning {warning}" in out and "0 hits / 6 misses" in out
    record = _record(root, 8, [])
    assert [e.finish_reason for e in record.examples] == ["length"] * 6
    assert record.generation["stopped_at_limit"] == {"count": 6, "share": 1.0}
    assert record.warnings == (warning,)

    main(["eval"])  # every output from the cache, no model loaded: still warns
    out = _flat(capsys.readouterr().out)
    assert "all cached" in out and f"warning {warning}" in out
    assert _record(root, 8, []).generation["stopped_at_limit"] == {"count": 6, "share": 1.0}

    assert main(["baseline"]) == 0
    assert f"warning prompt: {warning}" in _flat(capsys.readouterr().out)

    # A stop string the constant output contains: every output ends there, nothing to warn.
    _set_generation(root, max_new_tokens=8, stop=["\n"])
    main(["eval"])
    out = _flat(capsys.readouterr().out)
    assert "stopped at max_new_tokens" not in out
    record = _record(root, 8, ["\n"])
    assert {e.finish_reason for e in record.examples} == {"stop"}
    assert record.generation["stopped_at_limit"] == {"count": 0, "share": 0.0}
    assert record.warnings == ()


@pytest.fixture(scope="module")
def varied_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with weights re-drawn at unit scale: its outputs differ between prompts
    (as in tests/test_engine.py), so some hit a stop string and some run to the limit."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("varied-model")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, parameter.shape[-1] ** -0.5, generator=generator)
    model.save_pretrained(folder)
    return folder


def _splitting_stop(outputs: list[str]) -> str:
    """A short ASCII string some outputs contain and others do not."""
    for output in outputs:
        for start in range(len(output) - 2):
            piece = output[start:start + 3]
            if piece.isascii() and piece.strip() == piece and piece.isprintable():
                hits = sum(piece in other for other in outputs)
                if 0 < hits < len(outputs):
                    return piece
    raise AssertionError(f"no string splits these outputs: {outputs!r}")


def test_share_counts_only_the_outputs_that_hit_the_limit(
        chdir_home: Path, varied_model_dir: Path, capsys):
    root = write_project(chdir_home, str(varied_model_dir), example_rows(8))
    _set_generation(root, max_new_tokens=24)
    main(["eval"])
    free = _record(root, 24, [])
    assert {e.finish_reason for e in free.examples} == {"length"}
    # Greedy decoding: with a stop string, an output ends at it if its free run contains it
    # and runs to the limit otherwise.
    stop = _splitting_stop([e.output for e in free.examples])
    expected = sum(stop not in e.output for e in free.examples)
    assert 0 < expected < 8

    _set_generation(root, max_new_tokens=24, stop=[stop])
    capsys.readouterr()
    main(["eval"])
    out = _flat(capsys.readouterr().out)
    record = _record(root, 24, [stop])
    assert [e.finish_reason == "length" for e in record.examples] == [
        stop not in e.output for e in free.examples]
    assert record.generation["stopped_at_limit"] == {"count": expected,
                                                     "share": expected / 8}
    warning = (f"{expected} of 8 outputs ({expected / 8:.1%}) stopped at max_new_tokens=24 in "
               "suite tiny — answers may be cut off; raise `generation.max_new_tokens` in "
               "suites/tiny.yaml")
    assert record.warnings == (warning,) and f"warning {warning}" in out


def test_gate_shows_the_candidates_limit_warning(chdir_home: Path, tiny_model_dir: Path,
                                                 capsys):
    from evalgate.gate import load_verdict
    from tests.gate_project import write_gate_project

    run_dir = write_gate_project(chdir_home, tiny_model_dir)
    warning = ("6 of 6 outputs (100.0%) stopped at max_new_tokens=8 in suite tiny — answers "
               "may be cut off; raise `generation.max_new_tokens` in suites/tiny.yaml")
    main(["gate", str(run_dir)])
    assert f"warning {warning}" in _flat(capsys.readouterr().out)
    report_dir = chdir_home / "reports" / "gate" / "run-1"
    assert load_verdict(report_dir / "report.json").warnings == (warning,)
    assert warning in (report_dir / "report.md").read_text()
