"""DPO on the SFT adapter: the reference is the SFT policy (not the base model), it stays frozen
while the policy trains, and automatically built on-policy pairs are recorded."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from evalgate.models.loading import ModelSettings, load_model
from evalgate.project.config import load_project
from evalgate.train import execute, plan_run
from evalgate.train.data import Pair
from evalgate.train.preference import build_preference_trainer
from evalgate.util.files import sha256_file
from tests.train_helpers import write_train_project

DPO = {"method": "sft+dpo", "pairs": {"source": "auto"},
       # A large SFT step size moves the SFT policy far from the base model, so a reference
       # that silently fell back to the base would be caught.
       "sft": {"max_steps": 4, "batch_size": 4, "learning_rate": 0.05, "max_length": 128},
       "dpo": {"max_steps": 2, "batch_size": 4, "learning_rate": 0.01, "max_length": 128,
               "beta": 0.1}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("dpo")
    config = write_train_project(root, tiny_model_dir, overrides=DPO)
    plan = plan_run(config, load_project(root / "evalgate.yaml"))
    return plan, execute(plan)


def _completion_logps(model, batch) -> torch.Tensor:
    """Sum of log p(token) over completion tokens, computed here from the batch alone."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"],
                       attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    targets = batch["input_ids"][:, 1:]
    logps = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
    return (logps * batch["completion_mask"][:, 1:]).sum(-1)


def _dpo_on_sft(plan, pairs_count: int, folder):
    """A DPO trainer on the finished SFT adapter, with `pairs_count` gold-vs-wrong pairs."""
    sft_dir = plan.run_dir / "sft"
    pairs = [Pair(e.id, tuple(e.prompt), e.answer, '{"intent": "refund"}')
             for e in plan.pool.member_examples()[:pairs_count]]
    return sft_dir, build_preference_trainer("dpo", plan.config, plan.resolved, plan.hw,
                                             plan.tokens, pairs, sft_dir, folder / "ck")


def test_reference_log_probs_are_the_sft_policys(trained, tmp_path):
    plan, _ = trained
    sft_dir, trainer = _dpo_on_sft(plan, 4, tmp_path)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    ref_chosen, ref_rejected = trainer.compute_ref_log_probs(trainer.model, batch)
    reference = torch.cat([ref_chosen, ref_rejected])

    settings = ModelSettings(dtype="float32", quantization="none", device="cpu")
    sft = load_model(plan.resolved, settings, sft_dir).model
    base = load_model(plan.resolved, settings).model
    torch.testing.assert_close(reference, _completion_logps(sft, batch), rtol=1e-4, atol=1e-3)
    # The SFT policy is far from the base here, so falling back to the base would fail above.
    assert (reference - _completion_logps(base, batch)).abs().max() > 1.0


def test_reference_stays_frozen_while_the_policy_trains(trained, tmp_path):
    plan, _ = trained
    sft_dir, trainer = _dpo_on_sft(plan, 8, tmp_path)
    trainer.train()
    saved = load_file(sft_dir / "adapter_model.safetensors")
    params = dict(trainer.model.named_parameters())
    moved = 0
    for name, weight in saved.items():
        stem = name.removesuffix(".weight")
        reference = params[f"{stem}.ref.weight"]
        policy = params[f"{stem}.default.weight"]
        assert not reference.requires_grad
        torch.testing.assert_close(reference.detach(), weight)
        moved += not torch.equal(policy.detach(), weight)
    assert moved == len(saved)


def test_auto_pairs_are_on_policy_failures_and_recorded(trained):
    plan, outcome = trained
    manifest = json.loads((plan.run_dir / "manifest.json").read_text())
    pairs = manifest["pairs"]
    assert pairs["source"] == "auto" and pairs["negatives"] == "policy"
    assert pairs["count"] == len(pairs["ids"]) > 0
    assert set(pairs["ids"]) <= set(plan.pool.members)
    assert not set(pairs["ids"]) & set(plan.pool.non_members)
    assert pairs["sha256"] == sha256_file(plan.run_dir / "pairs.jsonl")
    rows = [json.loads(line) for line in (plan.run_dir / "pairs.jsonl").read_text().splitlines()]
    examples = plan.pool.examples
    for row in rows:
        assert row["chosen"] == examples[row["id"]].answer and row["rejected"] != row["chosen"]
        assert row["failed"]  # each rejected answer failed at least one suite criterion
    assert manifest["adapter"] == "dpo" and list(manifest["stages"]) == ["sft", "dpo"]
    dpo = manifest["stages"]["dpo"]
    assert [m["step"] for m in dpo["metrics"]] == [1, 2]
    assert all("rewards/margins" in m for m in dpo["metrics"])
    assert outcome.adapter_dir == plan.run_dir / "dpo"
    assert (plan.run_dir / "dpo/adapter_model.safetensors").is_file()
    # The saved DPO adapter is the policy only: TRL's frozen "ref" copy is not in it.
    assert not any(".ref." in name for name in load_file(
        plan.run_dir / "dpo/adapter_model.safetensors"))
