"""Training runs on the tiny model: what trains and what does not, the manifest's promises,
reuse of a finished run, and resume after Ctrl-C or a kill."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import TrainerCallback

from evalgate.errors import ConfigError
from evalgate.models.loading import adapter_sha256
from evalgate.project.config import load_project
from evalgate.suite.load import load_suite
from evalgate.train import Interrupted, execute, plan_run
from evalgate.train.sft import build_sft_trainer
from evalgate.util.files import sha256_file, sha256_text
from tests.train_helpers import write_train_project

SFT4 = {"sft": {"max_steps": 4, "batch_size": 4, "learning_rate": 0.01, "max_length": 128,
                "save_steps": 2}}


def _plan(root: Path, model: Path, **overrides):
    config = write_train_project(root, model, overrides=overrides)
    return plan_run(config, load_project(root / "evalgate.yaml"))


class Steps(TrainerCallback):
    """Records the global step at the end of every step this session ran."""

    def __init__(self):
        self.steps = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


class KillAt(TrainerCallback):
    """A crash or kill -9: training dies mid-run without saving anything more."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt("killed")


class CtrlCAt(TrainerCallback):
    """A real SIGINT to this process, as a user's Ctrl-C would send."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def test_lora_weights_change_and_base_weights_do_not(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir)
    trainer = build_sft_trainer(plan.config, plan.resolved, plan.hw, plan.tokens.tokenizer,
                                plan.sft_rows, tmp_path / "ck")
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    lora = [n for n in before if "lora_" in n]
    assert lora and all(trainer.model.get_parameter(n).requires_grad for n in lora)
    assert all(not p.requires_grad for n, p in trainer.model.named_parameters()
               if "lora_" not in n)
    # all-linear: every projection of every layer carries an adapter, the head does not
    assert len([n for n in lora if "lora_A" in n]) == 2 * 7
    trainer.train()
    after = dict(trainer.model.named_parameters())
    assert all(not torch.equal(before[n], after[n]) for n in lora if "lora_B" in n)
    assert all(torch.equal(before[n], after[n]) for n in before if "lora_" not in n)


def test_run_writes_adapter_and_manifest_with_the_promised_hashes(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, canaries={"count": 2, "repetitions": [2]})
    outcome = execute(plan)
    run_dir = plan.run_dir
    assert run_dir.name.startswith("tiny-") and not outcome.reused
    assert not (run_dir / "checkpoints").exists()
    sft = run_dir / "sft"
    assert (sft / "adapter_model.safetensors").is_file() and (sft / "adapter_config.json").is_file()
    assert not list(sft.glob("*.bin")) and not list(sft.glob("*.pt"))  # safetensors only
    manifest = json.loads((run_dir / "manifest.json").read_text())
    root = tmp_path
    assert manifest["run_id"] == plan.run_id and manifest["adapter"] == "sft"
    assert manifest["base_model"]["identity"] == plan.resolved.identity
    assert manifest["data"]["sha256"] == sha256_file(root / "training/data/train.jsonl")
    assert manifest["data"]["non_members"] == list(plan.pool.non_members)
    assert manifest["data"]["members"] == list(plan.pool.members)
    assert manifest["chat_template_sha256"] == sha256_text(plan.tokens.tokenizer.chat_template)
    stage = manifest["stages"]["sft"]
    assert stage["adapter_sha256"] == adapter_sha256(sft)
    assert stage["files"]["adapter_model.safetensors"] == sha256_file(
        sft / "adapter_model.safetensors")
    assert [m["step"] for m in stage["metrics"]] == [1, 2, 3]
    assert all(isinstance(m["loss"], float) and "learning_rate" in m for m in stage["metrics"])
    assert stage["tokens"] > 0 and stage["seconds"] > 0
    suite = load_suite(root / "suites/tiny.yaml")
    assert manifest["suites"]["tiny"]["config_sha256"] == suite.config_sha256
    assert manifest["suites"]["tiny"]["criteria"] == dict(suite.fingerprints)
    assert manifest["seeds"]["seed"] == 7
    assert manifest["config"]["sft"]["max_steps"] == 3 and manifest["config"]["lora"]["r"] == 4
    for library in ("torch", "transformers", "trl", "peft", "bitsandbytes", "evalgate"):
        assert manifest["versions"][library]
    assert "git" in manifest  # null outside a git checkout, as here
    assert [(c["secret"], c["repetitions"]) for c in manifest["canaries"]["items"]] == [
        (c.canary.secret, 2) for c in plan.canaries]
    assert manifest["pii"] == {"policy": "warn", "found": {}, "rows": 0}
    # adapters/<name> points at the newest finished run of the config
    assert (root / "adapters" / "tiny").is_symlink()
    assert (root / "adapters" / "tiny").resolve() == run_dir.resolve()


def test_trained_adapter_is_served_by_a_system_yaml(tmp_path, tiny_model_dir, monkeypatch):
    from evalgate.cli.main import main

    plan = _plan(tmp_path, tiny_model_dir)
    execute(plan)
    system = yaml.safe_load((tmp_path / "systems/tiny_adapter.yaml").read_text())
    system.update(name="tiny_trained", adapter="../adapters/tiny/sft")
    (tmp_path / "systems/tiny_trained.yaml").write_text(yaml.safe_dump(system))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVALGATE_HOME", str(tmp_path / "home"))
    code = main(["eval", "--suite", "suites/tiny.yaml", "--system", "systems/tiny_trained.yaml"])
    assert code in (0, 1)
    [record] = (tmp_path / "reports/runs/tiny").glob("tiny_trained-*.json")
    system_record = json.loads(record.read_text())["system"]
    manifest = json.loads((plan.run_dir / "manifest.json").read_text())
    assert system_record["adapter_sha256"] == manifest["stages"]["sft"]["adapter_sha256"]
    assert system_record["adapter"] == f"adapters/{plan.run_id}/sft"


def test_finished_run_is_reused_without_work(tmp_path, tiny_model_dir, monkeypatch):
    plan = _plan(tmp_path, tiny_model_dir)
    first = execute(plan)
    manifest = (plan.run_dir / "manifest.json").read_text()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("evalgate.train.run.build_sft_trainer", no_training)
    monkeypatch.setattr("evalgate.train.runtime.load_model", no_training)
    again = execute(plan_run(plan.config_path, plan.project))  # a fresh plan: the same run id
    assert again.reused and again.plan.run_id == first.plan.run_id
    assert (plan.run_dir / "manifest.json").read_text() == manifest
    assert again.stages[0].adapter_sha256 == first.stages[0].adapter_sha256


def test_ctrl_c_checkpoints_and_resume_continues_to_the_same_adapter(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path / "a", tiny_model_dir, **SFT4)
    with pytest.raises(Interrupted) as stopped:
        execute(plan, callbacks=[CtrlCAt(1)])
    # The step in flight finished, then a checkpoint was written at the next step end.
    assert stopped.value.step == 2
    assert (plan.run_dir / "checkpoints/sft/checkpoint-2").is_dir()
    assert not (plan.run_dir / "sft").exists() and not (plan.run_dir / "manifest.json").exists()

    with pytest.raises(ConfigError, match="--resume"):
        execute(plan)
    steps = Steps()
    outcome = execute(plan, resume=True, callbacks=[steps])
    assert steps.steps == [3, 4]  # continued, not restarted
    stage = outcome.stages[0]
    assert stage.resumed_from_step == 2 and stage.steps == 4
    assert [m["step"] for m in stage.metrics] == [1, 2, 3, 4]

    # Same config trained without interruption: the resumed adapter is the same.
    fresh = _plan(tmp_path / "b", tiny_model_dir, **SFT4)
    assert fresh.run_id == plan.run_id
    execute(fresh)
    resumed = load_file(plan.run_dir / "sft/adapter_model.safetensors")
    straight = load_file(fresh.run_dir / "sft/adapter_model.safetensors")
    assert resumed.keys() == straight.keys()
    for name in resumed:
        torch.testing.assert_close(resumed[name], straight[name], rtol=1e-5, atol=1e-6)


def test_kill_resumes_from_the_last_periodic_checkpoint(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, **SFT4)
    with pytest.raises(KeyboardInterrupt):
        execute(plan, callbacks=[KillAt(3)])
    assert (plan.run_dir / "checkpoints/sft/checkpoint-2").is_dir()
    steps = Steps()
    outcome = execute(plan, resume=True, callbacks=[steps])
    assert steps.steps == [3, 4] and outcome.stages[0].resumed_from_step == 2


def test_restart_discards_an_unfinished_run(tmp_path, tiny_model_dir):
    plan = _plan(tmp_path, tiny_model_dir, **SFT4)
    with pytest.raises(KeyboardInterrupt):
        execute(plan, callbacks=[KillAt(3)])
    steps = Steps()
    execute(plan, restart=True, callbacks=[steps])
    assert steps.steps == [1, 2, 3, 4]


def test_qlora_trains_adapters_on_a_frozen_double_quantised_nf4_base(tmp_path, tiny_model_dir):
    import bitsandbytes as bnb

    plan = _plan(tmp_path, tiny_model_dir, quantization="nf4", dtype="auto",
                 gradient_checkpointing=True)
    trainer = build_sft_trainer(plan.config, plan.resolved, plan.hw, plan.tokens.tokenizer,
                                plan.sft_rows, tmp_path / "ck")
    layers = [m for m in trainer.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 2 * 7
    state = layers[0].weight.quant_state
    assert state.quant_type == "nf4" and state.nested  # double quantisation
    packed = {n: p.detach().clone() for n, p in trainer.model.named_parameters()
              if p.dtype == torch.uint8}
    lora = {n: p.detach().clone() for n, p in trainer.model.named_parameters()
            if "lora_B" in n}
    trainer.train()
    params = dict(trainer.model.named_parameters())
    assert packed and all(torch.equal(params[n], w) for n, w in packed.items())
    assert all(not torch.equal(params[n], w) for n, w in lora.items())
