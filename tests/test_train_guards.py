"""`evalgate train` refuses bad input with exit 2 before any model loads or anything is written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from evalgate.cli.main import main
from evalgate.util.files import sha256_file
from tests.helpers import example_rows
from tests.train_helpers import training_rows, write_train_project


@pytest.fixture()
def no_model(monkeypatch: pytest.MonkeyPatch):
    """Any model load during these tests is a failure: guards must fire before."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the guards finished")

    monkeypatch.setattr("evalgate.train.runtime.load_model", refuse)
    monkeypatch.setattr("evalgate.train.run.load_model", refuse)


def _run(root: Path, config: Path, capsys) -> tuple[int, str]:
    code = main(["train", str(config), "--project", str(root / "evalgate.yaml")])
    err = capsys.readouterr().err
    assert not (root / "adapters").exists(), "nothing may be written on bad input"
    return code, " ".join(err.split())


def _edit(config: Path, **changes) -> None:
    data = yaml.safe_load(config.read_text())
    data.update(changes)
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def test_unknown_key_names_it(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir)
    _edit(config, lora={"rank": 4})
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "lora.rank" in err and "unknown key" in err and "tiny.yaml" in err


def test_dpo_without_pairs_is_impossible(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides={"method": "sft+dpo"})
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "needs preference pairs" in err and "source: auto" in err


def test_pairs_without_a_preference_stage_is_refused(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir,
                                 overrides={"pairs": {"source": "auto"}})
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "no preference stage" in err


def test_missing_field_names_file_and_line(tmp_path, tiny_model_dir, no_model, capsys):
    rows = training_rows()
    del rows[4]["expected"]
    config = write_train_project(tmp_path, tiny_model_dir, rows=rows)
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "train.jsonl:5" in err and "missing field 'expected'" in err


def test_malformed_json_names_the_line(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir)
    data = tmp_path / "training" / "data" / "train.jsonl"
    data.write_text(data.read_text() + "{not json\n")
    _edit(config, data={**yaml.safe_load(config.read_text())["data"],
                        "sha256": sha256_file(data)})
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "train.jsonl:25" in err and "malformed JSON" in err


def test_changed_data_prints_the_new_hash(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir)
    data = tmp_path / "training" / "data" / "train.jsonl"
    data.write_text(data.read_text().replace("Parcel", "Package", 1))
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "data.sha256" in err and sha256_file(data) in err


def test_exact_overlap_with_held_out_names_both_ids(tmp_path, tiny_model_dir, no_model, capsys):
    rows = training_rows()
    rows[3]["ticket"] = "where is my ORDER ord-100002 ?"  # ex-2's ticket, case and punctuation
    config = write_train_project(tmp_path, tiny_model_dir, rows=rows)
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "overlaps held-out suite data" in err
    assert "tr-003 = tiny:ex-2" in err and "data.exclude: [tr-003]" in err


def test_near_duplicate_of_held_out_names_both_ids(tmp_path, tiny_model_dir, no_model, capsys):
    long = ("I ordered a blue kettle three weeks ago and the tracking page has not changed "
            "since Monday, can you tell me where my order is")
    heldout = example_rows()
    heldout[1]["ticket"] = long
    rows = training_rows()
    rows[5]["ticket"] = "Hello team, " + long.replace("Monday", "Tuesday") + " Thanks, Ana"
    config = write_train_project(tmp_path, tiny_model_dir, rows=rows, heldout=heldout)
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "tr-005 ≈ tiny:ex-1" in err and "of 8-grams" in err

    # Left out explicitly (and recorded), the same data passes the guard.
    _edit(config, data={**yaml.safe_load(config.read_text())["data"], "exclude": ["tr-005"]})
    from evalgate.project.config import load_project
    from evalgate.train import plan_run

    plan = plan_run(config, load_project(tmp_path / "evalgate.yaml"))
    assert "tr-005" not in plan.pool.examples and plan.pool.excluded == ("tr-005",)


def test_template_without_eos_in_the_answer_turn(tmp_path, tiny_model_dir, no_model, capsys):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    template = (model / "chat_template.jinja")
    if template.is_file():
        text = template.read_text()
        template.write_text(text.replace("'<|im_end|>' + '\n'", "'\n\n'"))
    else:
        config = json.loads((model / "tokenizer_config.json").read_text())
        config["chat_template"] = config["chat_template"].replace("'<|im_end|>' + '\n'",
                                                                  "'\n\n'")
        (model / "tokenizer_config.json").write_text(json.dumps(config))
    config = write_train_project(tmp_path, model)
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "without an end-of-sequence token" in err and "never learns to stop" in err


def test_sequences_over_max_length_are_refused(tmp_path, tiny_model_dir, no_model, capsys):
    config = write_train_project(tmp_path, tiny_model_dir)
    _edit(config, sft={"max_steps": 1, "max_length": 20})
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "longer than sft.max_length = 20" in err


def test_pairs_file_must_be_pinned_and_keep_non_members_out(tmp_path, tiny_model_dir, no_model,
                                                            capsys):
    config = write_train_project(tmp_path, tiny_model_dir, overrides={"method": "sft+dpo"})
    pairs = tmp_path / "training" / "data" / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": r["id"], "ticket": r["ticket"], "chosen": "a",
                                         "rejected": "b"}) + "\n" for r in training_rows()))
    _edit(config, pairs={"source": "file", "path": "data/pairs.jsonl"})
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "pairs.sha256" in err and sha256_file(pairs) in err

    _edit(config, pairs={"source": "file", "path": "data/pairs.jsonl",
                         "sha256": sha256_file(pairs)})
    code, err = _run(tmp_path, config, capsys)
    assert code == 2 and "pairs use non-member rows" in err


def test_training_refuses_suites_that_differ_from_the_lock(tmp_path, tiny_model_dir, no_model,
                                                           capsys):
    """Criteria come first: once evalgate.lock exists, training against changed suites is
    refused (the first training writes the lock; see test_train_run)."""
    config = write_train_project(tmp_path, tiny_model_dir)
    assert main(["lock", "--project", str(tmp_path)]) == 0
    suite = tmp_path / "suites" / "tiny.yaml"
    data = yaml.safe_load(suite.read_text())
    data["criteria"][0]["min"] = 0.1
    suite.write_text(yaml.safe_dump(data, sort_keys=False))
    capsys.readouterr()
    code, err = _run(tmp_path, config, capsys)
    assert code == 2
    assert "the suites differ from evalgate.lock" in err and "suite 'tiny'" in err
    assert "evalgate lock --update" in err
