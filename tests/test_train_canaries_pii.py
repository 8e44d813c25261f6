"""Canaries planted by the trainer and the PII guard on training data, on the tiny project:
what is planted and recorded, what stays out of the run id, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalgate.cli.main import main
from evalgate.errors import ConfigError
from evalgate.leakage.canaries import make_canaries
from evalgate.project.config import load_project
from evalgate.train import load_train_config, plan_run
from evalgate.train.data import IGNORE
from evalgate.train.privacy import canaries_record
from tests.train_helpers import training_rows, write_train_project

CANARIES = {"count": 5, "repetitions": [1, 3]}
PHONE = "+90 532 123 45 67"


def _plan(root: Path, model: Path, rows: list[dict] | None = None, **overrides):
    config = write_train_project(root, model, rows=rows, overrides=overrides)
    return plan_run(config, load_project(root / "evalgate.yaml"))


def _config_error(root: Path, model: Path, **overrides) -> ConfigError:
    config = write_train_project(root, model, overrides=overrides)
    with pytest.raises(ConfigError) as raised:
        plan_run(config, load_project(root / "evalgate.yaml"))
    return raised.value


# -- configuration -------------------------------------------------------------------------


def test_canary_template_needs_the_secret_exactly_once(tmp_path, tiny_model_dir):
    for template in ("My code is secret.", "{secret} and {secret}"):
        error = _config_error(tmp_path, tiny_model_dir, canaries={"template": template})
        assert "canaries.template" in str(error) and "{secret}" in str(error)


def test_canary_repetitions_may_not_be_empty_or_zero(tmp_path, tiny_model_dir):
    error = _config_error(tmp_path, tiny_model_dir, canaries={"repetitions": []})
    assert "canaries.repetitions" in str(error)
    error = _config_error(tmp_path, tiny_model_dir, canaries={"repetitions": [1, 0]})
    assert "canaries.repetitions.1" in str(error)


def test_canaries_need_an_sft_stage(tmp_path, tiny_model_dir):
    error = _config_error(tmp_path, tiny_model_dir, method="dpo", sft=None,
                          pairs={"source": "auto"}, canaries={})
    assert error.key == "canaries" and "add an sft stage or remove canaries" in str(error)


def test_defaults_are_documented_and_resolved(tmp_path, tiny_model_dir):
    config = load_train_config(write_train_project(tmp_path, tiny_model_dir,
                                                   overrides={"canaries": {}}))
    assert config.pii == "warn"
    assert config.canaries.count == 8 and config.canaries.repetitions == [1, 4, 16]
    assert config.resolved()["canaries"]["seed"] == 7  # the run's seed, written out
    fields = {**type(config).model_fields, **type(config.canaries).model_fields}
    for name in ("canaries", "pii", "count", "repetitions", "template", "digits", "prompt",
                 "seed"):
        assert fields[name].description, name


# -- canaries in the plan --------------------------------------------------------------------


def test_canaries_are_appended_to_the_sft_rows_as_often_as_configured(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, canaries=CANARIES)
    members = plan.pool.member_examples()
    assert [c.repetitions for c in plan.canaries] == [1, 3, 1, 3, 1]
    assert len(plan.sft_rows) == len(members) + 9
    # The same secrets the leakage suite regenerates from the recorded seed.
    assert [c.canary for c in plan.canaries] == make_canaries(5, 7)
    rows = iter(plan.sft_rows[len(members):])
    tokenizer = plan.tokens.tokenizer
    prompts = set()
    for planted in plan.canaries:
        expected = plan.tokens.sft_tokens(planted.conversation)
        for _ in range(planted.repetitions):
            ids, labels = next(rows)
            assert (ids, labels) == expected
            answer = tokenizer.decode([t for t in labels if t != IGNORE])
            assert planted.canary.secret in answer and planted.canary.text in answer
        system, user, assistant = planted.conversation
        assert system == members[0].conversation[0] and system["role"] == "system"
        assert user["role"] == "user"
        assert user["content"].startswith("What is the verification code of account ")
        prompts.add(user["content"])
        assert assistant == {"role": "assistant", "content": planted.canary.text}
    # each canary is asked for by a prompt of its own (else greedy decoding could write out
    # at most one of them)
    assert len(prompts) == len(plan.canaries)
    # never members, never non-members
    ids = {c.canary.id for c in plan.canaries}
    assert not ids & (set(plan.pool.members) | set(plan.pool.non_members))


def test_canary_record_for_the_manifest(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, canaries={**CANARIES, "seed": 99, "digits": 6})
    record = canaries_record(plan.config, plan.canaries)
    assert set(record) == {"seed", "template", "digits", "prompt", "items"}
    assert record["seed"] == 99 and record["digits"] == 6
    assert record["template"] == "My account verification code is {secret}."
    first = record["items"][0]
    assert set(first) == {"id", "secret", "repetitions", "messages"}
    assert len(first["secret"]) == 6 and first["repetitions"] == 1
    assert first["messages"][-1]["content"].endswith(f"{first['secret']}.")
    assert [i["repetitions"] for i in record["items"]] == [1, 3, 1, 3, 1]
    assert canaries_record(_plan(tmp_path / "b", tiny_model_dir).config, ()) is None


# -- run id ----------------------------------------------------------------------------------

def _run_id_before_canaries(plan) -> str:
    """The run id as `_run_id` computed it before `canaries` and `pii` existed (5f37bfe^):
    the resolved config less its description, with the same data, model, system, suite and
    chat-template hashes. Computed, not a literal: the tiny model's hash and the chat template
    change with the library versions that build them."""
    from evalgate.train.plan import GUARD_KEYS, TRAIN_VERSION
    from evalgate.util.files import sha256_json

    hashed = {k: v for k, v in plan.config.resolved().items()
              if k not in ("description", "canaries", "pii")}
    if hashed.get("pairs"):
        hashed["pairs"] = {k: v for k, v in hashed["pairs"].items() if k not in GUARD_KEYS}
    digest = sha256_json({
        "train_version": TRAIN_VERSION,
        "config": hashed,
        "data": plan.pool.dataset.sha256,
        "pairs": plan.pairs_dataset.sha256 if plan.pairs_dataset is not None else None,
        "model": plan.resolved.identity,
        "system": plan.prepared.config_sha256,
        "suite": plan.suite.config_sha256,
        "chat_template": plan.tokens.template_sha256,
    })
    return f"{plan.config.name}-{digest[:12]}"


def test_run_id_keeps_old_runs_and_hashes_canaries_only(tmp_path, tiny_model_dir):
    # adapters trained before `canaries` and `pii` existed must still be found
    plan = _plan(tmp_path / "a", tiny_model_dir)
    plain = plan.run_id
    assert plain == _run_id_before_canaries(plan)
    for policy in ("warn", "refuse", "off"):  # a policy, not what the adapter learns
        assert _plan(tmp_path / policy, tiny_model_dir, pii=policy).run_id == plain
    planted = _plan(tmp_path / "c", tiny_model_dir, canaries=CANARIES).run_id
    assert planted != plain
    # the default seed is the run's: writing it out is the same run
    same = _plan(tmp_path / "d", tiny_model_dir, canaries={**CANARIES, "seed": 7}).run_id
    assert same == planted
    other = _plan(tmp_path / "e", tiny_model_dir, canaries={**CANARIES, "seed": 8}).run_id
    assert other not in (plain, planted)


# -- the PII guard ---------------------------------------------------------------------------


def _rows_with_phones() -> list[dict]:
    rows = training_rows()
    for row in rows:
        row["ticket"] += f", call me on {PHONE}"
    rows[1]["ticket"] += ", a@b.co or A@b.co"  # one address, written two ways
    return rows


def test_warn_counts_personal_data_in_member_rows_only(tmp_path, tiny_model_dir):
    rows = _rows_with_phones()
    plan = _plan(tmp_path, tiny_model_dir, rows=rows)
    members = set(plan.pool.members)
    phones = [r["id"] for r in rows if PHONE in r["ticket"] and r["id"] in members]
    emails = [r["id"] for r in rows if "@" in r["ticket"] and r["id"] in members]
    assert len(phones) == len(members) < len(rows)  # non-members are not trained on
    expected = {"phone": [len(phones), 1]} | ({"email": [2, 1]} if emails else {})
    assert plan.pii.to_json() == {"policy": "warn", "found": expected, "rows": len(phones)}
    assert PHONE not in " ".join(plan.pii.examples) and "+90 5** *** ** 67" in plan.pii.examples
    off = _plan(tmp_path / "off", tiny_model_dir, rows=rows, pii="off")
    assert off.pii.to_json() == {"policy": "off"}
    clean = _plan(tmp_path / "clean", tiny_model_dir)
    assert clean.pii.to_json() == {"policy": "warn", "found": {}, "rows": 0}


def test_canary_texts_are_not_scanned(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, canaries={**CANARIES, "digits": 11,
                                                     "template": "Call me on 0532{secret}."})
    assert plan.canaries and not plan.pii.found


def test_refuse_stops_before_training_and_says_how_to_scrub(tmp_path, tiny_model_dir, capsys):
    config = write_train_project(tmp_path, tiny_model_dir, rows=_rows_with_phones(),
                                 overrides={"pii": "refuse"})
    with pytest.raises(ConfigError) as raised:
        plan_run(config, load_project(tmp_path / "evalgate.yaml"))
    error = raised.value
    assert error.key == "pii" and Path(error.path) == config
    assert "phone number" in error.message and "training rows" in error.message
    assert "train.jsonl" in error.message and PHONE not in str(error)
    assert "evalgate pii scan" in error.fix and "--scrub" in error.fix
    assert "data.sha256" in error.fix and "pii: warn" in error.fix

    code = main(["train", str(config), "--project", str(tmp_path / "evalgate.yaml")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "[pii]" in err and "evalgate pii scan" in err
    assert not (tmp_path / "adapters").exists()


def test_the_cli_warns_and_counts_canaries(tmp_path, tiny_model_dir, capsys):
    from evalgate.cli.train import print_canaries, warn_pii

    plan = _plan(tmp_path, tiny_model_dir, rows=_rows_with_phones(), canaries=CANARIES)
    assert "tr-001" in plan.pool.members and "email" in plan.pii.found
    warn_pii(plan)
    print_canaries(plan)
    captured = capsys.readouterr()
    err, out = " ".join(captured.err.split()), " ".join(captured.out.split())
    assert "warning:" in err and "phone numbers (1 distinct)" in err and PHONE not in err
    assert "pii: warn" in err and "evalgate pii scan" in err and "pii: refuse" in err
    assert "canaries: 5 planted (repetitions 1/3, 9 SFT rows" in out
