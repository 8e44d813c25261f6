"""Bad input through the CLI (issue 11): every case ends as exit 2 with a message naming the file
(and the line or key) and the fix, never a traceback and exit 3, and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.util.files import sha256_file
from tests.helpers import example_rows, write_jsonl, write_project
from tests.train_helpers import training_rows, write_train_project


@pytest.fixture()
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_project(tmp_path, str(tiny_model_dir))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture()
def no_model(monkeypatch: pytest.MonkeyPatch):
    """A model load is a failure: these inputs must be refused before any."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    for target in ("evalgate.eval.run.load_model", "evalgate.train.runtime.load_model",
                   "evalgate.train.run.load_model"):
        monkeypatch.setattr(target, refuse, raising=False)


def _refused(argv: list[str], capsys, root: Path | None = None) -> str:
    """Run the CLI, require exit 2 with a fix line and no traceback; return stderr, one line."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "fix:" in err, err
    if root is not None:
        assert not (root / "reports").exists() and not (root / ".evalgate").exists()
    return " ".join(err.split())


def _pin_suite(root: Path) -> None:
    suite = root / "suites" / "tiny.yaml"
    config = yaml.safe_load(suite.read_text())
    config["sha256"] = sha256_file(root / "suites" / "data" / "heldout.jsonl")
    suite.write_text(yaml.safe_dump(config, sort_keys=False))


def _lines(rows: list[dict]) -> list[bytes]:
    return [json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows]


# -- 1. encodings, empty and huge files ------------------------------------------------------------


def test_suite_data_in_turkish_windows_encoding_names_line_column_and_encoding(project, capsys):
    rows = example_rows()
    rows[3]["ticket"] = "Siparişim ORD-100003 nerede?"
    lines = _lines(rows)
    lines[3] = lines[3].decode().encode("cp1254")  # as Excel or Notepad on a Turkish Windows
    (project / "suites/data/heldout.jsonl").write_bytes(b"".join(lines))
    # The pin no longer matches either: the encoding is what must be fixed first, not the pin.
    err = _refused(["eval"], capsys, project)
    assert "suites/data/heldout.jsonl:4: not UTF-8 text: byte 0xFE at column" in err
    assert "save the file as UTF-8" in err and "Windows-1254 (Turkish)" in err
    assert "Siparişim ORD-100003" in err  # the line as that encoding reads it
    assert "changed" not in err


def test_one_pasted_latin1_line_in_a_utf8_file(project, capsys):
    rows = example_rows()
    rows[0]["ticket"] = "Où est ma commande ?"  # UTF-8 é/ù above the bad line
    rows[2]["ticket"] = "Café order ORD-100002"
    lines = _lines(rows)
    lines[2] = lines[2].decode().encode("latin-1")
    (project / "suites/data/heldout.jsonl").write_bytes(b"".join(lines))
    _pin_suite(project)
    err = _refused(["eval"], capsys, project)
    assert "heldout.jsonl:3: not UTF-8 text: byte 0xE9" in err
    assert "UTF-8 before this byte" in err and "Café order" in err


def test_utf16_data_file_says_so(project, capsys):
    text = "".join(json.dumps(row) + "\n" for row in example_rows())
    (project / "suites/data/heldout.jsonl").write_bytes(text.encode("utf-16"))  # with a BOM
    err = _refused(["eval"], capsys, project)
    assert "heldout.jsonl:1: the file is UTF-16 text" in err and "save the file as UTF-8" in err


def test_utf8_byte_order_mark_is_accepted(project, capsys):
    path = project / "suites/data/heldout.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    _pin_suite(project)
    assert main(["eval"]) == 1  # loaded and run: the random model fails both criteria
    assert "0 hits / 6 misses" in capsys.readouterr().out


@pytest.mark.parametrize("content, what", [(b"", "the file has no bytes"),
                                           (b"\n   \n\r\n\t\n", "the file has only blank lines")])
def test_empty_data_file(project, capsys, content, what):
    (project / "suites/data/heldout.jsonl").write_bytes(content)
    _pin_suite(project)
    err = _refused(["eval"], capsys, project)
    assert f"heldout.jsonl: dataset is empty: {what}" in err


@pytest.mark.parametrize("line, message", [
    ('{"id": "x", "n": 1' + "0" * 5000 + "}", "unreadable JSON: Exceeds the limit"),
    ("[" * 100_000 + "]" * 100_000, "unreadable JSON: nested too deeply"),
])
def test_json_python_cannot_hold_is_a_line_error(project, capsys, line, message):
    (project / "suites/data/heldout.jsonl").write_text(
        '{"id": "a", "ticket": "t", "expected": {}}\n' + line + "\n")
    _pin_suite(project)
    err = _refused(["eval"], capsys, project)
    assert f"heldout.jsonl:2: {message}" in err


def test_a_50_mb_line_loads(project, capsys):
    rows = example_rows()
    rows[2]["ticket"] = "Where is my order? " * (50_000_000 // 19)
    write_jsonl(project / "suites/data/heldout.jsonl", rows)
    _pin_suite(project)
    # It loads (the suite row reads 6 examples), and check then measures it as eval would:
    # 50 MB of text does not fit the window.
    assert main(["check"]) == 2
    captured = capsys.readouterr()
    assert "6 examples" in captured.out
    assert "'ex-2' (line 3, " in captured.err and "do not fit" in captured.err
    assert "Traceback" not in captured.err


def test_yaml_not_utf8_names_the_line(project, capsys):
    suite = project / "suites" / "tiny.yaml"
    suite.write_bytes(b"# r\xe9sum\xe9 of the triage suite\n" + suite.read_bytes())
    err = _refused(["eval"], capsys, project)
    assert "suites/tiny.yaml:1: not UTF-8 text: byte 0xE9 at column 4" in err
    assert "`# résumé of the triage suite`" in err


def test_few_shot_pool_not_utf8(project, capsys):
    pool = project / "baselines" / "pool.jsonl"
    pool.write_bytes(b"".join(_lines([
        {"id": "p-1", "ticket": "Money back please", "expected": {"intent": "refund"}},
        {"id": "p-2", "ticket": "Kargom nerede?", "expected": {"intent": "status"}}]))
        .replace(b"nerede", "nerede ğ".encode("cp1254")))
    (project / "baselines" / "few.yaml").write_text(yaml.safe_dump({
        "name": "few", "kind": "few_shot",
        "prompts": {"tiny": {"system": "Triage.", "user": "Ticket: {input}",
                             "few_shot": {"pool": "pool.jsonl", "k": 1, "input": "{ticket}",
                                          "output": "{expected}"}}}}))
    err = _refused(["eval", "--system", "baselines/few.yaml"], capsys, project)
    assert "baselines/pool.jsonl:2: not UTF-8 text" in err and "Windows-1254" in err


def test_training_data_not_utf8(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir)
    data = tmp_path / "training" / "data" / "train.jsonl"
    rows = training_rows()
    rows[4]["ticket"] = "Paket ulaşmadı"
    lines = _lines(rows)
    lines[4] = lines[4].decode().encode("cp1254")
    data.write_bytes(b"".join(lines))
    err = _refused(["train", str(config), "--project", str(tmp_path)], capsys)
    assert "training/data/train.jsonl:5: not UTF-8 text" in err and "Paket ulaşmadı" in err
    assert not (tmp_path / "adapters").exists()


def test_pairs_file_not_utf8(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides={"method": "sft+dpo"})
    pairs = tmp_path / "training" / "data" / "pairs.jsonl"
    pairs.write_bytes(b"".join(_lines([{"id": r["id"], "ticket": r["ticket"], "chosen": "a",
                                        "rejected": "b"} for r in training_rows()]))
                      .replace(b'"chosen": "a"', '"chosen": "iade başladı"'.encode("cp1254"), 1))
    data = yaml.safe_load(config.read_text())
    data["pairs"] = {"source": "file", "path": "data/pairs.jsonl", "sha256": sha256_file(pairs)}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    err = _refused(["train", str(config), "--project", str(tmp_path)], capsys)
    assert "training/data/pairs.jsonl:1: not UTF-8 text" in err and "iade başladı" in err


# -- 2. an invalid JSON Schema names the place inside it ------------------------------------------


def test_invalid_schema_names_the_json_path_and_value(project, capsys):
    path = project / "suites/schemas/t.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["intent"]["enum"] = "refund"
    path.write_text(json.dumps(schema))
    err = _refused(["eval"], capsys, project)
    assert "t.schema.json [$.properties.intent.enum]: not a valid JSON Schema" in err
    assert "criterion 'schema_valid'" in err
    assert "the value at $.properties.intent.enum, \"refund\", is not of type 'array'" in err
    assert "fix: correct the value at $.properties.intent.enum" in err


def test_invalid_schema_inside_any_of_names_the_deepest_place(project, capsys):
    path = project / "suites/schemas/t.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["order_id"]["type"] = ["string", "nul"]
    path.write_text(json.dumps(schema))
    err = _refused(["eval"], capsys, project)
    assert "[$.properties.order_id.type[1]]" in err and '"nul", is not one of' in err


def test_unknown_schema_draft_is_refused(project, capsys):
    path = project / "suites/schemas/t.schema.json"
    schema = json.loads(path.read_text())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema-typo"
    path.write_text(json.dumps(schema))
    err = _refused(["eval"], capsys, project)
    assert "[$.$schema]: unknown `$schema`" in err


# -- 5. --project takes the folder ----------------------------------------------------------------


def test_project_option_accepts_the_folder(project, capsys, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert main(["eval", "--project", str(project)]) == 1
    assert "0 hits / 6 misses" in capsys.readouterr().out
    assert list((project / "reports").rglob("*.json"))


def test_project_folder_without_evalgate_yaml(project, capsys):
    (project / "empty").mkdir()
    err = _refused(["eval", "--project", "empty"], capsys, project)
    assert "/empty: no evalgate.yaml in this folder" in err
    assert "`evalgate init EXAMPLES.jsonl --dir empty`" in err


def test_project_path_that_does_not_exist(project, capsys):
    err = _refused(["eval", "--project", "nowhere/evalgate.yaml"], capsys, project)
    assert "nowhere/evalgate.yaml: project file not found" in err


# -- 6. a model path that names nothing usable ----------------------------------------------------


def _set_model(root: Path, base: str) -> None:
    config = yaml.safe_load((root / "evalgate.yaml").read_text())
    config["model"]["base"] = base
    (root / "evalgate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def test_missing_model_folder(project, capsys):
    _set_model(project, "./no-such-folder")
    err = _refused(["eval"], capsys, project)
    assert "no-such-folder [model]: model folder not found: './no-such-folder'" in err
    assert "set `model.base` in evalgate.yaml" in err


def test_model_path_naming_a_plain_file(project, capsys, tiny_model_dir):
    _set_model(project, str(tiny_model_dir / "config.json"))
    err = _refused(["eval"], capsys, project)
    assert "is a file, not a model folder or a .gguf file" in err


def test_unreadable_model_folder(project, capsys, monkeypatch):
    # As root chmod does not bite: the weight file refuses to be read the way it would for
    # another user after `chmod 000`.
    def closed(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("evalgate.models.resolve.sha256_file", closed)
    err = _refused(["eval"], capsys, project)
    assert "[model]: cannot read the model" in err and "Permission denied" in err
    assert "chmod -R u+rX" in err


# -- 3. a cache damaged past its first pages ------------------------------------------------------


def _damage_middle(data: bytes) -> bytes:
    return data[:2 * 4096] + bytes([0xA5]) * 4096 + data[3 * 4096:]  # page 3


def _damage_end(data: bytes) -> bytes:
    return data[:-4096] + bytes([0x5A]) * 4096  # the last page


def _truncate(data: bytes) -> bytes:
    return data[:3 * 4096]


@pytest.mark.parametrize("damage", [_damage_middle, _damage_end, _truncate])
def test_damaged_cache_is_refused_untouched_with_a_fix(project, capsys, damage):
    assert main(["eval"]) == 1
    capsys.readouterr()
    cache = project / ".evalgate" / "cache.sqlite"
    assert cache.stat().st_size >= 6 * 4096  # pages 3+ hold tables and rows
    cache.write_bytes(damage(cache.read_bytes()))
    before = cache.read_bytes()
    records = sorted((project / "reports").rglob("*.json"))
    err = _refused(["eval"], capsys)
    assert ".evalgate/cache.sqlite [cache]: cache file is corrupt" in err
    assert f"fix: move {cache} away (or delete it)" in err and "generates again" in err
    assert cache.read_bytes() == before
    assert sorted((project / "reports").rglob("*.json")) == records

    cache.unlink()  # what the fix says: the next run starts a new cache
    assert main(["eval"]) == 1
    assert "0 hits / 6 misses" in capsys.readouterr().out
