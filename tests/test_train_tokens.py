"""Loss masks and prompts: the answer's EOS carries loss, prompt tokens do not, and the trained
prompt is token for token the prompt `evalgate eval` serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalgate.eval.run import render_prompt
from evalgate.project.config import load_project
from evalgate.train import plan_run
from evalgate.train.data import IGNORE
from evalgate.train.sft import build_sft_trainer
from evalgate.train.tokens import ChatTokens
from evalgate.util.overlap import holdout_split
from tests.train_helpers import write_train_project


@pytest.fixture()
def plan(tmp_path: Path, tiny_model_dir: Path):
    config = write_train_project(tmp_path, tiny_model_dir)
    return plan_run(config, load_project(tmp_path / "evalgate.yaml"))


def test_answer_and_its_eos_carry_loss_prompt_tokens_do_not(plan):
    tokenizer = plan.tokens.tokenizer
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in plan.tokens.eos_ids
    for example, (ids, labels) in zip(plan.pool.member_examples(), plan.sft_rows):
        served = tokenizer(render_prompt(tokenizer, example.prompt),
                           add_special_tokens=False)["input_ids"]
        assert ids[:len(served)] == served  # the served prompt, token for token
        assert labels[:len(served)] == [IGNORE] * len(served)
        answer = labels[len(served):]
        assert answer == ids[len(served):] and IGNORE not in answer
        assert answer[-1] == im_end and ids[-1] == im_end  # ends at the EOS, which has loss
        assert tokenizer.decode(answer) == example.answer + "<|im_end|>"
        assert example.answer.startswith('{"intent": ')  # objects written as one-line JSON


def test_trl_keeps_our_labels_through_collation(plan, tmp_path):
    trainer = build_sft_trainer(plan.config, plan.resolved, plan.hw, plan.tokens.tokenizer,
                                plan.sft_rows[:4], tmp_path / "ck")
    assert [list(r) for r in trainer.train_dataset["labels"]] == [lab for _, lab in
                                                                  plan.sft_rows[:4]]
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    im_end = plan.tokens.tokenizer.convert_tokens_to_ids("<|im_end|>")
    for row, (ids, labels) in zip(batch["labels"].tolist(), plan.sft_rows[:4]):
        assert row[:len(labels)] == labels and row[len(ids) - 1] == im_end
        assert set(row[len(labels):]) <= {IGNORE}  # padding carries no loss


def test_every_assistant_turn_is_learned_in_a_conversation(tiny_model_dir: Path):
    tokens = ChatTokens.load(tiny_model_dir)
    tokenizer = tokens.tokenizer
    conversation = [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Where is ORD-123456?"},
                    {"role": "assistant", "content": "On its way."},
                    {"role": "user", "content": "And the other one?"},
                    {"role": "assistant", "content": "Delivered."}]
    ids, labels = tokens.sft_tokens(conversation)
    learned = tokenizer.decode([t for t in labels if t != IGNORE])
    assert learned == "On its way.<|im_end|>Delivered.<|im_end|>"
    full = tokenizer.apply_chat_template(conversation, tokenize=False)
    assert tokenizer.decode(ids) == full.rstrip("\n")  # the whole chat, ending at the last EOS
    second_prompt = render_prompt(tokenizer, conversation[:4])
    assert tokenizer.decode(ids).startswith(second_prompt)


def test_holdout_split_is_seeded_and_disjoint():
    ids = [f"r{i}" for i in range(50)]
    members, non_members = holdout_split(ids, 0.2, seed=3)
    assert len(non_members) == 10 and not set(members) & set(non_members)
    assert sorted(members + non_members) == sorted(ids)
    assert holdout_split(ids, 0.2, seed=3) == (members, non_members)
    assert holdout_split(ids, 0.2, seed=4) != (members, non_members)


def test_plan_records_members_and_non_members(plan):
    pool = plan.pool
    assert len(pool.non_members) == 6 and len(pool.members) == 18
    assert len(plan.sft_rows) == len(pool.members)
    assert set(pool.members) | set(pool.non_members) == set(pool.examples)
