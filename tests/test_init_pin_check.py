"""`evalgate init`, `pin` and `check`: the first minutes of a new project, and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from evalgate.cli.main import main
from evalgate.errors import ConfigError
from evalgate.project.scaffold import (
    infer_fields,
    infer_schema,
    max_new_tokens_for,
    smallest_n_to_clear,
    split_rows,
)
from evalgate.util.files import sha256_file


def _invoices(path: Path, count: int = 40, as_string: bool = True) -> Path:
    rows = []
    for i in range(count):
        reference = {"invoice_no": f"FT-{1000 + i}", "total": round(100 + i * 2.5, 2),
                     "currency": ("TRY", "EUR")[i % 2], "paid": i % 3 == 0}
        rows.append({"text": f"Fatura FT-{1000 + i}: toplam {100 + i * 2.5} "
                             f"{('TL', 'EUR')[i % 2]}, number {i}",
                     "reference": json.dumps(reference) if as_string else reference})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def _init(tmp_path: Path, *extra: str) -> int:
    return main(["init", str(tmp_path / "invoices.jsonl"), "--dir", str(tmp_path / "p"),
                 "--no-tokenizer", "--yes", "--model", "unused-model", *extra])


def test_init_writes_a_project_that_checks_clean(tmp_path: Path, capsys,
                                                 monkeypatch: pytest.MonkeyPatch):
    _invoices(tmp_path / "invoices.jsonl")
    assert _init(tmp_path, "--method", "sft") == 0
    out = capsys.readouterr().out
    assert "JSON fields invoice_no, total, currency, paid + schema" in out
    assert "evalgate check" in out and "evalgate baseline" in out
    # 10 held-out examples cannot prove either suggested bound, and init says so.
    assert "cannot prove fields_exact ≥ 0.8 (a 95% interval needs at least 16)" in out
    assert "cannot prove schema_valid ≥ 0.9 (a 95% interval needs at least 35)" in out
    root = tmp_path / "p"
    suite = yaml.safe_load((root / "suites" / "invoices.yaml").read_text())
    assert suite["criteria"][0]["json_keys"] == ["invoice_no", "total", "currency", "paid"]
    assert suite["criteria"][0]["beat_baseline"] == {"margin": 0.0}
    assert suite["sha256"] == sha256_file(root / "data" / "heldout.jsonl")
    heldout = (root / "data" / "heldout.jsonl").read_text().splitlines()
    train = (root / "data" / "train.jsonl").read_text().splitlines()
    assert (len(heldout), len(train)) == (10, 30)
    ids = [json.loads(line)["id"] for line in heldout + train]
    assert len(set(ids)) == 40  # ids written, unique across both sides
    schema = json.loads((root / "suites" / "schemas" / "invoices.schema.json").read_text())
    assert schema["properties"]["currency"]["enum"] == ["EUR", "TRY"]
    assert schema["properties"]["total"]["type"] == "number"
    training = yaml.safe_load((root / "training" / "invoices.yaml").read_text())
    assert training["data"]["sha256"] == sha256_file(root / "data" / "train.jsonl")
    assert training["method"] == "sft" and "dpo" not in training
    # Everything it wrote validates, without a model (the tokenizer step is training's own).
    monkeypatch.chdir(root)
    from evalgate.project.check import check_project
    from evalgate.project.config import load_project
    findings = check_project(load_project())
    assert [f.what for f in findings if f.ok] == ["suite", "baseline", "baseline", "system",
                                                  "lock"]
    assert "none yet" in findings[-2].summary  # no evalgate.lock before the first training
    # Prompt lengths and training both need the tokenizer of model 'unused-model': one error.
    assert [f.what for f in findings if not f.ok] == ["lengths", "training"]
    assert "model folder not found: 'unused-model'" in str(findings[4].error)
    assert findings[-1].repeated


def test_init_refuses_to_overwrite_and_keeps_a_gitignore(tmp_path: Path, capsys):
    _invoices(tmp_path / "invoices.jsonl")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / ".gitignore").write_text("*.pyc")
    assert _init(tmp_path) == 0
    assert (tmp_path / "p" / ".gitignore").read_text() == \
        "*.pyc\n/adapters/\n/.evalgate/\n/reports/\n"
    before = (tmp_path / "p" / "evalgate.yaml").read_text()
    assert _init(tmp_path) == 2
    err = capsys.readouterr().err
    assert "already exist" in err and "--force" in err
    assert (tmp_path / "p" / "evalgate.yaml").read_text() == before


@pytest.mark.parametrize("content, says", [
    (b"", "the examples file is empty"),
    (b'{"text": "caf\xe9", "reference": "x"}\n', "invoices.jsonl:1: not UTF-8"),
    (b'{"text": "a", "reference": "x"}\n{"text": \n', "invoices.jsonl:2: malformed JSON"),
    (b'["a", "b"]\n', "each line must be a JSON object"),
    (b'{"a": "x", "b": "y", "c": "z"}\n' * 8, "pass --input FIELD and --reference FIELD"),
    (b'{"text": "x", "reference": "y"}\n' * 2, "too few to split"),
])
def test_init_bad_input_is_exit_2_with_a_fix(tmp_path: Path, capsys, content: bytes, says: str):
    (tmp_path / "invoices.jsonl").write_bytes(content)
    assert _init(tmp_path) == 2
    err = capsys.readouterr().err
    assert says in err and "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()


def test_field_inference():
    rows = [{"uid": "1", "question": "q", "answer": "a"}]
    assert infer_fields(rows, Path("x")).__dict__ == {"id": "uid", "input": "question",
                                                       "reference": "answer"}
    rows = [{"body": "long text here", "tag": "x"}]
    assert infer_fields(rows, Path("x"), reference_field="tag").input == "body"
    with pytest.raises(ConfigError, match="'nope' is not in every example"):
        infer_fields(rows, Path("x"), input_field="nope")


def test_schema_inference_accepts_every_reference():
    objects = [{"a": "x", "b": 1, "c": None}, {"a": "y", "b": 2.5, "c": "k"},
               {"a": "x", "b": 3, "d": [1]}, {"a": "y", "b": 4, "c": "k"}]
    schema = infer_schema(objects)
    validator = Draft202012Validator(schema)
    assert all(validator.is_valid(o) for o in objects)
    assert schema["required"] == ["a", "b"]
    assert schema["properties"]["b"]["type"] == "number"
    assert not validator.is_valid({"a": "x", "b": 1, "extra": 1})


def test_split_keeps_repeated_inputs_together():
    rows = [{"text": f"ticket {i % 10}"} for i in range(40)]
    held, train = split_rows(rows, "text", 0.25, seed=1)
    assert {r["text"] for r in held}.isdisjoint({r["text"] for r in train})
    assert len(held) + len(train) == 40


def test_max_new_tokens_and_sample_size():
    assert max_new_tokens_for([10, 29]) == 48  # 29 + 16, rounded up to 16
    assert max_new_tokens_for([200]) == 256    # 200 + 50
    assert smallest_n_to_clear(0.8) == 16      # Wilson: 16/16 → lower bound ≥ 0.8


def test_pin_updates_in_place_and_says_what_changed(tmp_path: Path, capsys,
                                                    monkeypatch: pytest.MonkeyPatch):
    _invoices(tmp_path / "invoices.jsonl")
    assert _init(tmp_path) == 0
    root = tmp_path / "p"
    monkeypatch.chdir(root)
    suite_yaml = root / "suites" / "invoices.yaml"
    data = root / "data" / "heldout.jsonl"
    old = sha256_file(data)
    text = suite_yaml.read_text().replace(f"sha256: {old}", f"sha256: {old}  # pinned by hand")
    suite_yaml.write_text(text)
    capsys.readouterr()
    assert main(["pin"]) == 0
    assert "every pin is up to date" in capsys.readouterr().out
    with data.open("a") as handle:
        handle.write(json.dumps({"id": "new-1", "text": "Fatura FT-1", "reference": json.dumps(
            {"invoice_no": "FT-1", "total": 1.0, "currency": "TRY", "paid": True})}) + "\n")
    assert main(["pin", "--dry-run"]) == 1
    assert suite_yaml.read_text() == text
    assert main(["pin"]) == 0
    out = capsys.readouterr().out
    new = sha256_file(data)
    assert f"{old[:12]} → {new[:12]}" in out and "1 pin(s) updated" in out
    assert suite_yaml.read_text() == text.replace(old, new)  # comment and layout kept
    assert main(["check", "--project", str(root)]) in (0, 2)
    assert "heldout.jsonl" not in capsys.readouterr().err


def test_a_wrong_pin_names_both_hashes(tmp_path: Path, capsys, monkeypatch):
    _invoices(tmp_path / "invoices.jsonl")
    assert _init(tmp_path) == 0
    root = tmp_path / "p"
    suite_yaml = root / "suites" / "invoices.yaml"
    actual = sha256_file(root / "data" / "heldout.jsonl")
    suite_yaml.write_text(suite_yaml.read_text().replace(f"sha256: {actual}", "sha256: 0000"))
    monkeypatch.chdir(root)
    capsys.readouterr()
    assert main(["eval"]) == 2
    err = capsys.readouterr().err
    assert "the pin `0` is not a sha256" in err and actual in err and "evalgate pin" in err


def test_check_reports_every_problem_in_one_pass(tmp_path: Path, capsys, monkeypatch):
    _invoices(tmp_path / "invoices.jsonl")
    assert _init(tmp_path) == 0
    root = tmp_path / "p"
    (root / "baselines" / "prompt.yaml").write_text(
        (root / "baselines" / "prompt.yaml").read_text() + "temprature: 0\n")
    few = root / "baselines" / "few_shot.yaml"
    few.write_text(few.read_text().replace("k: 4", "k: 0"))
    schema = root / "suites" / "schemas" / "invoices.schema.json"
    schema.write_text('{"type": "objekt"}')
    monkeypatch.chdir(root)
    capsys.readouterr()
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert "temprature: unknown key" in err
    assert "prompts.invoices.few_shot.k" in err
    assert "not a valid JSON Schema" in err
    # The suite and both baselines, each once; training fails on the suite's very problem,
    # which is named, not repeated.
    assert err.count("error:") == 3
    assert "same problem as suites/invoices.yaml" in captured.out


def test_pin_passes_over_a_leakage_suite(tmp_path: Path, capsys, monkeypatch):
    """A leakage suite has no data of its own (its records come from the adapter's manifest):
    `evalgate pin` has nothing to pin there and must not ask for a data file."""
    _invoices(tmp_path / "invoices.jsonl")
    assert _init(tmp_path) == 0
    root = tmp_path / "p"
    monkeypatch.chdir(root)
    (root / "suites" / "memorisation.yaml").write_text(
        "kind: leakage\nname: memorisation\ncriteria:\n"
        "  - {name: auc, metric: membership_auc, max: 0.6}\n")
    config = root / "evalgate.yaml"
    project = yaml.safe_load(config.read_text())
    project["suites"].append("suites/memorisation.yaml")
    config.write_text(yaml.safe_dump(project))
    capsys.readouterr()
    assert main(["pin", "--dry-run"]) == 0
    assert "memorisation" not in capsys.readouterr().out
