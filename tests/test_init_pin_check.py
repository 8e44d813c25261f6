"""`evalgate init`, `pin` and `check`: the first minutes of a new project, and its bad input."""

from __future__ import annotations

import csv
import io
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
    (b'["a"]\n["b"]\n', "invoices.jsonl:1: each line must be a JSON object"),
    (b'["a", "b"]\n', 'one JSON array, and its item 1 is the string "a", not an object'),
    (b'These are my examples\nOne per line\n',
     "invoices.jsonl:1: this is not JSON lines: line 1 is plain text (`These are my examples`)"),
    (b'{\n  "data": [{"text": "a", "reference": "b"}]\n}\n',
     "one JSON object spread over several lines (pretty-printed JSON)"),
    (b'{"a": "x", "b": "y", "c": "z"}\n' * 8, "pass --input FIELD and --reference FIELD"),
    (b'{"text": "x", "reference": "y"}\n' * 2, "too few to split"),
])
def test_init_bad_input_is_exit_2_with_a_fix(tmp_path: Path, capsys, content: bytes, says: str):
    (tmp_path / "invoices.jsonl").write_bytes(content)
    assert _init(tmp_path) == 2
    err = capsys.readouterr().err
    assert says in err and "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()


def _tickets(count: int = 40) -> list[dict[str, str]]:
    """Rows as a spreadsheet holds them: commas, quotes and a line break inside cells."""
    return [{"id": f"t-{i:03d}", "text": f'Order {i}, "urgent": the parcel, box {i * 7}, broke'
             + ("\nsecond line" if i == 5 else ""), "label": ("refund", "bug", "other")[i % 3]}
            for i in range(count)]


def _delimited(rows: list[dict[str, str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()  # csv's own \r\n line ends, as a spreadsheet export has them


def _init_file(tmp_path: Path, name: str, content: bytes, *extra: str) -> int:
    (tmp_path / name).write_bytes(content)
    return main(["init", str(tmp_path / name), "--dir", str(tmp_path / "p"), "--no-tokenizer",
                 "--yes", "--model", "unused-model", *extra])


@pytest.mark.parametrize("name, encode, says", [
    ("tickets.csv", lambda rows: _delimited(rows).encode("utf-8-sig"),  # Excel's BOM
     "read tickets.csv as CSV: 40 rows, columns id, text, label"),
    ("tickets.tsv", lambda rows: _delimited(rows, "\t").encode(),
     "read tickets.tsv as TSV: 40 rows, columns id, text, label"),
    ("tickets.csv", lambda rows: _delimited(rows, ";").encode(),
     "read tickets.csv as CSV (semicolon-separated): 40 rows, columns id, text, label"),
    ("tickets.jsonl", lambda rows: _delimited(rows).encode(),
     "read tickets.jsonl as CSV (its content is comma-separated with a header row"),
    ("tickets.json", lambda rows: json.dumps(rows, indent=2).encode(),
     "read tickets.json as one JSON array of 40 objects (not JSON lines)"),
])
def test_init_reads_csv_tsv_and_a_json_array(tmp_path: Path, capsys, monkeypatch, name, encode,
                                             says):
    rows = _tickets()
    assert _init_file(tmp_path, name, encode(rows)) == 0
    out = capsys.readouterr().out
    assert f"note: {says}" in out
    assert "the project's data files are written as JSON lines, which suites read" in out
    root = tmp_path / "p"
    written = [json.loads(line) for part in ("heldout", "train")
               for line in (root / "data" / f"{part}.jsonl").read_text("utf-8").splitlines()]
    assert sorted(written, key=lambda r: r["id"]) == rows  # every cell as the file holds it
    suite = yaml.safe_load((root / "suites" / "tickets.yaml").read_text())
    assert (suite["id_field"], suite["input"]) == ("id", "{text}")
    assert suite["criteria"][0]["reference"] == "label"
    monkeypatch.chdir(root)
    from evalgate.project.check import check_project
    from evalgate.project.config import load_project
    assert next(f for f in check_project(load_project()) if f.what == "suite").ok


@pytest.mark.parametrize("content, says", [
    (b"", "tickets.csv: the examples file is empty"),
    (b"text,label\r\n",
     "tickets.csv:1: the CSV file has a header row (columns text, label) but no examples"),
    ("text,label\nŞikayet: ürün kırık,iade\n".encode("cp1254"),
     "tickets.csv:2: not UTF-8 text: byte 0xDE"),
    (b"text,label\nhello,x\n\"hi\nthere\",y\nhello, world,z\n",
     "tickets.csv:5: this row has 3 fields, but the header has 2 (text, label)"),
    (b"text,label\nhello,x\nhello\n", "tickets.csv:3: this row has 1 field"),
    (b'text,label\nhello,x\n"hello, world,y\nfoo,bar\n',
     "tickets.csv:3: unreadable CSV: a quoted field that starts in the row on line 3 is never"),
    (b"text,label,text\na,b,c\n", "tickets.csv:1: column 'text' appears twice in the header"),
    (b"text,,label\na,b,c\n", "tickets.csv:1: column 2 of the header has no name"),
])
def test_init_bad_csv_is_exit_2_naming_the_line(tmp_path: Path, capsys, content: bytes,
                                                says: str):
    assert _init_file(tmp_path, "tickets.csv", content) == 2
    err = capsys.readouterr().err
    assert says in err and "fix:" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()


def test_init_says_why_half_json_references_get_exact_match(tmp_path: Path, capsys,
                                                            monkeypatch):
    lines = []
    for i in range(40):  # lines 1-12 objects, 13-14 JSON strings, 15-40 plain text
        reference: object = {"intent": ("refund", "bug")[i % 2], "order": i} if i < 12 else (
            json.dumps({"intent": "bug", "order": i}) if i < 14 else f"refund order {i}")
        if i == 20:
            reference = "{'intent': 'bug'}"  # str() of a dict: looks like an object, is not
        lines.append(json.dumps({"text": f"ticket {i}: order {i * 13} broke", "reference":
                                 reference}))
    (tmp_path / "invoices.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    assert _init(tmp_path) == 0
    out = capsys.readouterr().out
    assert ("note: 14 of 40 references ('reference') are JSON objects and 26 are plain text; "
            "exact match was chosen") in out
    assert "JSON objects: invoices.jsonl lines 1, 2, 3, 4, 5 and 9 more." in out
    assert "Plain text: invoices.jsonl lines 15, 16, 17, 18, 19 and 21 more." in out
    assert ("1 of them starts with '{' but is not valid JSON (first: invoices.jsonl line 21: "
            "Expecting property name enclosed in double quotes") in out
    assert "it reads as a Python dict: write references with json.dumps" in out
    assert ("make every reference a JSON object (or a string holding one) and run init again "
            "with --force") in out
    root = tmp_path / "p"
    suite = yaml.safe_load((root / "suites" / "invoices.yaml").read_text())
    assert [c["name"] for c in suite["criteria"]] == ["exact"]
    assert not (root / "suites" / "schemas").exists()
    # The object references are written as the text exact match compares, so the suite loads.
    written = [json.loads(line) for part in ("heldout", "train")
               for line in (root / "data" / f"{part}.jsonl").read_text("utf-8").splitlines()]
    assert all(isinstance(row["reference"], str) for row in written)
    monkeypatch.chdir(root)
    from evalgate.project.check import check_project
    from evalgate.project.config import load_project
    assert next(f for f in check_project(load_project()) if f.what == "suite").ok


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
